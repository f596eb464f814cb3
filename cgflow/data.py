"""CG datasets: the shipped reference data and your own trajectories, in one container.

A :class:`CGDataset` holds CG positions ``[frames, beads, 3]`` in nm, optional CG forces in
kJ/mol/nm (same shape), optional non-negative frame weights, the temperature in K, the bead
topology and the lengths of the independent trajectories it concatenates. Splits into
training and validation data are contiguous (whole trajectories, or the final block of each
trajectory), so that correlated neighbouring frames never end up on both sides.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import sys
from dataclasses import dataclass, field, replace
from pathlib import Path

import mdtraj
import numpy as np

from .cgmap import cg_topology
from .manifest import verify_file
from .units import KJ_PER_KCAL, NM_PER_ANGSTROM

#: Conversion factors into nm and kJ/mol/nm for user data in other units.
LENGTH_UNITS = {"nm": 1.0, "angstrom": NM_PER_ANGSTROM, "A": NM_PER_ANGSTROM}
FORCE_UNITS = {
    "kJ/mol/nm": 1.0,
    "kJ/mol/angstrom": 1.0 / NM_PER_ANGSTROM,
    "kcal/mol/nm": KJ_PER_KCAL,
    "kcal/mol/angstrom": KJ_PER_KCAL / NM_PER_ANGSTROM,
}

#: Shipped datasets: the CG arrays and the bead topology, paths inside the data folder.
DATASETS = {
    name: {
        "arrays": f"{name}/{name}_cg.npz",
        "topology": f"{name}/{name}_cg.pdb",
        "allatom_trajectory": f"{name}/{name}_allatom.dcd",
        "allatom_topology": f"{name}/{name}_allatom.pdb",
        **({"ladders": f"{name}/{name}_ladders.npz"} if name in ("ala2", "cln025") else {}),  # replica exchange
        **({"native": f"{name}/{name}_native.pdb"} if name == "cln025" else {}),
    }
    for name in ("ala2", "cln025", "cln025_md")
}


def data_dir() -> Path:
    """The folder with the shipped data: ``$CGFLOW_DATA`` if set, else ``data/`` of the repository."""
    return Path(os.environ.get("CGFLOW_DATA", Path(__file__).resolve().parent.parent / "data"))


def centred_float16(positions: np.ndarray) -> np.ndarray:
    """``positions`` ``[..., beads, 3]`` (nm) with each frame's centroid moved to the origin,
    as float16, for shipping frames that are only looked at (free energies, pictures): within
    2 nm of the origin float16's spacing is at most 0.001 nm."""
    positions = np.asarray(positions, dtype=np.float64)
    return (positions - positions.mean(axis=-2, keepdims=True)).astype(np.float16)


def evenly_spaced(total: int, n: int) -> np.ndarray:
    """``n`` increasing frame indices evenly spaced from 0 to ``total - 1``."""
    return np.unique(np.linspace(0, total - 1, n).round().astype(np.int64))


