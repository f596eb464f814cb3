"""The book's settings in one place, imported by the chapters and the benchmarks alike.

Every setting that a chapter shrinks for the tests is written ``pick(teaching, fast)`` and
read when the function is called, so ``CGFLOW_FAST=1`` switches all of them at once. Units:
nm, ps, amu, kJ/mol, K.

- :func:`ala2_frames`: the alanine-dipeptide split (the last 20 % of every trajectory is held
  out), the 20,000 training frames of Fig. 3b and a validation subsample.
- :func:`cgnet_config`, :func:`cgnet_training`: the CGnet recipe of chapters 4 and 6 (trained
  with ``CGNet.fit``'s default loss on generalised forces).
- :func:`matched_steps`, :func:`validation_frames`: the recipe on fewer training frames
  (chapter 7): as many gradient steps as on 20,000, validated on a quarter as many.
- :func:`student_samples`, :func:`flow_matching_set`: the Flow-CGnet's training set, teacher
  samples plus points spread across the torsional barriers with marginal-force labels.
- :func:`teacher_config`, :func:`teacher_training`: the flow of chapters 5 and 6.
- :func:`cold_frames`: parallel tempering of a CG model, returning its 300 K frames per walker.
- :func:`benchmark_record`, :func:`save_benchmark_record`: the committed results of a
  benchmark, which chapters read.
"""

from __future__ import annotations

import datetime
import inspect
import json
import math
import subprocess
import dataclasses
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from . import distributed
from .cgnet import CGNet, CGNetConfig
from .data import CGDataset, evenly_spaced
from .flows import AugmentedFlow, FlowConfig, FlowSample
from .runtime import pick, seed_everything
from .simulate import ForceField, ParallelTempering, SimulationResult, geometric_ladder
from .student_set import StudentSet, student_set
from .training import History, TrainingConfig, as_model_tensor

#: Where ``benchmarks/*.py`` write the results that chapters read (in the repository).
BENCHMARK_RESULTS = Path(__file__).resolve().parent.parent / "benchmarks" / "results"
#: Training frames of the paper's Fig. 3b comparison.
N_TRAIN = 20_000
#: The last fraction of every trajectory that is never trained on.
VALIDATION_FRACTION = 0.2


@dataclass(frozen=True)
class Ala2Frames:
    """``training_block``: all frames before the held-out blocks; ``train``: ``N_TRAIN`` of
    them, evenly spread; ``valid``: a subsample of the held-out blocks for validation losses;
    ``held_out``: all held-out frames, the ground truth that every model is scored against."""

    training_block: CGDataset
    train: CGDataset
    valid: CGDataset
    held_out: CGDataset


def ala2_frames(dataset: CGDataset, n_train: int = N_TRAIN) -> Ala2Frames:
    """The book's split of the alanine-dipeptide dataset (``cgflow.load("ala2")``)."""
    training, held_out = dataset.split(validation_fraction=VALIDATION_FRACTION, by="block")
    return Ala2Frames(training, training.subsample(n_train), held_out.subsample(pick(5_000, 2_000)), held_out)


def training_draw(frames: Ala2Frames, draw: int) -> CGDataset:
    """Another set of ``len(frames.train)`` training frames, sharing none with the book's
    ``frames.train`` nor with other draws: of the training-block frames that the book does not
    train on, every k-th from the ``draw``-th (1 <= draw <= k, k = their number // the set's
    size), so that each draw spreads over every trajectory. Models trained on different
    draws show the noise of the data themselves."""
    n = len(frames.train)
    block = frames.training_block
    book = evenly_spaced(len(block), n)  # as CGDataset.subsample
    rest = np.setdiff1d(np.arange(len(block)), book)
    stride = len(rest) // n
    if not 1 <= draw <= stride:
        raise ValueError(f"draw must lie in 1..{stride} for sets of {n} of {len(block)} frames, got {draw}")
    return block.select(rest[draw - 1 :: stride][:n])


