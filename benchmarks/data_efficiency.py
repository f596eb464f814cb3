"""Accuracy against training-set size (Fig. 3c of Köhler et al. 2023): the sweep that chapter 7 plots.

For every training-set size and seed (``cgflow.data_efficiency``: strided subsets of the training
block, one result file per point under ``data/results/data_efficiency/``), trains and scores the
teacher, the Flow-CGnet and the force-matching CGnet with the book's recipe
(``cgflow.comparison``), skipping every point already stored with this run's settings. Points
are written as they finish: stop the sweep at any time, commit the files, resume later (on
another machine, too); ``--within-hours`` starts no unit that the stored points' wall times say
would end later, so that a session of limited length loses nothing. Prints the table of all
stored points at the end. One thread per process is the most efficient use of the cores; run
seeds as separate processes:

    OMP_NUM_THREADS=1 python benchmarks/data_efficiency.py [--sizes 1000 2000 ...] [--seeds 0 1 2]
                                                          [--units flow cgnet] [--recompute] [--within-hours 2.5]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from cgflow import data, data_efficiency
from cgflow.comparison import Comparison


def table(points: list[dict]) -> str:
    """Mean and range over seeds of KL, free-energy MSE and phi > 0 per (size, model)."""
    lines = [f"{'frames':>7s} {'model':>11s} {'seeds':>5s} {'KL (nats)':>21s} {'F MSE':>7s} {'phi > 0 (%)':>17s} {'s':>7s}"]
    for n in sorted({p["n"] for p in points}):
        for model in ("teacher", "flow_cgnet", "cgnet"):
            chosen = [p for p in points if p["n"] == n and p["model"] == model]
            if chosen:
                kl, alpha_l = [p["kl"] for p in chosen], [p["alpha_l_percent"] for p in chosen]
                lines.append(f"{n:7d} {model:>11s} {len(chosen):5d} {np.mean(kl):7.3f} ({min(kl):.3f}-{max(kl):.3f})"
                             f" {np.mean([p['fe_mse'] for p in chosen]):7.2f} {np.mean(alpha_l):5.2f} ({min(alpha_l):.2f}-{max(alpha_l):.2f})"
                             f" {np.mean([p['seconds'] for p in chosen]):7.0f}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=list(data_efficiency.SIZES), help="training frames")
    parser.add_argument("--seeds", type=int, nargs="+", default=list(data_efficiency.SEEDS))
    parser.add_argument("--units", nargs="+", choices=list(data_efficiency.UNITS), default=list(data_efficiency.UNITS))
    parser.add_argument("--nanoseconds", type=float, default=data_efficiency.NANOSECONDS, help="300 K frames per CG model (ns)")
    parser.add_argument("--recompute", action="store_true", help="recompute points that are already stored")
    parser.add_argument("--folder", type=Path, default=data_efficiency.RESULTS)
    parser.add_argument("--within-hours", type=float, default=None,
                        help="start no unit that would end later than this (from the stored points' wall times)")
    args = parser.parse_args()
    dataset = data.load("ala2")
    study = Comparison(dataset, args.nanoseconds)

    def settings_of(n: int, unit: str) -> dict:
        return data_efficiency.unit_settings(dataset, study.frames, n, unit, args.nanoseconds)

    start = time.perf_counter()
    deadline = None if args.within_hours is None else time.time() + 3600 * args.within_hours
    computed = data_efficiency.sweep(data_efficiency.comparison_runner(study), settings_of, args.folder, args.sizes, args.seeds,
                                     args.units, recompute=args.recompute, deadline=deadline)
    print(f"\n{len(computed)} points computed in {time.perf_counter() - start:.0f} s; ground truth phi > 0"
          f" {study.ground_truth_alpha_l_percent:.2f} %\n")
    print(table(data_efficiency.load_points(args.folder)))


if __name__ == "__main__":
    main()