@dataclass
class CGDataset:
    """CG configurations with optional forces and weights.

    positions: ``[frames, beads, 3]`` in nm. forces: same shape in kJ/mol/nm, or None.
    weights: ``[frames]`` non-negative, or None for equal weights. temperature: K.
    trajectory_lengths: frames of each independent trajectory, in order (default: one).
    time_step: ps between saved frames, or None when frames are not a time series.
    """

    positions: np.ndarray
    topology: mdtraj.Topology
    temperature: float
    forces: np.ndarray | None = None
    weights: np.ndarray | None = None
    trajectory_lengths: np.ndarray | None = None
    time_step: float | None = None
    name: str = "dataset"
    source: str = field(default="arrays", repr=False)

    def __post_init__(self) -> None:
        where = f"{self.name} ({self.source})"
        self.positions = _checked_array(self.positions, "positions", where)
        if self.positions.ndim != 3 or self.positions.shape[2] != 3:
            raise ValueError(f"{where}: positions must have shape [frames, beads, 3], got {self.positions.shape}")
        if self.positions.shape[1] != self.topology.n_atoms:
            raise ValueError(
                f"{where}: positions have {self.positions.shape[1]} beads but the topology has {self.topology.n_atoms}"
            )
        if self.forces is not None:
            self.forces = _checked_array(self.forces, "forces", where)
            if self.forces.shape != self.positions.shape:
                raise ValueError(f"{where}: forces shape {self.forces.shape} differs from positions {self.positions.shape}")
        self.weights = checked_weights(self.weights, len(self.positions), where)
        lengths = [len(self.positions)] if self.trajectory_lengths is None else self.trajectory_lengths
        self.trajectory_lengths = np.asarray(lengths, dtype=np.int64)
        if (self.trajectory_lengths < 0).any() or self.trajectory_lengths.sum() != len(self.positions):
            raise ValueError(
                f"{where}: trajectory lengths {self.trajectory_lengths.tolist()} do not add up to {len(self.positions)} frames"
            )
        if not np.isfinite(self.temperature) or self.temperature <= 0:
            raise ValueError(f"{where}: temperature must be positive, in K; got {self.temperature!r}")
        self.temperature = float(self.temperature)

    def __len__(self) -> int:
        return len(self.positions)

    @property
    def n_beads(self) -> int:
        """Beads per frame."""
        return self.positions.shape[1]

    @property
    def masses(self) -> np.ndarray:
        """Bead masses in amu ``[beads]``, from the elements of the CG topology."""
        return np.array([atom.element.mass for atom in self.topology.atoms], dtype=np.float64)

    @property
    def trajectory_starts(self) -> np.ndarray:
        """Index of the first frame of each trajectory."""
        return np.concatenate([[0], np.cumsum(self.trajectory_lengths)[:-1]])

    def trajectories(self) -> list[slice]:
        """One slice of frames per trajectory."""
        return [slice(int(s), int(s + n)) for s, n in zip(self.trajectory_starts, self.trajectory_lengths)]

    def select(self, frames: np.ndarray) -> CGDataset:
        """The dataset restricted to ``frames``, an increasing array of frame indices.

        Trajectory lengths count the selected frames of each original trajectory. The time
        step is kept when the selection is contiguous inside every trajectory, else dropped.
        """
        frames = np.asarray(frames, dtype=np.int64)
        if frames.ndim != 1 or (np.diff(frames) <= 0).any():
            raise ValueError("frame indices must be a strictly increasing 1D array")
        if len(frames) and (frames[0] < 0 or frames[-1] >= len(self)):
            raise ValueError(f"frame indices out of range for {len(self)} frames")
        bounds = np.concatenate([self.trajectory_starts, [len(self)]])
        counts = np.histogram(frames, bins=bounds)[0]
        owner = np.searchsorted(bounds, frames, side="right")
        contiguous = bool(np.all(np.diff(frames)[owner[1:] == owner[:-1]] == 1))
        return replace(
            self,
            positions=self.positions[frames],
            forces=None if self.forces is None else self.forces[frames],
            weights=None if self.weights is None else self.weights[frames],
            trajectory_lengths=counts[counts > 0],
            time_step=self.time_step if contiguous else None,
        )

    def subsample(self, n: int) -> CGDataset:
        """``n`` frames evenly spaced over the whole dataset (every trajectory contributes)."""
        if not 0 < n <= len(self):
            raise ValueError(f"cannot subsample {n} frames from {len(self)}")
        return self.select(evenly_spaced(len(self), n))

    def split(self, validation_fraction: float = 0.2, by: str = "block") -> tuple[CGDataset, CGDataset]:
        """Contiguous training and validation sets.

        ``by="block"``: the last ``validation_fraction`` of every trajectory is validation.
        ``by="trajectory"``: whole trajectories (the last ones) are validation; needs at least
        two trajectories. Frames are never shuffled across the split.
        """
        if not 0.0 < validation_fraction < 1.0:
            raise ValueError(f"validation_fraction must be between 0 and 1, got {validation_fraction}")
        is_validation = np.zeros(len(self), dtype=bool)
        if by == "block":
            for part, n in zip(self.trajectories(), self.trajectory_lengths):
                n_validation = int(round(n * validation_fraction))
                is_validation[part.stop - n_validation : part.stop] = True
        elif by == "trajectory":
            n_trajectories = len(self.trajectory_lengths)
            n_validation = int(round(n_trajectories * validation_fraction))
            if n_trajectories < 2 or n_validation == 0:
                raise ValueError(
                    f"{self.name}: a split by trajectory needs at least two trajectories and a validation fraction"
                    f" that covers one; have {n_trajectories} trajectories (use by='block')"
                )
            for part in self.trajectories()[n_trajectories - n_validation :]:
                is_validation[part] = True
        else:
            raise ValueError(f"split by must be 'block' or 'trajectory', got {by!r}")
        if is_validation.all() or not is_validation.any():
            raise ValueError(f"{self.name}: too few frames ({len(self)}) for a validation fraction of {validation_fraction}")
        return self.select(np.flatnonzero(~is_validation)), self.select(np.flatnonzero(is_validation))

    def to_mdtraj(self) -> mdtraj.Trajectory:
        """The positions as an ``mdtraj.Trajectory`` (nm; time in ps when the time step is known)."""
        time = None if self.time_step is None else np.arange(len(self)) * self.time_step
        return mdtraj.Trajectory(self.positions, self.topology, time=time)