#: Networks in the CGnet ensemble and their width. One wide network's free energy depends
#: strongly on its seed, a narrower one's much less, and the mean of several members, each with
#: its own initial weights and mini-batch order, less still (chapter 4 reads the measurements of
#: ``benchmarks/cgnet_stability.py``). Measured over training seeds 0-4 with chapter 4's
#: simulations: one network of 160 units KL 0.097-0.529, 4 of 160 0.055-0.092 (1.7-fold), 8 of
#: 160 0.061-0.082 (1.3-fold), 8 of 112 (the multiply-adds of 4 x 160) 0.052-0.069 (1.3-fold),
#: at 1.45 times the training and simulation time of 4 x 160.
CGNET_MEMBERS = 8
CGNET_WIDTH = 112


def cgnet_config(n_beads: int, temperature: float, members: int = CGNET_MEMBERS, width: int = CGNET_WIDTH) -> CGNetConfig:
    """The CGnet of chapters 4 and 6: the prior plus the mean of ``members`` networks of 5 x
    ``width`` tanh units; ``temperature`` of the data in K."""
    return CGNetConfig(n_beads=n_beads, width=width, depth=5, activation="tanh", members=members, temperature=temperature)


def cgnet_recipe(row: dict) -> tuple[int | None, int | None]:
    """(networks, units per layer) of a row of ``benchmarks/cgnet_stability.py``; (None, None)
    for the rows that score ground-truth frames."""
    return row["members"], row["width"]


def matched_steps(config: TrainingConfig, n_frames: int) -> TrainingConfig:
    """``config`` for a training set of ``n_frames``: a set smaller than ``N_TRAIN`` is trained
    for proportionally more epochs (and warm-up epochs), so that it gets the gradient steps and
    learning-rate schedule of the recipe's 20,000 frames; its best validation epoch guards
    against over-fitting. Larger sets keep the recipe's epochs."""
    if n_frames < 1:
        raise ValueError(f"a training set needs at least one frame, got {n_frames}")
    if n_frames >= N_TRAIN:
        return config
    factor = N_TRAIN / n_frames
    return dataclasses.replace(config, epochs=math.ceil(config.epochs * factor), warmup_epochs=config.warmup_epochs * factor)


