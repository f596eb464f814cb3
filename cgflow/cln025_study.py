"""Chignolin's CG models by flow-matching and by force matching (Köhler et al. 2023, Fig. 4),
as a resumable study. Units: nm, ps, amu, kJ/mol, K.

Training frames: :data:`N_TRAIN` of the ladders' 340 K frames, strided evenly over both
ladders; the ground truth is all of them. The ladders' folded fraction drifts over
nanoseconds (long stays in a compact non-native state), so a held-out block would differ in
composition from the training block (at 28 ns per ladder: 0.43 and 0.67 folded); strided
training frames see every stretch.

Every stage is a file in the study's ``cache/`` folder, written when it finishes and loaded
by a later run, so a stopped study resumes:

- ``teacher.pt``: the book's augmented flow (``presets.teacher_config``) with
  :data:`TEACHER_BLOCKS` blocks, by maximum likelihood; ``teacher_sample.pt``: its
  ``presets.student_samples()`` samples with their forces.
- ``flow_cgnet_spread{K}_seed{s}.pt``: a Flow-CGnet force-matched to
  ``presets.flow_matching_set`` with K spread points (teacher samples with their forces plus
  K points spread across the torsions with marginal forces; configurations inside the
  prior's repulsion dropped, ``presets.force_match``). K is calibrated per system
  (:meth:`Study.spread`) without the ground truth: the spread points, off the data's
  manifold, set the relative weight of the unfolded states, where the teacher's labels are
  rough (with the 8-block teacher and seed 0, measured: 5,000 points gave 0.73 folded,
  10,000 gave 0.66, 20,000 gave 0.18, the data 0.56).
- ``cgnet_seed{s}.pt``: force matching of the same frames' all-atom forces (the baseline).
- ``{model}_simulations.npz``: ``tempering``, 340 K frames of parallel tempering (340-500 K)
  walker after walker, and, for the students of the chosen K, ``langevin``, plain Langevin
  paths at 340 K ``[frames, replicas, 10, 3]`` for folding and unfolding events.

``study.json`` (settings, commit, date, wall time per stage, the scores of every model) and
what chapter 8 reads (:meth:`Study.export`) lie beside ``cache/``, which is not shipped.
An earlier idea, measured and dropped: relabelling the student's own frames with the
teacher's marginal force for rounds of retraining made it worse (4-block teacher: 0.26 folded
after round 0, 0.02 after one round), because its frames beyond 0.4 nm lie off the data's
manifold where the teacher's labels are rough.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from . import analysis, chignolin, presets
from .cgnet import CGNet
from .data import CGDataset, centred_float16, evenly_spaced, save_npz
from .flows import AugmentedFlow, FlowSample
from .runtime import fast_mode, pick, seed_everything
from .simulate import LangevinSimulation

#: Training frames, strided over both ladders.
N_TRAIN = 20_000
#: Coupling blocks of the teacher: chignolin's 7 torsions need more than alanine dipeptide's
#: 2 (the book's 4). Measured on 20,000 frames (30 epochs unless said; 30,000-60,000
#: samples; ground truth 0.53 folded): 4 blocks validation NLL -58.79, folded 0.40; 4 blocks
#: and 60 epochs -59.07, 0.43; 8 blocks -59.49, 0.51 (its samples within 0.1 nm of the folded
#: reference: 0.37, against the data's 0.45 and 4 blocks' 0.23).
TEACHER_BLOCKS = 8
#: Parallel tempering of the CG models (K), as the data's ladders but four rungs.
TEMPERING_RANGE = (340.0, 500.0)
#: Langevin time step of the plain CG simulations (ps): C-alpha beads of 12 amu and bonds of
#: ~100 kJ/mol/nm^2 per kT allow 4 fs (measured stable over 32 ns).
LANGEVIN_TIME_STEP = 0.004
#: The kinds of student: Flow-CGnet (flow-matching) and CGnet (force matching, the baseline).
KINDS = ("flow_cgnet", "cgnet")
#: Where the shipped results live (in the repository).
RESULTS = Path(__file__).resolve().parent.parent / "data" / "results" / "cln025"
#: Teacher samples and student-set points that :meth:`Study.export` ships for chapter 8.
EXPORTED_SAMPLES = 20_000
EXPORTED_STUDENT_SET = 10_000
#: The files that :meth:`Study.export` writes beside ``study.json``.
EXPORTED = ("flow_cgnet.pt", "cgnet.pt", "flow_cgnet_frames.npz", "cgnet_frames.npz", "teacher_samples.npz", "student_set.npz")


def spread_grid() -> tuple[int, ...]:
    """Spread-point counts that :meth:`Study.spread` tries (fast mode: two small ones)."""
    return pick((5_000, 10_000, 20_000), (300, 600))


@dataclass
class Settings:
    """The study's settings: student ``seeds`` (the first also seeds the teacher and the
    calibration), parallel tempering per replica (ps), plain Langevin replicas and their
    length (ps)."""

    seeds: tuple[int, ...] = (0, 1, 2)
    tempering_picoseconds: float = 100.0
    langevin_replicas: int = 16
    langevin_picoseconds: float = 1_000.0

    @classmethod
    def fast(cls) -> Settings:
        """Tiny settings for the tests."""
        return cls(seeds=(0, 1), tempering_picoseconds=4.0, langevin_replicas=2, langevin_picoseconds=2.0)


def steps(picoseconds: float, time_step: float = presets.TIME_STEP) -> int:
    """Integration steps in ``picoseconds`` (ps) at ``time_step`` (ps)."""
    return int(round(picoseconds / time_step))


def flow_cgnet_name(n_spread: int, seed: int) -> str:
    """The name of the Flow-CGnet with ``n_spread`` spread points and ``seed``."""
    return f"flow_cgnet_spread{n_spread}_seed{seed}"


def cgnet_name(seed: int) -> str:
    """The name of the force-matching CGnet of ``seed``."""
    return f"cgnet_seed{seed}"


class Study:
    """The study of ``frames`` (:func:`cgflow.chignolin.reference_frames`) in ``folder``.
    Every method returns its stage, loading it when its file exists. The record's rows are
    ``{"stage", "seconds", ...}`` for training and simulation stages and ``{"model", ...}`` for
    scores, each with the commit that made it."""

    def __init__(self, frames: CGDataset, folder: Path = RESULTS, settings: Settings | None = None):
        self.frames = frames
        self.folder = Path(folder)
        self.settings = settings or Settings()
        self.seed = self.settings.seeds[0]
        chosen = evenly_spaced(len(frames), min(N_TRAIN, len(frames) // 2))  # half of a smaller set
        self.train = frames.select(chosen)
        #: Frames between the training frames, for validation losses (correlated with their
        #: neighbours 1 ps away, so these monitor training rather than test it).
        between = frames.select(np.setdiff1d(np.arange(len(frames)), chosen))
        self.between = between.subsample(min(pick(5_000, 500), len(between)))
        self.reference = chignolin.folded_reference(frames.positions)
        self.config = dataclasses.replace(presets.cgnet_config(frames.n_beads, frames.temperature), repulsion_min_separation=3)
        path = self.folder / "study.json"
        self.rows = json.loads(path.read_text())["rows"] if path.exists() else []
        self._spread: int | None = None

    def _cached(self, name: str) -> Path:
        (self.folder / "cache").mkdir(parents=True, exist_ok=True)
        return self.folder / "cache" / name

    def _save_row(self, key: str, name: str, **values) -> None:
        """Record a row in ``study.json``, merged with the rows that other processes of the same
        study (:meth:`models` of other kinds or seeds) have written since this one read them. A
        row with ``seconds`` (wall time) also records the torch ``threads`` that the stage ran
        on, so that its cost reads in core-hours."""
        import fcntl  # POSIX; the study's parallel processes run on Linux or macOS

        if "seconds" in values:
            values["threads"] = torch.get_num_threads()
        path = self.folder / "study.json"
        with open(self._cached("study.lock"), "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes, or when the process dies
            stored = json.loads(path.read_text())["rows"] if path.exists() else []
            self.rows = [row for row in stored if row.get(key) != name] + [{key: name, "date": time.strftime("%Y-%m-%d"), **values}]
            settings = {**dataclasses.asdict(self.settings), "n_train": len(self.train), "tempering_range": TEMPERING_RANGE,
                        "spread_grid": spread_grid(), **presets.flow_matching_settings()}
            settings.pop("spread_points")  # calibrated: the "spread" stage's row
            presets.save_benchmark_record(path, settings, self.rows)

    def row(self, key: str, name: str) -> dict:
        """The recorded row ``{key: name, ...}``."""
        return find_row(self.rows, key, name)

    # -- the teacher and the students -----------------------------------------------------
    def teacher(self) -> AugmentedFlow:
        """The teacher, trained by maximum likelihood on the training frames."""
        path = self._cached("teacher.pt")
        if path.exists():
            return AugmentedFlow.load(path)
        start = time.perf_counter()
        seed_everything(self.seed)
        config = dataclasses.replace(presets.teacher_config(self.frames.n_beads, self.frames.temperature), n_blocks=TEACHER_BLOCKS)
        teacher = AugmentedFlow.from_data(self.train.positions, config)
        history = teacher.fit(self.train.positions, self.between.positions, presets.teacher_training(self.seed))
        teacher.save(path)
        self._save_row("stage", "teacher", seconds=round(time.perf_counter() - start, 1), validation_nll=round(history.validation[-1], 4))
        return teacher

    def teacher_sample(self) -> FlowSample:
        """``presets.student_samples()`` samples of the teacher with their forces."""
        path = self._cached("teacher_sample.pt")
        if path.exists():
            return FlowSample(*torch.load(path))
        generator = torch.Generator().manual_seed(self.seed)
        sample = self.teacher().sample(presets.student_samples(), generator=generator)
        torch.save((sample.positions, sample.eta, sample.energy, sample.forces), path)
        return sample

    def flow_cgnet(self, n_spread: int, seed: int) -> CGNet:
        """The Flow-CGnet trained with ``n_spread`` spread points and ``seed`` (spread, labels,
        initial weights and batches; the teacher sample is the same for every seed)."""
        name = flow_cgnet_name(n_spread, seed)
        path = self._cached(f"{name}.pt")
        if path.exists():
            return CGNet.load(path)
        student = presets.flow_matching_set(self.teacher(), self.teacher_sample(), seed, n_spread)
        start = time.perf_counter()
        model, history = presets.force_match(self.train.positions, student.positions, student.forces, self.config, seed)
        model.save(path)
        self._save_row("stage", name, seconds=round(time.perf_counter() - start, 1), validation_loss=round(history.validation[history.best_epoch], 4),
                       spread_kept=round(student.kept_fraction, 4))
        return model

    def cgnet(self, seed: int) -> CGNet:
        """The baseline: force matching of the training frames' all-atom forces."""
        name = cgnet_name(seed)
        path = self._cached(f"{name}.pt")
        if path.exists():
            return CGNet.load(path)
        start = time.perf_counter()
        model, history = presets.force_match(self.train.positions, self.train.positions, self.train.forces, self.config,
                                             seed, validation=(self.between.positions, self.between.forces))
        model.save(path)
        self._save_row("stage", name, seconds=round(time.perf_counter() - start, 1),
                       validation_loss=round(history.validation[history.best_epoch], 4))
        return model

    def spread(self) -> int:
        """The number of spread points, calibrated without the ground truth: of
        :func:`spread_grid`, the one whose first-seed student's parallel-tempering ensemble
        has the folded fraction closest to the teacher's own samples (calibrated once per
        study object; the candidates' stages are cached)."""
        if self._spread is not None:
            return self._spread
        teacher = self.score("teacher", self.teacher_sample().positions.numpy()[None], n_blocks=10)
        candidates = {}
        for n_spread in spread_grid():
            name = flow_cgnet_name(n_spread, self.seed)
            candidates[n_spread] = self.score(name, self.simulations(name, self.flow_cgnet(n_spread, self.seed))["tempering"])
        chosen = min(candidates, key=lambda n: abs(candidates[n]["folded"] - teacher["folded"]))
        self._save_row("stage", "spread", spread_points=chosen, teacher_folded=teacher["folded"],
                       candidates_folded={str(n): row["folded"] for n, row in candidates.items()})
        self._spread = chosen
        return chosen

    # -- simulations and scores -------------------------------------------------------------
    def simulations(self, name: str, model: CGNet, langevin: bool = False) -> dict[str, np.ndarray]:
        """``tempering``: 340 K frames of parallel tempering ``[walkers, frames, 10, 3]`` (nm,
        every 0.4 ps); with ``langevin``, also plain Langevin paths at 340 K ``[frames,
        replicas, 10, 3]`` (nm, every ps), from training frames. Each part is stored once."""
        path = self._cached(f"{name}_simulations.npz")
        arrays = dict(np.load(path)) if path.exists() else {}
        settings = self.settings
        # compiled: 1.15x (parallel tempering) to 1.75x (16 Langevin replicas) faster, after 10-30 s
        # of compiling, which would dominate fast mode's tiny runs
        force_field = model.energy_and_forces if fast_mode() else model.compiled_force_field()
        if "tempering" not in arrays:
            start = time.perf_counter()
            run = presets.cold_frames(force_field, self.frames.masses, self.train.positions, self.seed,
                                      n_steps=steps(settings.tempering_picoseconds), temperature_range=TEMPERING_RANGE)
            every = max(1, round(0.4 / (presets.save_every() * presets.TIME_STEP)))  # keep a frame every 0.4 ps
            arrays["tempering"] = run.frames[:, ::every].astype(np.float32)
            np.savez_compressed(path, **arrays)
            self._save_row("stage", f"{name}_tempering", seconds=round(time.perf_counter() - start, 1),
                           swap_acceptance=np.round(run.acceptance, 3).tolist())
        if langevin and "langevin" not in arrays:
            start = time.perf_counter()
            rng = np.random.default_rng(self.seed)
            starts = self.train.positions[rng.choice(len(self.train), settings.langevin_replicas, replace=False)]
            simulation = LangevinSimulation(force_field, self.frames.masses, self.frames.temperature,
                                            time_step=LANGEVIN_TIME_STEP, friction=1.0, seed=self.seed)
            run = simulation.run(starts, steps(settings.langevin_picoseconds, LANGEVIN_TIME_STEP),
                                 save_every=steps(1.0, LANGEVIN_TIME_STEP))
            arrays["langevin"] = run.positions.astype(np.float32)
            np.savez_compressed(path, **arrays)
            self._save_row("stage", f"{name}_langevin", seconds=round(time.perf_counter() - start, 1))
        return arrays

    def score(self, name: str, frames: np.ndarray, paths: np.ndarray | None = None, n_blocks: int | None = None) -> dict:
        """Scores of ``frames`` ``[blocks, frames, 10, 3]`` (nm; e.g. walkers) and, when given,
        of the Langevin ``paths`` ``[frames, replicas, 10, 3]``, recorded as the row of ``name``."""
        flat = frames.reshape(-1, *frames.shape[-2:])
        distance = analysis.rmsd(flat, self.reference)
        folded = chignolin.folded_fraction(distance, n_blocks or len(frames))
        row = {"folded": round(folded.value, 4), "folded_error": round(folded.error, 4),
               "beyond_0_4nm": round(float(np.mean(distance > 0.4)), 4), "minima_nm": rmsd_minima(distance),
               "frames": len(flat)}
        if paths is not None:
            folding, unfolding = chignolin.folding_events(paths.swapaxes(0, 1), self.reference)
            row.update(folding_events=folding, unfolding_events=unfolding, langevin_ns=round(paths.shape[0] * paths.shape[1] / 1000, 3))
        self._save_row("model", name, **row)
        return row

    def models(self, kinds: tuple[str, ...] = KINDS, seeds: tuple[int, ...] | None = None) -> dict[str, dict[int, CGNet]]:
        """The students of ``kinds`` (of :data:`KINDS`) and ``seeds`` (default: the settings'),
        simulated and scored: ``{kind: {seed: model}}`` (Flow-CGnets with the calibrated
        :meth:`spread`). Parts of a study can run in parallel processes on the same folder
        (e.g. the CGnets in one, the Flow-CGnets in another: the CGnets need no teacher); start
        other seeds' Flow-CGnets only once the calibration is cached, or both processes make it."""
        seeds = self.settings.seeds if seeds is None else seeds
        unknown = (set(kinds) - set(KINDS)) | {f"seed {seed}" for seed in set(seeds) - set(self.settings.seeds)}
        if unknown:
            raise ValueError(f"not in the study: {sorted(map(str, unknown))}; its kinds are {KINDS}, its seeds {self.settings.seeds}")
        n_spread = self.spread() if "flow_cgnet" in kinds else None
        students = {"flow_cgnet": lambda seed: (self.flow_cgnet(n_spread, seed), flow_cgnet_name(n_spread, seed)),
                    "cgnet": lambda seed: (self.cgnet(seed), cgnet_name(seed))}
        models = {kind: {} for kind in kinds}
        for seed in seeds:
            for kind in kinds:
                model, name = students[kind](seed)
                simulations = self.simulations(name, model, langevin=True)
                self.score(name, simulations["tempering"], simulations["langevin"])
                models[kind][seed] = model
        return models

    def export(self) -> list[Path]:
        """Write what chapter 8 reads beside ``study.json``, after :meth:`models`: the first
        seed's students (``flow_cgnet.pt``, ``cgnet.pt``) and their simulations
        (``{model}_frames.npz``: ``tempering`` and ``langevin``, float16 with each frame's
        centroid at the origin, about 0.001 nm of rounding), :data:`EXPORTED_SAMPLES` teacher
        samples (``teacher_samples.npz``, float16) and :data:`EXPORTED_STUDENT_SET` points of
        the Flow-CGnet's training set with their labels (``student_set.npz``, float32: nm,
        kJ/mol/nm)."""
        self.models()
        n_spread, written = self.spread(), []
        for kind, name in (("flow_cgnet", flow_cgnet_name(n_spread, self.seed)), ("cgnet", cgnet_name(self.seed))):
            written.append(Path(shutil.copyfile(self._cached(f"{name}.pt"), self.folder / f"{kind}.pt")))
            with np.load(self._cached(f"{name}_simulations.npz")) as stored:
                written.append(save_npz(self.folder / f"{kind}_frames.npz", **{key: centred_float16(stored[key]) for key in stored.files}))
        samples = self.teacher_sample().positions.numpy()
        written.append(save_npz(self.folder / "teacher_samples.npz", positions=centred_float16(samples[evenly_spaced(len(samples), EXPORTED_SAMPLES)])))
        student = presets.flow_matching_set(self.teacher(), self.teacher_sample(), self.seed, n_spread)
        kept = np.arange(min(EXPORTED_STUDENT_SET, len(student.positions)))  # shuffled already
        written.append(save_npz(self.folder / "student_set.npz", positions=student.positions[kept].numpy(),
                             forces=student.forces[kept].numpy(), is_spread=student.is_spread[kept].numpy()))
        return written


