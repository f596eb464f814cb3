"""How reproducible is the force-matching CGnet? Where its spread over seeds comes from.

For each CGnet recipe of ``--recipes`` (MEMBERSxWIDTH: ``1x112`` is one network of 112 units
per layer, ``8x112`` the book's ensemble, see ``cgflow.presets``), trains the CGnet of chapter 4
on the 20,000 training frames once per training seed and simulates each model with the book's
parallel tempering (simulation seed 0); simulates the first model again with other simulation
seeds; and scores ground-truth frames cut to the size of a simulation. Every row is scored against all held-out frames: KL(ground truth ||
model) on 60 x 60 bins with empty bins masked (bootstrap error over walkers) and the population
at phi > 0 (standard error over the independent walkers):

- ``training``: one model per training seed: the spread that a reader who changes the seed sees;
- ``simulation``: the first model, other simulation seeds: the noise of the simulation alone;
- ``estimator``: training-block frames in as many contiguous blocks (walkers) of the same
  length as a simulation, drawn at random: the noise of the estimators on exact samples;
- ``data``: the book's recipe (training seed 0) on other draws of 20,000 training frames
  (``presets.training_draw``: of the training-block frames that the book does not train on,
  every 3rd from the 1st, 2nd or 3rd, disjoint from the book's frames and from each other):
  the noise of the data themselves, which every training seed on one draw shares.

``--kinds``, ``--recipes``, ``--seeds``, ``--simulation-seeds`` and ``--data-draws`` run some
of them; the file's rows of every other (recipe, kind, seed) are kept when its settings are
this run's.

Prints the table and writes ``benchmarks/results/cgnet_stability.json``, which chapter 4
reads. Run it on an idle machine; the rows carry their wall times.

    python benchmarks/cgnet_stability.py [--recipes 1x160 1x112 8x112] [--seeds 0 1 2 3 4] [--simulation-seeds 1 2 3]
                                         [--data-draws 1 2 3] [--kinds training simulation estimator data]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from pathlib import Path

import numpy as np
import torch

from cgflow import analysis, data, presets
from cgflow.cgnet import CGNet


KINDS = ("training", "simulation", "estimator", "data")


def recipe_of(text: str) -> tuple[int, int]:
    """``"8x112"`` -> (8 networks, 112 units per layer)."""
    members, _, width = text.partition("x")
    if not (members.isdigit() and width.isdigit()):
        raise argparse.ArgumentTypeError(f"a recipe is MEMBERSxWIDTH, e.g. 8x112, got {text!r}")
    return int(members), int(width)


def name_of(row: dict) -> str:
    members, width = presets.cgnet_recipe(row)
    return "-" if members is None else f"{members}x{width}"


def as_row(recipe: tuple[int, int] | None, kind: str, seed: int, scores: analysis.RamachandranScores, seconds: float, validation_loss=None) -> dict:
    members, width = recipe or (None, None)
    return {
        "members": members,
        "width": width,
        "kind": kind,
        "seed": seed,
        **scores.fields(),
        "seconds": round(seconds, 1),
        "validation_loss": None if validation_loss is None else round(validation_loss, 5),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipes", type=recipe_of, nargs="+", default=[(1, presets.CGNET_WIDTH), (presets.CGNET_MEMBERS, presets.CGNET_WIDTH)],
                        help="CGnets as MEMBERSxWIDTH (networks, units per layer), one recipe each")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4], help="training seeds")
    parser.add_argument("--simulation-seeds", type=int, nargs="+", default=[1, 2, 3], help="extra simulations of the first model")
    parser.add_argument("--estimator-draws", type=int, default=5)
    parser.add_argument("--data-draws", type=int, nargs="+", default=[1, 2, 3], help="other draws of the training frames (1-3)")
    parser.add_argument("--kinds", nargs="+", default=list(KINDS), choices=KINDS)
    parser.add_argument("--output", type=Path, default=presets.BENCHMARK_RESULTS / "cgnet_stability.json")
    args = parser.parse_args()
    dataset = data.load("ala2")
    frames = presets.ala2_frames(dataset)
    reference = analysis.phi_psi(frames.held_out.positions)
    walkers = presets.walkers()
    rows: list[dict] = []

    def report(row: dict) -> None:
        rows.append(row)
        print(f"{name_of(row):>7s} {row['kind']:>10s} {row['seed']:4d} {row['kl']:7.3f} ± {row['kl_error']:.3f}"
              f" {row['alpha_l_percent']:7.2f} ± {row['alpha_l_error']:.2f} {row['seconds']:7.0f}", flush=True)

    def simulate(model: CGNet, seed: int) -> tuple[analysis.RamachandranScores, float]:
        start = time.perf_counter()
        run = presets.cold_frames(model.energy_and_forces, dataset.masses, frames.train.positions, seed)
        assert run.frames.shape[1] == size, "the simulation's frames per walker differ from the preset's"
        scores = analysis.ramachandran_scores(reference, analysis.phi_psi(run.flat()), dataset.temperature, walkers)
        return scores, time.perf_counter() - start

    def train(recipe: tuple[int, int], seed: int, train_frames) -> tuple[CGNet, float, float]:
        config = presets.cgnet_config(dataset.n_beads, dataset.temperature, *recipe)
        model, history = presets.force_match(train_frames.positions, train_frames.positions, train_frames.forces, config, seed,
                                             validation=(frames.valid.positions, frames.valid.forces), progress=False)
        return model, history.seconds, min(history.validation)

    size = presets.cold_frames_per_walker()
    print(f"{'recipe':>7s} {'kind':>10s} {'seed':>4s} {'KL (nats)':>15s} {'phi > 0 (%)':>14s} {'s':>7s}")
    for recipe in args.recipes:
        first = None
        for seed in args.seeds if {"training", "simulation"} & set(args.kinds) else []:
            if first is not None and "training" not in args.kinds:
                break
            model, training_seconds, validation = train(recipe, seed, frames.train)
            if "training" in args.kinds:
                scores, seconds = simulate(model, 0)
                report(as_row(recipe, "training", seed, scores, training_seconds + seconds, validation))
            first = first or model
        for seed in args.simulation_seeds if "simulation" in args.kinds else []:
            scores, seconds = simulate(first, seed)
            report(as_row(recipe, "simulation", seed, scores, seconds))
    for draw in args.data_draws if "data" in args.kinds else []:
        book = (presets.CGNET_MEMBERS, presets.CGNET_WIDTH)
        model, training_seconds, validation = train(book, 0, presets.training_draw(frames, draw))
        scores, seconds = simulate(model, 0)
        report(as_row(book, "data", draw, scores, training_seconds + seconds, validation))
    training_block = analysis.phi_psi(frames.training_block.positions)
    for draw in range(args.estimator_draws) if "estimator" in args.kinds else []:
        scores = analysis.exact_sample_scores(reference, training_block, size, walkers, dataset.temperature, seed=draw)
        report(as_row(None, "estimator", draw, scores, 0.0))
    truth = 100 * np.mean(reference[:, 0] > 0)
    print(f"\nground truth (held out): phi > 0 {truth:.2f} %")
    settings = {
        "n_train": len(frames.train),
        "cgnet": dataclasses.asdict(presets.cgnet_config(dataset.n_beads, dataset.temperature)),
        "training": dataclasses.asdict(presets.cgnet_training()),
        "loss": presets.cgnet_loss(),
        "walkers": walkers,
        "frames_per_walker": size,
        "ground_truth_alpha_l_percent": round(truth, 3),
        "torch_threads": torch.get_num_threads(),
    }
    if args.output.exists():
        previous = json.loads(args.output.read_text())
        if previous["settings"] == settings:
            rerun = {(presets.cgnet_recipe(r), r["kind"], r["seed"]) for r in rows}
            rows = [r for r in previous["rows"] if (presets.cgnet_recipe(r), r["kind"], r["seed"]) not in rerun] + rows
    for recipe in sorted({presets.cgnet_recipe(r) for r in rows}, key=lambda mw: (mw[0] or 0, mw[1] or 0)):
        for kind in KINDS:
            chosen = [r for r in rows if presets.cgnet_recipe(r) == recipe and r["kind"] == kind]
            if chosen:
                kl = [r["kl"] for r in chosen]
                deviation = max(abs(r["alpha_l_percent"] - truth) for r in chosen)
                print(f"{name_of(chosen[0]):>7s} {kind:>10s}: KL {min(kl):.3f}-{max(kl):.3f} (largest/smallest {max(kl) / min(kl):.2f});"
                      f" phi > 0 deviates from the ground truth by at most {deviation:.2f} points")
    presets.save_benchmark_record(args.output, settings, rows)


if __name__ == "__main__":
    main()
