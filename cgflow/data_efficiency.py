"""Accuracy against training-set size (Köhler et al. 2023, Fig. 3c), as a resumable sweep.

A *point* is one model (``teacher``, ``flow_cgnet`` or ``cgnet``) trained with one seed on
``n`` training frames and scored by :class:`cgflow.comparison.Comparison`. Each point is one
JSON file ``n{n}_{model}_seed{seed}.json`` under :data:`RESULTS` (``{"commit", "date",
"settings", "rows": [row]}``), written when it finishes, so that a sweep stopped anywhere
resumes from the files that the repository holds. The teacher and its Flow-CGnet are one unit
of work (the student learns from that teacher); the CGnet is another.

The ``n`` frames are strided evenly over the whole training block (:func:`training_subset`):
alanine dipeptide's 300 K frames are 1 ps apart and correlated (the alpha_L indicator's
autocorrelation is 0.42 after 1 ps, 0.13 after 10 ps and 0.08 after 50 ps), so a contiguous
block of 1,000 frames, one nanosecond of one ladder, holds fewer independent configurations
than 1,000 strided ones. Strided frames are as independent as the data allow at every size,
and they never touch the held-out blocks that score them.

Each seed takes its own strided draw (the same stride, shifted), because which frames one has
moves a CG model's free energy as much as its initial weights do (chapter 4's data draws): the
spread over seeds is then what a reader with another ``n`` frames would see. At 40,000 frames
there are only two such draws and at 80,000 one; seeds then share frames.
"""

from __future__ import annotations

import dataclasses
import json
import math
import time
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from . import presets
from .comparison import Comparison
from .data import CGDataset, evenly_spaced
from .runtime import progress_bars

#: Training-set sizes of the sweep (frames); 80,000 is the whole training block.
SIZES = (1_000, 2_000, 5_000, 10_000, 20_000, 40_000, 80_000)
SEEDS = (0, 1, 2)
#: Units of work and the models (points) that each produces.
UNITS = {"flow": ("teacher", "flow_cgnet"), "cgnet": ("cgnet",)}
#: 300 K frames per CG model, all walkers together (ns).
NANOSECONDS = 5.0
#: Where the shipped points live (in the repository).
RESULTS = Path(__file__).resolve().parent.parent / "data" / "results" / "data_efficiency"

#: ``run(n, seed, unit)`` -> the rows of the unit's models.
UnitRunner = Callable[[int, int, str], list[dict]]


#: Shift of seed k's strided draw, in strides: the fractional part of k / golden ratio, so that
#: any number of seeds spread evenly over the gap between two frames of a draw.
_GOLDEN_SHIFT = (math.sqrt(5.0) - 1.0) / 2.0


def training_subset(frames: presets.Ala2Frames, n: int, seed: int = 0) -> CGDataset:
    """``n`` training frames strided evenly over every trajectory's training block and shifted
    by a seed-dependent part of the stride (seed 0: unshifted, at 20,000 exactly the book's
    ``frames.train``)."""
    total = len(frames.training_block)
    stride = total / n
    shift = round(stride * ((seed * _GOLDEN_SHIFT) % 1.0)) % max(round(stride), 1)
    return frames.training_block.select(np.minimum(evenly_spaced(total, n) + shift, total - 1))


def point_path(folder: Path, n: int, model: str, seed: int) -> Path:
    """The file of one point."""
    return Path(folder) / f"n{n:06d}_{model}_seed{seed}.json"


def unit_settings(dataset: CGDataset, frames: presets.Ala2Frames, n: int, unit: str, nanoseconds: float) -> dict:
    """Everything that the points of ``unit`` at ``n`` frames depend on, as stored in their
    files (JSON values, so that a stored copy compares equal)."""
    cgnet = {"cgnet": dataclasses.asdict(presets.cgnet_config(dataset.n_beads, dataset.temperature)),
             "loss": presets.cgnet_loss(), "walkers": presets.walkers(), "nanoseconds": nanoseconds,
             "n_train": n, "n_validation": len(presets.validation_frames(frames, n))}
    if unit == "cgnet":
        extra = {"cgnet_training": dataclasses.asdict(presets.cgnet_training(0, n))}
    elif unit == "flow":
        extra = {"teacher": dataclasses.asdict(presets.teacher_config(dataset.n_beads, dataset.temperature)),
                 "teacher_training": dataclasses.asdict(presets.teacher_training(0, n)),
                 "student_set": presets.flow_matching_settings(),
                 "cgnet_training": dataclasses.asdict(presets.cgnet_training())}  # the student set is larger than 20,000
    else:
        raise ValueError(f"unknown unit {unit!r}; choose from {sorted(UNITS)}")
    return json.loads(json.dumps({**cgnet, **extra}))


