"""Starting plain MD from the equilibrium frames of a replica-exchange dataset.

A recipe with ``start_from`` runs many short plain trajectories, trajectory ``t`` starting from
one stored all-atom frame of the first ladder of that dataset (at its lowest rung, hence a
sample of the Boltzmann distribution at the recipe's temperature), the frames spread evenly
over the ladder. Dynamics started from equilibrium stay in equilibrium, so every pair of frames
a lag apart within one trajectory is an equilibrium pair: short trajectories estimate the
time-lagged covariances of TICA without bias, where one long trajectory may spend most of its
length trapped in one state (Nüske et al., J. Chem. Theory Comput. 2017, 13, 6; the committed
chunks of the first, 40 ns plain-MD recipe of chignolin stayed 21 of 24 ns in one non-native
basin).

The frame is read as the shipped DCD stores it (float32 angstrom), from the assembled dataset
when it exists and from the committed chunks before: both give the same positions, so a
trajectory starts identically before and after the source is assembled.

Units: nm, ps.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import mdtraj
import numpy as np

from ..data import load_allatom, silent_c_stdout
from ..manifest import read_manifest
from .recipes import RECIPES, Recipe, _whole
from .running import chunk_path


def source_frame(recipe: Recipe, trajectory: int) -> int:
    """Index, among the shipped all-atom frames of ``recipe.start_from`` (its first ladder),
    of the frame that trajectory ``trajectory`` starts from: the middles of ``n_trajectories``
    equal stretches of the ladder."""
    source = RECIPES[recipe.start_from]
    shipped = _whole(source.trajectory_length / (source.allatom_interval * source.shipped_allatom_stride), "shipped all-atom frames")
    if not 0 <= trajectory < recipe.n_trajectories:
        raise ValueError(f"{recipe.name} has trajectories 0..{recipe.n_trajectories - 1}; no {trajectory}")
    return (2 * trajectory + 1) * shipped // (2 * recipe.n_trajectories)


def source_time(recipe: Recipe, trajectory: int) -> float:
    """Time (ps) along the source's first ladder of the frame that ``trajectory`` starts from."""
    source = RECIPES[recipe.start_from]
    return source_frame(recipe, trajectory) * source.allatom_interval * source.shipped_allatom_stride


def start_positions(recipe: Recipe, data_dir: Path, trajectory: int, topology: mdtraj.Topology) -> np.ndarray:
    """All-atom positions (nm, ``[atoms, 3]``) that ``trajectory`` starts from, as the source's
    shipped DCD holds them: from the assembled dataset in ``data_dir`` or, before it is
    assembled, from its committed chunks in ``data_dir/_work``."""
    source, index = RECIPES[recipe.start_from], source_frame(recipe, trajectory)
    if source.name in read_manifest(data_dir):
        return load_allatom(source.name, data_dir).xyz[index]
    per_chunk = _whole(source.chunk_length / source.allatom_interval, "all-atom frames per chunk")
    stored = index * source.shipped_allatom_stride
    path = chunk_path(Path(data_dir) / "_work" / source.name, 0, stored // per_chunk)
    if not path.exists():
        raise FileNotFoundError(
            f"{recipe.name} trajectory {trajectory} starts from {source.name}'s first ladder at"
            f" {source_time(recipe, trajectory):.0f} ps, in {path}, which does not exist yet: generate {source.name} first"
        )
    with np.load(path) as chunk:
        positions = chunk["allatom_positions"][stored % per_chunk]
    return _through_dcd(positions, topology)


def _through_dcd(positions: np.ndarray, topology: mdtraj.Topology) -> np.ndarray:
    """``positions`` (nm) after a write and read of mdtraj's DCD, the shipped format."""
    with tempfile.TemporaryDirectory() as folder, silent_c_stdout():
        path = str(Path(folder) / "frame.dcd")
        mdtraj.Trajectory(positions[None], topology).save_dcd(path)
        return mdtraj.load_dcd(path, top=topology).xyz[0]
