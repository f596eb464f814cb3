"""Flow-matching against force matching at 20,000 frames (Fig. 3b of Köhler et al. 2023), over seeds.

For each seed: trains the teacher (an augmented flow) on the 20,000 training positions, draws its
samples with forces, trains the Flow-CGnet (student) on them plus points spread across the
torsional barriers with the teacher's marginal forces (``presets.flow_matching_set``), and the
force-matching CGnet (baseline) on the same 20,000 frames with their all-atom forces, both with
the book's recipe
(``cgflow.presets``: same prior, same network, same loss and training), and simulates both with
the book's parallel tempering, long enough for the requested number of nanoseconds of 300 K
frames. Every model is scored against all held-out frames: KL(ground truth || model) on 60 x 60
bins (masked, the paper's convention; bootstrap error over walkers), the free-energy MSE, and the
phi > 0 population with its standard error over walkers (a spurious basin on the alpha_L side
shows there even where the masked KL is blind to it). Teacher rows add the percentage of
samples with a bead force above 5,000 kJ/mol/nm. ``--models flow_cgnet_samples`` adds the
ablation: a student trained on the teacher's samples alone.

Prints the table and writes ``benchmarks/results/flow_matching.json``, which chapter 6 reads.
Seeds and models can run in separate processes or sessions: a row already in the file is kept
unless this run recomputes it or changed a setting that its model depends on.
Run it on an idle machine; rows carry their wall times.

    python benchmarks/flow_matching.py [--seeds 0 1 2] [--nanoseconds 10] [--models flow_cgnet flow_cgnet_samples cgnet]
"""

from __future__ import annotations

import argparse
import dataclasses
import fcntl
import json
import time
from pathlib import Path

import numpy as np
import torch

from cgflow import analysis, data, flows, presets, seed_everything
from cgflow.cgnet import CGNet

