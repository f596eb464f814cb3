"""Your own molecule: all-atom trajectories (and their forces) mapped to a :class:`CGDataset`.

:func:`map_allatom` reads trajectories in any format mdtraj reads, puts one bead on every atom
that an mdtraj selection picks (a slice map, ``cgflow.cgmap``) and, when all-atom forces are
given, aggregates them onto the beads with the constraint-aware force map of chapter 3 (the
bead atom plus the hydrogens bonded to it). Everything that can be wrong with such input is
checked before a dataset is made, and each error names the file, the frame or the atom count
at fault: an unreadable or truncated trajectory, a topology that does not match it, a
selection that picks nothing, forces whose frames or atoms do not match the positions,
NaN or infinite values, and positions or forces in the wrong units.
"""

from __future__ import annotations

import struct
from pathlib import Path

import mdtraj
import numpy as np

from .cgmap import cg_topology, force_map_matrix
from .data import FORCE_UNITS, CGDataset, silent_c_stdout, unit_scale

#: Bonded bead distances outside this range (nm) mean the positions are not in nm (Angstrom
#: data are ten times too large) or the selection is not a chain of bonded neighbours.
PLAUSIBLE_BOND_NM = (0.09, 0.8)


def bead_atoms(topology: mdtraj.Topology, selection: str) -> list[int]:
    """Indices of the atoms an mdtraj ``selection`` picks (e.g. ``"name CA"``), in order."""
    try:
        picked = topology.select(selection)
    except Exception as error:  # mdtraj raises its own parse errors
        raise ValueError(f"the selection {selection!r} is not valid mdtraj syntax: {error}") from error
    if len(picked) < 2:
        raise ValueError(f"the selection {selection!r} picks {len(picked)} atom(s) of {topology.n_atoms}; a CG model needs at least 2 beads")
    return [int(i) for i in picked]