def checked_weights(weights, n: int, where: str = "") -> np.ndarray | None:
    """Frame weights ``[n]`` as float64 after checking them (None stays None: equal weights).

    Raises ``ValueError`` (prefixed by ``where``) for a wrong shape, NaN, infinite or negative
    values, or weights that are all zero."""
    if weights is None:
        return None
    prefix = f"{where}: " if where else ""
    weights = np.asarray(weights, dtype=np.float64)
    if weights.shape != (n,):
        raise ValueError(f"{prefix}weights must have shape [{n}] to match the samples, got {weights.shape}")
    if not np.isfinite(weights).all() or (weights < 0).any():
        raise ValueError(f"{prefix}weights must be finite and non-negative")
    if weights.sum() <= 0:
        raise ValueError(f"{prefix}weights are all zero")
    return weights


def _checked_array(values, what: str, where: str) -> np.ndarray:
    array = np.asarray(values, dtype=np.float32)
    bad = ~np.isfinite(array)
    if bad.any():
        frame = int(np.argwhere(bad)[0][0]) if array.ndim else 0
        raise ValueError(f"{where}: {what} contain {int(bad.sum())} NaN or infinite values (first in frame {frame})")
    return array


def _dataset_files(name: str, directory: Path | None) -> tuple[Path, dict[str, str]]:
    if name not in DATASETS:
        raise KeyError(f"unknown dataset {name!r}; shipped datasets: {sorted(DATASETS)}")
    return (Path(directory) if directory is not None else data_dir()), DATASETS[name]


def load_allatom(name: str, directory: Path | None = None) -> mdtraj.Trajectory:
    """The shipped all-atom frames of a dataset (nm; a few thousand frames for viewing and
    for checking the CG map), after verifying their checksums."""
    directory, files = _dataset_files(name, directory)
    topology = verify_file(directory, name, files["allatom_topology"])
    trajectory = verify_file(directory, name, files["allatom_trajectory"])
    with silent_c_stdout():  # mdtraj's DCD reader prints plugin banners from C
        return mdtraj.load(str(trajectory), top=str(topology))


def save_npz(path: Path, **arrays) -> Path:
    """Write ``arrays`` compressed to ``path`` in one go (a write cut off while compressing
    leaves the old file) and return the path."""
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    Path(path).write_bytes(buffer.getvalue())
    return Path(path)


def load_native(name: str, directory: Path | None = None) -> mdtraj.Trajectory:
    """The native structure that a dataset's assembly read off its data (one all-atom frame,
    nm; how it was chosen is in the manifest's provenance), after verifying its checksum."""
    directory, files = _dataset_files(name, directory)
    if "native" not in files:
        raise KeyError(f"dataset {name!r} ships no native structure")
    return mdtraj.load(str(verify_file(directory, name, files["native"])))


def load_ladders(name: str, directory: Path | None = None) -> list[dict[str, np.ndarray]]:
    """The replica-exchange records of a dataset, one dict per ladder (after verifying their
    checksums): ``walkers`` ``[frames, rungs]`` (which walker sits at each rung at every saved
    frame, before the dataset's frame stride), ``rung_positions`` ``[records, rungs, beads, 3]``
    (nm, float16, centred), ``record_walkers`` ``[records, rungs]``, the exchange ``attempts``
    and ``accepted`` ``[chunks, pairs]``, and ``temperatures`` (K) and ``intervals`` (ps)."""
    directory, files = _dataset_files(name, directory)
    if "ladders" not in files:
        raise KeyError(f"dataset {name!r} has no replica-exchange records")
    with np.load(verify_file(directory, name, files["ladders"])) as stored:
        arrays = dict(stored)
    walkers = np.split(arrays["walkers"], np.cumsum(arrays["walker_lengths"])[:-1])
    positions = np.split(arrays["rung_positions"], np.cumsum(arrays["record_lengths"])[:-1])
    record_walkers = np.split(arrays["record_walkers"], np.cumsum(arrays["record_lengths"])[:-1])
    shared = {"temperatures": arrays["temperatures"], "intervals": json.loads(str(arrays["intervals"]))}
    return [{"walkers": w, "rung_positions": p, "record_walkers": r, "attempts": a, "accepted": c, **shared}
            for w, p, r, a, c in zip(walkers, positions, record_walkers, arrays["attempts"], arrays["accepted"])]