@dataclass(frozen=True)
class Results:
    """What :meth:`Study.export` wrote, as chapter 8 reads it: the record's ``rows`` and
    ``settings`` (``study.json``), the first seed's ``models`` (``"flow_cgnet"``, ``"cgnet"``)
    and their ``frames`` (``{model: {"tempering": [walkers, frames, 10, 3], "langevin":
    [frames, replicas, 10, 3]}}``, nm, float16), ``teacher_samples`` ``[n, 10, 3]`` (nm) and
    the ``student_set`` (``positions`` nm, ``forces`` kJ/mol/nm, ``is_spread``)."""

    rows: list[dict]
    settings: dict
    models: dict[str, CGNet]
    frames: dict[str, dict[str, np.ndarray]]
    teacher_samples: np.ndarray
    student_set: dict[str, np.ndarray]

    @classmethod
    def load(cls, folder: Path = RESULTS) -> Results:
        """The results in ``folder``; a clear error names the files missing and how to make them."""
        folder = Path(folder)
        missing = [name for name in ("study.json",) + EXPORTED if not (folder / name).exists()]
        if missing:
            raise FileNotFoundError(f"{folder} lacks {', '.join(missing)}: python benchmarks/cln025_models.py makes them (hours of CPU)")
        record = json.loads((folder / "study.json").read_text())
        arrays = {}
        for name in ("flow_cgnet_frames", "cgnet_frames", "teacher_samples", "student_set"):
            with np.load(folder / f"{name}.npz") as stored:
                arrays[name] = dict(stored)
        return cls(record["rows"], record["settings"], {kind: CGNet.load(folder / f"{kind}.pt") for kind in ("flow_cgnet", "cgnet")},
                   {kind: arrays[f"{kind}_frames"] for kind in ("flow_cgnet", "cgnet")}, arrays["teacher_samples"]["positions"],
                   arrays["student_set"])

    def row(self, key: str, name: str) -> dict:
        """The recorded row ``{key: name, ...}``."""
        return find_row(self.rows, key, name)