def is_done(folder: Path, n: int, seed: int, unit: str, settings: dict) -> bool:
    """Whether every point of the unit is stored with these ``settings``."""
    for model in UNITS[unit]:
        path = point_path(folder, n, model, seed)
        if not path.exists() or json.loads(path.read_text())["settings"] != settings:
            return False
    return True


def expected_seconds(folder: Path, n: int, unit: str) -> float:
    """How long the unit took at most at ``n`` frames among the stored points (its models'
    seconds added; any size when none is stored at ``n``), in s; 0 when nothing is stored."""
    per_seed: dict[tuple[int, int], float] = {}
    for point in load_points(folder):
        if point["model"] in UNITS[unit]:
            key = (point["n"], point["seed"])
            per_seed[key] = per_seed.get(key, 0.0) + point["seconds"]
    at_n = [seconds for (size, _), seconds in per_seed.items() if size == n]
    return max(at_n or per_seed.values() or [0.0])


def sweep(
    run: UnitRunner,
    settings_of: Callable[[int, str], dict],
    folder: Path = RESULTS,
    sizes: Iterable[int] = SIZES,
    seeds: Iterable[int] = SEEDS,
    units: Iterable[str] = tuple(UNITS),
    recompute: bool = False,
    progress: bool | None = None,
    deadline: float | None = None,
) -> list[dict]:
    """Computes every (size, seed, unit) whose points are missing or were stored with other
    settings (``settings_of(n, unit)``), or all of them with ``recompute``, smallest sizes
    first, and writes each point as it finishes. With a ``deadline`` (``time.time()``, s) it
    starts no unit that :func:`expected_seconds` says would end after it (shorter ones may
    still fit), so that a sweep in a session of limited length loses no work. Returns the rows
    computed now."""
    todo = [(n, seed, unit, settings_of(n, unit)) for seed in seeds for n in sorted(sizes) for unit in units]
    todo = [item for item in todo if recompute or not is_done(folder, *item)]
    computed = []
    show = progress_bars() if progress is None else progress
    for n, seed, unit, settings in tqdm(todo, desc="data-efficiency points", unit="unit", disable=not show):
        if deadline is not None and time.time() + expected_seconds(folder, n, unit) > deadline:
            print(f"skipped {unit} at n={n}, seed {seed}: it would end after the deadline", flush=True)
            continue
        rows = run(n, seed, unit)
        if sorted(row["model"] for row in rows) != sorted(UNITS[unit]):
            raise RuntimeError(f"unit {unit} at n={n}, seed {seed} returned models {[row['model'] for row in rows]}, expected {UNITS[unit]}")
        for row in rows:
            presets.save_benchmark_record(point_path(folder, n, row["model"], seed), settings, [row])
        computed += rows
    return computed


def comparison_runner(study: Comparison) -> UnitRunner:
    """The unit runner of the real sweep: trains and scores the models of a unit with ``study``."""

    def run(n: int, seed: int, unit: str) -> list[dict]:
        train = training_subset(study.frames, n, seed)
        if unit == "cgnet":
            return [study.cg_model("cgnet", train, seed)]
        teacher_row, sets = study.teacher(train, seed, ("flow_cgnet",))
        return [teacher_row, study.cg_model("flow_cgnet", train, seed, sets["flow_cgnet"])]

    return run


def load_points(folder: Path = RESULTS) -> list[dict]:
    """Every stored point's row, with its ``n`` (training frames), ``nanoseconds`` (of 300 K
    frames per CG model), ``commit`` and ``date``."""
    points = []
    for path in sorted(Path(folder).glob("n*_seed*.json")):
        record = json.loads(path.read_text())
        settings = record["settings"]
        for row in record["rows"]:
            points.append({**row, "n": settings["n_train"], "nanoseconds": settings.get("nanoseconds"), "date": record["date"]})
    return points