OUTLIER_FORCE = 5_000.0  # kJ/mol/nm
MODELS = ("teacher", "flow_cgnet", "flow_cgnet_samples", "cgnet")
#: Settings that only some models depend on: a row of another model is kept when they change.
MODELS_OF_SETTING = {"teacher": MODELS[:3], "teacher_training": MODELS[:3],
                     "student_set": ("flow_cgnet", "flow_cgnet_samples"), "outlier_force": ("teacher",)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--nanoseconds", type=float, default=10.0, help="300 K frames per CG model, all walkers together (ns)")
    parser.add_argument("--models", nargs="+", choices=MODELS[1:], default=["flow_cgnet", "cgnet"],
                        help="CG models to train and simulate (the teacher trains when a Flow-CGnet is among them); rows of the others are kept")
    parser.add_argument("--output", type=Path, default=presets.BENCHMARK_RESULTS / "flow_matching.json")
    args = parser.parse_args()
    dataset = data.load("ala2")
    frames = presets.ala2_frames(dataset)
    reference = analysis.phi_psi(frames.held_out.positions)
    walkers = presets.walkers()
    # Steps per replica so that the walkers' cold frames after the burn-in span the requested time.
    n_steps = int(round(args.nanoseconds * 1000 / walkers / presets.TIME_STEP)) + presets.burn_in_frames() * presets.save_every()
    rows: list[dict] = []

    def report(seed: int, model: str, values: np.ndarray, seconds: float, **extra) -> None:
        scores = analysis.ramachandran_scores(reference, values, dataset.temperature, walkers)
        row = {"seed": seed, "model": model, "kl": round(scores.kl.value, 4), "kl_error": round(scores.kl.error, 4),
               "fe_mse": round(scores.free_energy_mse, 3),
               "alpha_l_percent": round(scores.alpha_l_percent.value, 3), "alpha_l_error": round(scores.alpha_l_percent.error, 3),
               "seconds": round(seconds, 1), **extra}
        rows.append(row)
        print(f"{seed:4d} {model:>18s} {row['kl']:6.3f} ± {row['kl_error']:.3f} {row['fe_mse']:8.2f}"
              f" {row['alpha_l_percent']:6.2f} ± {row['alpha_l_error']:.2f} {row.get('outlier_percent', float('nan')):8.2f}"
              f" {row['seconds']:7.0f}", flush=True)

    def simulate(model: CGNet, seed: int) -> tuple[np.ndarray, float, float]:
        start = time.perf_counter()
        run = presets.cold_frames(model.energy_and_forces, dataset.masses, frames.train.positions, seed, n_steps=n_steps)
        return analysis.phi_psi(run.flat()), time.perf_counter() - start, run.frames.shape[1] * presets.save_every() * presets.TIME_STEP * walkers / 1000

    def teacher_sets(seed: int) -> tuple[dict, float]:
        """Trains the teacher and reports it; the Flow-CGnets' training sets and the labelling seconds."""
        start = time.perf_counter()
        teacher = flows.AugmentedFlow.from_data(frames.train.positions, presets.teacher_config(dataset.n_beads, dataset.temperature))
        teacher.fit(frames.train.positions, frames.valid.positions, dataclasses.replace(presets.teacher_training(seed), progress=False))
        sample = teacher.sample(presets.student_samples(), generator=torch.Generator().manual_seed(seed))
        outliers = 100 * float((~flows.within_force_bound(sample.forces, OUTLIER_FORCE)).double().mean())
        report(seed, "teacher", analysis.phi_psi(sample.positions.numpy()), time.perf_counter() - start, outlier_percent=round(outliers, 3))
        start = time.perf_counter()
        student = presets.flow_matching_set(teacher, sample, seed)
        labelling = time.perf_counter() - start
        print(f"     student set: {len(student.positions):,} points, {student.spread:,} spread ({student.kept_fraction:.1%} kept),"
              f" median ESS {student.median_ess:.2f} of {presets.MARGINAL_ETA}, {labelling:.0f} s", flush=True)
        return {"flow_cgnet": (student.positions, student.forces, None),
                "flow_cgnet_samples": (sample.positions, sample.forces, None)}, labelling

    print(f"{'seed':>4s} {'model':>18s} {'KL (nats)':>15s} {'F MSE':>8s} {'phi > 0 (%)':>14s} {'> 5k (%)':>8s} {'s':>7s}")
    nanoseconds = None
    # The teacher trains only for the Flow-CGnets; a baseline-only run keeps the teacher rows.
    recomputed = ("teacher", *args.models) if any(name.startswith("flow_") for name in args.models) else tuple(args.models)
    config = presets.cgnet_config(dataset.n_beads, dataset.temperature)
    for seed in args.seeds:
        seed_everything(seed)
        candidates, labelling = teacher_sets(seed) if "teacher" in recomputed else ({}, 0.0)
        candidates["cgnet"] = (frames.train.positions, frames.train.forces, (frames.valid.positions, frames.valid.forces))
        trained = {}
        for name in args.models:
            positions, forces, validation = candidates[name]
            start = time.perf_counter()
            model, _ = presets.force_match(frames.train.positions, positions, forces, config, seed, validation=validation, progress=False)
            trained[name] = (model, time.perf_counter() - start + (labelling if name == "flow_cgnet" else 0.0))
        for name, (model, training_seconds) in trained.items():
            values, seconds, nanoseconds = simulate(model, seed)
            report(seed, name, values, training_seconds + seconds, training_seconds=round(training_seconds, 1))

    truth = 100 * np.mean(reference[:, 0] > 0)
    print(f"\nground truth (held out): phi > 0 {truth:.2f} %; {nanoseconds:.2f} ns of 300 K frames per CG model")
    settings = {
        "n_train": len(frames.train),
        "teacher": dataclasses.asdict(presets.teacher_config(dataset.n_beads, dataset.temperature)),
        "teacher_training": dataclasses.asdict(presets.teacher_training()),
        "student_set": presets.flow_matching_settings(),
        "cgnet": dataclasses.asdict(presets.cgnet_config(dataset.n_beads, dataset.temperature)),
        "cgnet_training": dataclasses.asdict(presets.cgnet_training()),
        "loss": presets.cgnet_loss(),
        "walkers": walkers,
        "steps_per_replica": n_steps,
        "nanoseconds_per_model": round(nanoseconds, 2),
        "outlier_force": OUTLIER_FORCE,
        "ground_truth_alpha_l_percent": round(truth, 3),
    }
    for row in rows:
        row.setdefault("torch_threads", torch.get_num_threads())
    args.output.parent.mkdir(parents=True, exist_ok=True)
    with open(args.output, "a+") as handle:  # seeds run as parallel processes merge one at a time
        fcntl.flock(handle, fcntl.LOCK_EX)
        handle.seek(0)
        text = handle.read()
        if text:
            previous = json.loads(text)
            rows += [r for r in previous["rows"] if not (r["seed"] in args.seeds and r["model"] in recomputed)
                     and all(previous["settings"].get(key) == value for key, value in settings.items()
                             if r["model"] in MODELS_OF_SETTING.get(key, MODELS))]
            rows.sort(key=lambda r: (r["seed"], MODELS.index(r["model"])))
        for model in MODELS:
            chosen = [r for r in rows if r["model"] == model]
            if not chosen:
                continue
            kl, alpha_l = [r["kl"] for r in chosen], [r["alpha_l_percent"] for r in chosen]
            print(f"{model:>18s}: KL mean {np.mean(kl):.3f}, {min(kl):.3f}-{max(kl):.3f} (largest/smallest {max(kl) / min(kl):.2f});"
                  f" phi > 0 {min(alpha_l):.2f}-{max(alpha_l):.2f} %")
        presets.save_benchmark_record(args.output, settings, rows)

if __name__ == "__main__":
    main()
