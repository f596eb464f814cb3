"""Flow-matching against force matching at 20,000 frames (Fig. 3b of Köhler et al. 2023), over seeds.

For each seed, on the book's 20,000 training frames (``cgflow.comparison``, where the models,
the simulations and the scores are described): the teacher, the Flow-CGnet trained on its
samples and spread points, and the force-matching CGnet, both with the book's recipe (same
prior, network, loss and training), each simulated for the requested nanoseconds of 300 K
frames and scored against all held-out frames. ``--models flow_cgnet_samples`` adds the
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
from pathlib import Path

import numpy as np
import torch

from cgflow import comparison, data, presets
from cgflow.comparison import MODELS

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
    study = comparison.Comparison(dataset, args.nanoseconds)
    train = study.frames.train
    rows: list[dict] = []

    def report(row: dict) -> None:
        rows.append(row)
        print(f"{row['seed']:4d} {row['model']:>18s} {row['kl']:6.3f} ± {row['kl_error']:.3f} {row['fe_mse']:8.2f}"
              f" {row['alpha_l_percent']:6.2f} ± {row['alpha_l_error']:.2f} {row.get('outlier_percent', float('nan')):8.2f}"
              f" {row['seconds']:7.0f}", flush=True)

    print(f"{'seed':>4s} {'model':>18s} {'KL (nats)':>15s} {'F MSE':>8s} {'phi > 0 (%)':>14s} {'> 5k (%)':>8s} {'s':>7s}")
    # The teacher trains only for the Flow-CGnets; a baseline-only run keeps the teacher rows.
    students = [name for name in args.models if name in comparison.STUDENTS]
    recomputed = ("teacher", *args.models) if students else tuple(args.models)
    for seed in args.seeds:
        sets = {}
        if students:
            teacher_row, sets = study.teacher(train, seed, students)
            report(teacher_row)
        for name in args.models:
            report(study.cg_model(name, train, seed, sets.get(name)))

    print(f"\nground truth (held out): phi > 0 {study.ground_truth_alpha_l_percent:.2f} %;"
          f" {study.nanoseconds:.2f} ns of 300 K frames per CG model")
    settings = {
        "n_train": len(train),
        "teacher": dataclasses.asdict(presets.teacher_config(dataset.n_beads, dataset.temperature)),
        "teacher_training": dataclasses.asdict(presets.teacher_training()),
        "student_set": presets.flow_matching_settings(),
        "cgnet": dataclasses.asdict(presets.cgnet_config(dataset.n_beads, dataset.temperature)),
        "cgnet_training": dataclasses.asdict(presets.cgnet_training()),
        "loss": presets.cgnet_loss(),
        "walkers": study.walkers,
        "steps_per_replica": study.n_steps,
        "nanoseconds_per_model": round(study.nanoseconds, 2),
        "outlier_force": comparison.OUTLIER_FORCE,
        "ground_truth_alpha_l_percent": round(study.ground_truth_alpha_l_percent, 3),
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