def read_trajectory(path: Path | str, topology: Path | str, stride: int = 1) -> mdtraj.Trajectory:
    """One all-atom trajectory (positions nm), with errors that name the file: unreadable,
    truncated (a DCD whose header promises more frames than the file holds), or written for
    another topology."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no trajectory file at {path}")
    try:
        with silent_c_stdout():  # the DCD reader prints banners and warnings from C
            trajectory = mdtraj.load(str(path), top=str(topology), stride=stride)
    except Exception as error:
        raise ValueError(f"{path}: cannot be read as a trajectory of {topology}: {error}") from error
    promised = _dcd_frames_in_header(path)
    if promised is not None and trajectory.n_frames * stride < promised - (stride - 1):
        raise ValueError(f"{path}: truncated, the header promises {promised} frames but the file holds {trajectory.n_frames * stride}")
    return trajectory


def map_allatom(
    trajectories: list[Path | str],
    topology: Path | str,
    selection: str,
    temperature: float,
    forces: list[Path | str] | None = None,
    force_unit: str = "kJ/mol/nm",
    stride: int = 1,
    time_step: float | None = None,
    name: str | None = None,
) -> CGDataset:
    """A :class:`CGDataset` of beads on the atoms ``selection`` picks (positions nm), from one
    or more independent all-atom ``trajectories`` with their ``topology`` (a PDB, or any file
    mdtraj takes as ``top``) at ``temperature`` (K). ``forces``: optional, one ``.npy`` file
    per trajectory with the all-atom forces ``[frames, atoms, 3]`` in ``force_unit``, frame
    for frame as saved with the positions (before ``stride``); they are aggregated onto the
    beads (constraint-aware, ``cgflow.cgmap``) and converted to kJ/mol/nm. ``time_step``: ps
    between the frames read (after ``stride``); by default taken from files that store times
    (XTC, TRR, HDF5), and unknown for DCD files, whose times mdtraj cannot read reliably."""
    paths = [Path(p) for p in trajectories]
    if not paths:
        raise ValueError("no trajectory files given")
    if forces is not None and len(forces) != len(paths):
        raise ValueError(f"{len(forces)} force files for {len(paths)} trajectories; give one per trajectory, in the same order")
    scale = unit_scale(force_unit, FORCE_UNITS, "force")
    parts = [read_trajectory(path, topology, stride) for path in paths]
    atoms_topology = parts[0].topology
    beads = bead_atoms(atoms_topology, selection)
    positions = [part.xyz[:, beads] for part in parts]
    cg_forces = None
    if forces is not None:
        matrix = force_map_matrix(atoms_topology, beads)
        cg_forces = [np.einsum("ba,fad->fbd", matrix, _read_forces(Path(f), part, stride) * scale) for f, part in zip(forces, parts)]
    dataset = CGDataset(
        positions=np.concatenate(positions),
        forces=None if cg_forces is None else np.concatenate(cg_forces),
        topology=cg_topology(atoms_topology, beads),
        temperature=temperature,
        trajectory_lengths=[part.n_frames for part in parts],
        time_step=time_step if time_step is not None else _stored_time_step(paths[0], parts[0]),
        name=name or paths[0].stem,
        source=", ".join(str(p) for p in paths),
    )
    check_plausible_units(dataset)
    return dataset


def check_plausible_units(dataset: CGDataset) -> None:
    """Refuse positions whose bonded bead distances are not those of a molecule in nm, and
    forces whose typical size is not that of kJ/mol/nm (Angstrom or kcal data slip in
    silently otherwise)."""
    bonds = np.linalg.norm(np.diff(dataset.positions, axis=1), axis=-1)
    median = float(np.median(bonds))
    low, high = PLAUSIBLE_BOND_NM
    if not low <= median <= high:
        raise ValueError(
            f"{dataset.name}: neighbouring beads are {median:.3g} nm apart (median); a chain of bonded beads in nm lies within"
            f" {low}-{high} nm. Are the positions in nm, and does the selection pick bonded neighbours along one chain?"
        )
    if dataset.forces is not None:
        typical = float(np.median(np.linalg.norm(dataset.forces, axis=-1)))
        if not 10.0 <= typical <= 1e5:
            raise ValueError(
                f"{dataset.name}: the median bead force is {typical:.3g} kJ/mol/nm; all-atom CG forces are typically 10^2-10^4."
                " Check force_unit (forces must be forces, not energies or gradients in other units)."
            )


def _read_forces(path: Path, trajectory: mdtraj.Trajectory, stride: int) -> np.ndarray:
    """All-atom forces of one trajectory ``[frames, atoms, 3]`` (file units), checked against it."""
    if not path.exists():
        raise FileNotFoundError(f"no force file at {path}")
    try:
        forces = np.load(path)
    except Exception as error:
        raise ValueError(f"{path}: cannot be read as a .npy array of forces: {error}") from error
    if forces.ndim != 3 or forces.shape[1:] != (trajectory.n_atoms, 3):
        raise ValueError(f"{path}: forces must have shape [frames, {trajectory.n_atoms} atoms, 3], got {forces.shape}")
    forces = forces[::stride]
    if len(forces) != trajectory.n_frames:
        raise ValueError(f"{path}: {len(forces)} frames of forces for {trajectory.n_frames} frames of positions (after stride {stride})")
    bad = ~np.isfinite(forces)
    if bad.any():
        raise ValueError(f"{path}: forces contain NaN or infinite values (first in frame {int(np.argwhere(bad)[0][0]) * stride})")
    return forces


def _stored_time_step(path: Path, trajectory: mdtraj.Trajectory) -> float | None:
    """ps between frames as the file stores them, or None (DCD, or a single frame)."""
    if path.suffix.lower() == ".dcd" or trajectory.n_frames < 2:
        return None
    return float(trajectory.timestep)


def _dcd_frames_in_header(path: Path) -> int | None:
    """Frames a DCD file's header promises (its NSET field), or None for other formats."""
    if path.suffix.lower() != ".dcd":
        return None
    with open(path, "rb") as handle:
        head = handle.read(12)
    if len(head) < 12 or head[4:8] != b"CORD":
        return None
    return struct.unpack("<i", head[8:12])[0]