@contextlib.contextmanager
def silent_c_stdout():
    """Send what C code writes to file descriptor 1 to /dev/null for the duration."""
    sys.stdout.flush()
    saved = os.dup(1)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 1)
        yield
    finally:
        os.dup2(saved, 1)
        os.close(devnull)
        os.close(saved)


def load(name: str, directory: Path | None = None) -> CGDataset:
    """A shipped dataset by name (``"ala2"``), after verifying its checksums.

    Raises ``KeyError`` for an unknown name, ``FileNotFoundError`` for a missing file and
    ``ValueError`` for a file whose checksum differs from ``data/MANIFEST.json``.
    """
    directory, files = _dataset_files(name, directory)
    arrays_path = verify_file(directory, name, files["arrays"])
    topology_path = verify_file(directory, name, files["topology"])
    topology = read_cg_topology(topology_path)
    with np.load(arrays_path) as arrays:
        units = json.loads(str(arrays["units"]))
        if units.get("positions") != "nm" or units.get("forces") != "kJ/mol/nm":
            raise ValueError(f"{arrays_path}: unexpected units {units}; expected nm and kJ/mol/nm")
        return CGDataset(
            positions=arrays["positions"],
            forces=arrays["forces"],
            topology=topology,
            temperature=float(arrays["temperature"]),
            trajectory_lengths=arrays["trajectory_lengths"],
            time_step=float(arrays["time_step"]),
            name=name,
            source=str(arrays_path),
        )


def read_cg_topology(path: Path) -> mdtraj.Topology:
    """Bead topology from a PDB file, with bonds between consecutive beads of each chain."""
    topology = mdtraj.load_topology(str(path))
    return cg_topology(topology, list(range(topology.n_atoms)))


def from_npz(
    path: Path,
    topology: mdtraj.Topology | Path | str,
    temperature: float,
    length_unit: str = "nm",
    force_unit: str = "kJ/mol/nm",
    time_step: float | None = None,
) -> CGDataset:
    """Your own data from an ``.npz`` with ``positions`` and optional ``forces``, ``weights``,
    ``trajectory_lengths``; ``topology`` is an ``mdtraj.Topology`` or a PDB of the beads.
    Units are converted from ``length_unit`` and ``force_unit`` to nm and kJ/mol/nm."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no such data file: {path}")
    length_scale, force_scale = unit_scale(length_unit, LENGTH_UNITS, "length"), unit_scale(force_unit, FORCE_UNITS, "force")
    with np.load(path) as arrays:
        if "positions" not in arrays:
            raise ValueError(f"{path}: no 'positions' array (found {sorted(arrays.files)})")
        get = lambda key: arrays[key] if key in arrays else None  # noqa: E731
        forces = get("forces")
        return CGDataset(
            positions=arrays["positions"] * length_scale,
            forces=None if forces is None else forces * force_scale,
            weights=get("weights"),
            trajectory_lengths=get("trajectory_lengths"),
            topology=_as_topology(topology),
            temperature=temperature,
            time_step=time_step,
            name=path.stem,
            source=str(path),
        )


def from_trajectories(
    trajectories: list[Path | str],
    topology: Path | str,
    temperature: float,
    atom_indices: list[int] | None = None,
    stride: int = 1,
) -> CGDataset:
    """Your own CG (or all-atom, sliced by ``atom_indices``) trajectories in any format mdtraj
    reads; each file is one independent trajectory. Positions only: no forces."""
    parts = [mdtraj.load(str(path), top=str(topology), atom_indices=atom_indices, stride=stride) for path in trajectories]
    if not parts:
        raise ValueError("no trajectory files given")
    timestep = parts[0].timestep if parts[0].n_frames > 1 else None
    return CGDataset(
        positions=np.concatenate([p.xyz for p in parts]),
        topology=cg_topology(parts[0].topology, list(range(parts[0].n_atoms))),
        temperature=temperature,
        trajectory_lengths=[p.n_frames for p in parts],
        time_step=timestep,
        name=Path(str(trajectories[0])).stem,
        source=", ".join(str(p) for p in trajectories),
    )


def unit_scale(unit: str, table: dict[str, float], what: str) -> float:
    """The factor from ``unit`` into cgflow's unit, from ``table`` (``LENGTH_UNITS`` or
    ``FORCE_UNITS``); an unknown unit is refused with the known ones."""
    if unit not in table:
        raise ValueError(f"unknown {what} unit {unit!r}; known: {sorted(table)}")
    return table[unit]


def _as_topology(topology: mdtraj.Topology | Path | str) -> mdtraj.Topology:
    return topology if isinstance(topology, mdtraj.Topology) else read_cg_topology(Path(topology))
