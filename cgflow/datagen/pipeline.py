"""The whole recipe: run every trajectory (resuming) in parallel processes, then assemble."""

from __future__ import annotations

import multiprocessing
import time
from pathlib import Path

import numpy as np

from .assembling import assemble
from .recipes import Recipe
from .running import run_trajectory


def generate(recipe: Recipe, workdir: Path, data_dir: Path, processes: int) -> list[Path]:
    """Run all trajectories (resuming), ``processes`` at a time, then assemble the dataset."""
    start = time.perf_counter()
    jobs = [(recipe, workdir, t) for t in range(recipe.n_trajectories)]
    if processes > 1:
        with multiprocessing.get_context("spawn").Pool(processes) as pool:
            speeds = pool.starmap(run_trajectory, jobs)
    else:
        speeds = [run_trajectory(*job) for job in jobs]
    measured = [s for s in speeds if np.isfinite(s)]
    generation = {"processes": processes, "wall_time_s_last_session": round(time.perf_counter() - start, 1)}
    if measured:
        generation["ns_per_day_per_process"] = round(float(np.mean(measured)), 1)
    return assemble(recipe, workdir, data_dir, generation)