def validation_frames(frames: Ala2Frames, n_train: int) -> CGDataset:
    """Held-out frames that validate a model trained on ``n_train`` frames: a quarter as many
    (at least 250, at most the book's ``frames.valid``, which they equal at 20,000), evenly
    spread over the held-out blocks, so that a small training set is not selected on far more
    data than it was trained on."""
    n = min(len(frames.valid), max(n_train // 4, 250))
    return frames.valid if n == len(frames.valid) else frames.held_out.subsample(n)


def cgnet_training(seed: int = 0, n_frames: int = N_TRAIN) -> TrainingConfig:
    """Force matching of the CGnet (baseline and student alike) on ``n_frames`` (see
    :func:`matched_steps`)."""
    return matched_steps(TrainingConfig(epochs=pick(30, 3), batch_size=256, learning_rate=1e-3, patience=None, seed=seed), n_frames)


def teacher_config(n_beads: int, temperature: float) -> FlowConfig:
    """The augmented flow of chapters 5 and 6; ``temperature`` of the data in K.

    Torsions first: bonds given angles and torsions, angles given torsions, the augmented
    channels coupled to the torsions only. Measured on alanine dipeptide (20,000 frames, this
    training, 60,000 samples): seeds 0 and 1 gave KL 0.041 and 0.044 with 0.01 % and 0.03 % of
    samples above 5,000 kJ/mol/nm; the ``"joint"`` structure (every group conditioned on all
    the rest) gave 0.062 and 0.057 with 1.2 % and 1.8 %."""
    return FlowConfig(
        n_beads=n_beads, n_augmented=2, n_blocks=4, n_components=8, hidden=128, temperature=temperature, structure="torsions-first"
    )


def teacher_training(seed: int = 0, n_frames: int = N_TRAIN) -> TrainingConfig:
    """Maximum-likelihood training of the teacher on ``n_frames`` (see :func:`matched_steps`)."""
    config = TrainingConfig(
        epochs=pick(30, 3), batch_size=128, learning_rate=2e-3, warmup_epochs=pick(2, 1), patience=None, max_gradient_norm=10.0, seed=seed
    )
    return matched_steps(config, n_frames)


def force_match(
    prior_positions, positions, forces, config: CGNetConfig, seed: int, validation=None, progress: bool | None = None,
    training: TrainingConfig | None = None,
) -> tuple[CGNet, History]:
    """A CGnet of ``config`` (prior fitted to ``prior_positions``, nm) trained on ``positions``
    (nm) and ``forces`` (kJ/mol/nm), and its training history: all-atom frames for the
    baseline, the :func:`flow_matching_set` for the Flow-CGnet. ``validation``: ``(positions,
    forces)``, or None to hold out the last 10 % of the given ones (teacher samples are
    independent draws, so any 10 % will do). ``training``: default :func:`cgnet_training`."""
    seed_everything(seed)
    model = CGNet.from_data(prior_positions, config)
    positions, forces = clear_of_repulsion(model, positions, forces)
    if validation is None:
        cut = int(0.9 * len(positions))
        positions, forces, validation = positions[:cut], forces[:cut], (positions[cut:], forces[cut:])
    training = dataclasses.replace(training or cgnet_training(seed), progress=progress)
    history = model.fit(positions, forces, validation=validation, config=training)
    return model, history


def clear_of_repulsion(model: CGNet, positions, forces) -> tuple:
    """The training configurations (nm) and force labels (kJ/mol/nm) where ``model``'s prior
    repulsion is clear (:meth:`cgflow.cgnet.Prior.clear_of_repulsion`), saying how many are
    dropped. Teacher samples of a C-alpha protein may put two beads closer than any frame
    does; there the prior's repulsion, not the label, would set the loss. Frames that fitted
    the prior are always kept."""
    with torch.no_grad():
        clear = model.prior.clear_of_repulsion(as_model_tensor(positions, "cpu"))
    if clear.all():
        return positions, forces
    if not clear.any():
        raise ValueError(f"all {len(clear)} configurations have bead pairs closer than the prior's repulsion allows")
    print(f"dropped {int((~clear).sum()):,} of {len(clear):,} configurations with a bead pair closer than in any frame"
          " (the prior's repulsion would dominate their loss)")
    return tuple(values[clear.to(values.device)] if isinstance(values, torch.Tensor) else np.asarray(values)[clear.numpy()]
                 for values in (positions, forces))


def student_samples() -> int:
    """Teacher samples (with their forces) that the Flow-CGnet is trained on."""
    return pick(60_000, 6_000)


#: Spread points of the student's training set (``cgflow.student_set``): torsions moved by
#: N(0, SPREAD_SCALE^2) rad, labelled with the teacher's marginal force from MARGINAL_ETA
#: draws of eta, dropped above SPREAD_MAX_FORCE (kJ/mol/nm).
SPREAD_SCALE = 0.6
MARGINAL_ETA = 8
SPREAD_MAX_FORCE = 5_000.0


def spread_points() -> int:
    """Spread points added to the student's :func:`student_samples` teacher samples (fast mode: 600, since the
    three-epoch teacher of fast mode is not to be trusted far from its samples)."""
    return pick(20_000, 600)


def flow_matching_set(teacher: AugmentedFlow, sample: FlowSample, seed: int, n_spread: int | None = None) -> StudentSet:
    """The Flow-CGnet's training set: the teacher's ``sample`` plus ``n_spread`` (default
    :func:`spread_points`) points spread across the torsional barriers with marginal-force
    labels, shuffled (10 % of it validates in :func:`force_match`)."""
    generator = torch.Generator().manual_seed(seed)
    n_spread = spread_points() if n_spread is None else n_spread
    return student_set(teacher, sample, n_spread, SPREAD_SCALE, MARGINAL_ETA, SPREAD_MAX_FORCE, generator)


def flow_matching_settings() -> dict:
    """The student-set settings, for benchmark records."""
    return {"samples": student_samples(), "spread_points": spread_points(), "spread_scale": SPREAD_SCALE,
            "marginal_eta": MARGINAL_ETA, "spread_max_force": SPREAD_MAX_FORCE}


#: Parallel tempering of the CG models: a geometric ladder over these temperatures (K).
TEMPERING_RANGE = (300.0, 500.0)
TEMPERING_RUNGS = 4
#: Langevin (BAOAB) time step of the CG simulations, ps.
TIME_STEP = 0.002


def save_every() -> int:
    """Steps between saved frames of a CG simulation."""
    return pick(20, 10)


def burn_in_frames() -> int:
    """Saved frames dropped at the start of every CG simulation."""
    return pick(100, 50)


def cold_frames_per_walker(n_steps: int | None = None) -> int:
    """300 K frames per walker that :func:`cold_frames` keeps from ``n_steps`` steps per replica
    (default :func:`steps_per_replica`): every :func:`save_every`-th step, less the burn-in."""
    return max(0, (n_steps or steps_per_replica()) // save_every() - burn_in_frames())


def steps_per_replica() -> int:
    """Langevin steps per replica of a CG simulation (40 ps; 4 ps in fast mode)."""
    return pick(20_000, 2_000)


def walkers() -> int:
    """Independent parallel-tempering ladders of a CG simulation."""
    return pick(32, 8)


@dataclass(frozen=True)
class ColdRun:
    """The coldest rung's frames of a parallel-tempering run ``[walkers, frames, beads, 3]``
    (nm) after the burn-in, the swap acceptance per neighbour pair, and the whole run."""

    frames: np.ndarray
    acceptance: np.ndarray
    result: SimulationResult

    def flat(self) -> np.ndarray:
        """All cold frames walker after walker ``[walkers * frames, beads, 3]``: contiguous
        blocks of equal size are the independent walkers (for block errors)."""
        return self.frames.reshape(-1, *self.frames.shape[2:])


def cold_frames(
    force_field: ForceField, masses, starts: np.ndarray, seed: int, n_steps: int | None = None,
    temperature_range: tuple[float, float] = TEMPERING_RANGE,
) -> ColdRun:
    """Parallel tempering of a CG model with the book's protocol: :func:`walkers` independent
    ladders of ``TEMPERING_RUNGS`` temperatures geometric over ``temperature_range`` (K; the
    coldest is the model's), BAOAB with 2 fs steps and friction 1/ps, swaps every 0.1 ps, a
    frame every 40 fs (20 fs in fast mode), the first 4 ps (1 ps) dropped. ``starts``:
    candidate positions ``[n, beads, 3]`` (nm) from which the initial replicas are drawn
    without replacement; masses in amu; ``n_steps`` (default 20,000, i.e. 40 ps) per replica."""
    n_walkers = walkers()
    n_steps = n_steps or steps_per_replica()
    ladder = geometric_ladder(*temperature_range, TEMPERING_RUNGS)
    tempering = ParallelTempering(
        force_field, masses, ladder, n_walkers=n_walkers, time_step=TIME_STEP, friction=1.0, swap_every=50, seed=seed
    )
    rng = np.random.default_rng(seed)
    chosen = starts[rng.choice(len(starts), n_walkers * len(ladder), replace=False)]
    result = distributed.run_tempering(tempering, chosen, n_steps=n_steps, save_every=save_every())  # walkers shared out under torchrun
    cold = tempering.coldest(result)[burn_in_frames() :]
    return ColdRun(np.ascontiguousarray(cold.swapaxes(0, 1)), result.swap_acceptance, result)


def cgnet_loss() -> str:
    """The force-matching loss of the recipe: ``CGNet.fit``'s default (for benchmark records)."""
    return inspect.signature(CGNet.fit).parameters["loss"].default


def save_benchmark_record(path: Path, settings: dict, rows: list[dict]) -> dict:
    """Write a benchmark's ``{"commit", "date", "settings", "rows"}`` to ``path`` (JSON), with
    the repository's commit and today's date; rows without their own commit get this one."""
    commit = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, cwd=Path(__file__).parent).stdout.strip()
    for row in rows:
        row.setdefault("commit", commit)
    record = {"commit": commit, "date": datetime.date.today().isoformat(), "settings": settings, "rows": rows}
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")  # renamed when complete: a killed run leaves no torn file
    partial.write_text(json.dumps(record, indent=1) + "\n")
    partial.replace(path)
    print(f"wrote {path}")
    return record


def benchmark_record(name: str) -> dict:
    """The committed results of ``benchmarks/NAME.py``, read from ``benchmarks/results/NAME.json``."""
    path = BENCHMARK_RESULTS / f"{name}.json"
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing; run `python benchmarks/{name}.py` to write it")
    return json.loads(path.read_text())
