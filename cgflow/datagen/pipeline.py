"""The whole recipe: run every trajectory (resuming) in parallel processes, then assemble."""

from __future__ import annotations

import multiprocessing
import time
from pathlib import Path

import numpy as np

from .assembling import assemble
from .recipes import Recipe
from .running import completed_chunks, run_trajectory


def generate(recipe: Recipe, workdir: Path, data_dir: Path, processes: int, only: list[int] | None = None,
             deadline: float | None = None) -> list[Path]:
    """Run all trajectories (resuming), ``processes`` at a time, then assemble the dataset.

    ``only``: run just these trajectory indices (e.g. one ladder per job of a cluster array,
    all jobs sharing ``workdir``) and assemble only when every trajectory is complete; returns
    no paths while some are not. ``deadline`` (``time.time()``, s): start no chunk that would
    end after it (:func:`run_trajectory`)."""
    start = time.perf_counter()
    chosen = range(recipe.n_trajectories) if only is None else only
    unknown = [t for t in chosen if not 0 <= t < recipe.n_trajectories]
    if unknown:
        raise ValueError(f"{recipe.name} has trajectories 0..{recipe.n_trajectories - 1}; no {unknown}")
    jobs = [(recipe, workdir, t, deadline, data_dir) for t in chosen]
    if processes > 1:
        with multiprocessing.get_context("spawn").Pool(processes) as pool:
            speeds = pool.starmap(run_trajectory, jobs)
    else:
        speeds = [run_trajectory(*job) for job in jobs]
    if any(completed_chunks(recipe, workdir, t) < recipe.chunks_per_trajectory for t in range(recipe.n_trajectories)):
        return []
    measured = [s for s in speeds if np.isfinite(s)]
    generation = {"processes": processes, "wall_time_s_last_session": round(time.perf_counter() - start, 1)}
    if measured:
        generation["ns_per_day_per_process"] = round(float(np.mean(measured)), 1)
    return assemble(recipe, workdir, data_dir, generation)
