"""Chignolin's CG models (Köhler et al. 2023, Fig. 4): the teacher, the Flow-CGnet (optionally with
rounds of relabelling its own frames), and the force-matching CGnet, trained and simulated by
:class:`cgflow.cln025_study.Study`, which chapter 8 reads. Every stage is saved in the folder
when it finishes (``data/results/cln025`` by default) and loaded by a later run, so a stopped
run resumes; delete a stage's file to recompute it. Prints each model's scores against the
ground truth (all 340 K frames of the ladders): folded fraction with its error over walkers,
the fraction beyond 0.4 nm, the minima of the RMSD free energy, and folding and unfolding
events in plain Langevin dynamics.

    python benchmarks/cln025_models.py [--rounds 0] [--models teacher flow_cgnet cgnet] [--folder DIR] [--fast]
"""

from __future__ import annotations

import argparse
from pathlib import Path

from cgflow import chignolin, cln025_study
from cgflow.cln025_study import Settings, Study

MODELS = ("teacher", "flow_cgnet", "cgnet")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=Settings.rounds, help="rounds of relabelling the Flow-CGnet's frames")
    parser.add_argument("--models", nargs="+", choices=MODELS, default=list(MODELS))
    parser.add_argument("--folder", type=Path, default=cln025_study.RESULTS)
    parser.add_argument("--fast", action="store_true", help="tiny simulations (with CGFLOW_FAST=1 also tiny training)")
    args = parser.parse_args()
    settings = Settings.fast() if args.fast else Settings()
    settings.rounds = args.rounds
    frames = chignolin.reference_frames(chignolin.ladder_chunks())
    study = Study(frames, args.folder, settings)
    rows = {"ground truth": study.score("ground_truth", frames.positions[None], n_blocks=10)}
    if "teacher" in args.models:
        rows["teacher"] = study.score("teacher", study.teacher_sample().positions.numpy()[None], n_blocks=10)
    if "flow_cgnet" in args.models:
        simulations = study.simulations("flow_cgnet", study.flow_cgnet(settings.rounds))
        rows["flow_cgnet"] = study.score("flow_cgnet", simulations["tempering"], simulations["langevin"])
    if "cgnet" in args.models:
        simulations = study.simulations("cgnet", study.cgnet())
        rows["cgnet"] = study.score("cgnet", simulations["tempering"], simulations["langevin"])
    for name, row in rows.items():
        events = f", events {row['folding_events']} folding / {row['unfolding_events']} unfolding in {row['langevin_ns']} ns" if "langevin_ns" in row else ""
        print(f"{name:>13s}: folded {row['folded']:.3f} ± {row['folded_error']:.3f}, beyond 0.4 nm {row['beyond_0_4nm']:.3f},"
              f" RMSD free-energy minima {row['minima_nm']} nm{events}")


if __name__ == "__main__":
    main()
