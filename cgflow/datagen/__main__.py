"""``python -m cgflow.datagen NAME``: run (or resume) a recipe and assemble its dataset."""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import time
from pathlib import Path

from .pipeline import generate
from .recipes import RECIPES


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m cgflow.datagen", description="Run (or resume) a recipe of cgflow's reference data with OpenMM and assemble its dataset.")
    parser.add_argument("name", choices=sorted(RECIPES), help="dataset to generate")
    parser.add_argument("--data-dir", type=Path, default=Path("data"), help="where the dataset files go (default: data)")
    parser.add_argument("--workdir", type=Path, default=None, help="chunk folder (default: DATA_DIR/_work/NAME)")
    parser.add_argument("--processes", type=int, default=min(2, os.cpu_count() or 1), help="parallel trajectories")
    parser.add_argument("--trajectories", type=int, default=None, help="override the number of trajectories")
    parser.add_argument("--length-ps", type=float, default=None, help="override the trajectory length (ps)")
    parser.add_argument("--chunk-ps", type=float, default=None, help="override the chunk length (ps)")
    parser.add_argument("--only", type=int, nargs="+", default=None,
                        help="run only these trajectories (one per job of a cluster array, sharing --workdir); the job that completes the last one assembles")
    parser.add_argument("--within-hours", type=float, default=None,
                        help="start no chunk that would end later than this (judged by the run's previous chunk)")
    args = parser.parse_args(argv)
    overrides = {
        key: value
        for key, value in (
            ("n_trajectories", args.trajectories),
            ("trajectory_length", args.length_ps),
            ("chunk_length", args.chunk_ps),
        )
        if value is not None
    }
    recipe = dataclasses.replace(RECIPES[args.name], **overrides)
    workdir = args.workdir or args.data_dir / "_work" / recipe.name
    deadline = None if args.within_hours is None else time.time() + 3600 * args.within_hours
    written = generate(recipe, workdir, args.data_dir, args.processes, only=args.only, deadline=deadline)
    for path in written:
        print(f"wrote {path} ({path.stat().st_size / 1e6:.2f} MB)")
    if not written:
        print("some trajectories are incomplete (stopped at the deadline, or running elsewhere), so nothing is assembled yet")
    return 0


if __name__ == "__main__":
    sys.exit(main())
