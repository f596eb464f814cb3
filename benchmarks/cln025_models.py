"""Chignolin's CG models (Köhler et al. 2023, Fig. 4): the teacher, the calibration of the
Flow-CGnet's spread points against the teacher's own samples, Flow-CGnets and force-matching
CGnets for every seed, trained and simulated by :class:`cgflow.cln025_study.Study`, whose
exported files chapter 8 reads. Every stage is saved in the folder's ``cache/`` when it
finishes and loaded by a later run, so a stopped run resumes; delete a stage's file to
recompute it. Prints each model's scores against the ground truth (all 340 K frames of the
ladders): folded fraction with its error over walkers, the fraction beyond 0.4 nm, the minima
of the RMSD free energy, and folding and unfolding events in plain Langevin dynamics; then
each method's mean and standard deviation of the folded fraction over seeds.

    python benchmarks/cln025_models.py [--folder DIR] [--fast] [--kinds flow_cgnet cgnet] [--seeds 0 1 2]

With ``--kinds`` or ``--seeds``, only those students are trained, simulated and scored (nothing
is exported): parts of the study can then run side by side, one single-threaded process per
core, e.g. ``--kinds cgnet`` beside ``--kinds flow_cgnet --seeds 0`` (the teacher and the
calibration), then the other Flow-CGnet seeds in two processes; a last run without them finds
every stage cached, scores the ground truth and exports.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from cgflow import chignolin, cln025_study
from cgflow.cln025_study import Settings, Study


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folder", type=Path, default=cln025_study.RESULTS)
    parser.add_argument("--fast", action="store_true", help="tiny simulations (with CGFLOW_FAST=1 also tiny training)")
    parser.add_argument("--kinds", nargs="+", choices=cln025_study.KINDS, help="only these students (no export)")
    parser.add_argument("--seeds", nargs="+", type=int, help="only these seeds (no export)")
    args = parser.parse_args()
    frames = chignolin.dataset()
    study = Study(frames, args.folder, Settings.fast() if args.fast else Settings())
    if args.kinds or args.seeds:
        for kind, models in study.models(tuple(args.kinds or cln025_study.KINDS), tuple(args.seeds) if args.seeds else None).items():
            print(f"{kind}: seeds {sorted(models)} trained, simulated and scored in {args.folder / 'study.json'}")
        return
    study.score("ground_truth", frames.positions[None], n_blocks=10)
    for path in study.export():
        print(f"wrote {path} ({path.stat().st_size / 1e6:.2f} MB)")
    print(f"spread points: {study.row('stage', 'spread')['spread_points']:,} (calibrated on the teacher's samples)")
    for row in study.rows:
        if "model" not in row:
            continue
        events = f", events {row['folding_events']} folding / {row['unfolding_events']} unfolding in {row['langevin_ns']} ns" if "langevin_ns" in row else ""
        print(f"{row['model']:>28s}: folded {row['folded']:.3f} ± {row['folded_error']:.3f}, beyond 0.4 nm {row['beyond_0_4nm']:.3f},"
              f" RMSD free-energy minima {row['minima_nm']} nm{events}")
    n_spread = study.row("stage", "spread")["spread_points"]
    for kind, name in (("Flow-CGnet", lambda seed: cln025_study.flow_cgnet_name(n_spread, seed)), ("CGnet", cln025_study.cgnet_name)):
        folded = [study.row("model", name(seed))["folded"] for seed in study.settings.seeds]
        print(f"{kind}: folded {np.mean(folded):.3f} (standard deviation {np.std(folded, ddof=1):.3f} over seeds {study.settings.seeds})")


if __name__ == "__main__":
    main()