def find_row(rows: list[dict], key: str, name: str) -> dict:
    """The row of ``rows`` whose ``key`` is ``name``."""
    found = [row for row in rows if row.get(key) == name]
    if not found:
        raise KeyError(f"no row with {key} = {name!r}; recorded: {sorted({str(row[key]) for row in rows if key in row})}")
    return found[-1]


def rmsd_minima(distance: np.ndarray, bin_width: float = 0.02, min_probability: float = 1e-3) -> list[float]:
    """Positions (nm, bin centres) of the local minima of the free energy of C-alpha RMSD
    ``distance`` (nm) on bins of ``bin_width`` nm from 0 to 1 nm, at least 1 kT deep on both
    sides (shallower dips are noise), lowest first. Bins holding less than ``min_probability``
    of the frames count as empty (their free energy is noise)."""
    probability, (edges,) = analysis.histogram(distance, bins=int(round(1.0 / bin_width)), range=[(0.0, 1.0)])
    with np.errstate(divide="ignore"):
        beta_f = np.where(probability >= min_probability, -np.log(probability), np.inf)
    centres = 0.5 * (edges[1:] + edges[:-1])
    minima = [i for i in np.flatnonzero(np.isfinite(beta_f))
              if all(_rises_by(side, beta_f[i], 1.0) for side in (beta_f[:i][::-1], beta_f[i + 1 :]))]
    return [round(float(centres[i]), 3) for i in sorted(minima, key=lambda i: beta_f[i])]


def _rises_by(side: np.ndarray, value: float, depth: float) -> bool:
    """Whether ``side`` (values walking away from a bin) climbs ``depth`` above ``value`` before
    it drops below it (or runs out or meets an empty bin: also a wall)."""
    for other in side:
        if not np.isfinite(other) or other >= value + depth:
            return True
        if other < value:
            return False
    return True
