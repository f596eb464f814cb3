"""Chignolin (CLN025, YYDPETGTWY) in C-alpha beads: its reference frames, its folded structure
and the state observables of Köhler et al. 2023, Fig. 4. Units: nm, ps, K.

Folded means a C-alpha RMSD below :data:`FOLDED` from the folded reference: the medoid of the
340 K frames within that distance of the hairpin the data recipe builds (no experimental
structure is at hand offline). The 340 K RMSD distribution has a folded peak below 0.1 nm and
a compact non-native state at 0.3-0.4 nm; folding and unfolding events count passages between
the cores below :data:`FOLDED_CORE` and above :data:`UNFOLDED_CORE`
(:func:`cgflow.analysis.count_transitions`).

The frames are the 340 K replicas of the two replica-exchange ladders (``python -m
cgflow.datagen cln025``), read from the committed chunks in ``data/_work/cln025`` while the
ladders still grow. Reading chunks needs OpenMM (the ``[data]`` extra) for the topology.
"""

from __future__ import annotations

import functools
from pathlib import Path

import mdtraj
import numpy as np

from . import analysis
from .cgmap import cg_topology
from .data import CGDataset, data_dir, load, load_allatom
from .manifest import read_manifest

#: C-alpha RMSD (nm) below which a frame counts as folded.
FOLDED = 0.2
#: Cores (nm) between which folding and unfolding events are counted.
FOLDED_CORE, UNFOLDED_CORE = 0.15, 0.3
#: Where the ladders' committed chunks live.
WORKDIR = data_dir() / "_work" / "cln025"


def ladder_chunks(workdir: Path = WORKDIR) -> list[dict[str, np.ndarray]]:
    """Every ladder's committed chunks, concatenated in time: ``chunks`` (their number),
    ``positions`` and ``forces`` at 340 K (nm, kJ/mol/nm, one frame per ps),
    ``allatom_positions`` at 340 K (nm, one frame per 10 ps), ``walkers`` (which
    walker sits at each rung per frame), ``rung_positions`` (every rung every 5 ps, nm), and
    the exchange ``attempts`` and ``accepted`` per neighbour pair."""
    from .datagen import CLN025, chunk_path, completed_chunks

    ladders = []
    for trajectory in range(CLN025.n_trajectories):
        chunks = [np.load(chunk_path(workdir, trajectory, c)) for c in range(completed_chunks(CLN025, workdir, trajectory))]
        if not chunks:
            continue
        stride = CLN025.rung_record_stride
        ladders.append({
            "chunks": len(chunks),
            "positions": np.concatenate([c["positions"] for c in chunks]),
            "forces": np.concatenate([c["forces"] for c in chunks]),
            "allatom_positions": np.concatenate([c["allatom_positions"] for c in chunks]),
            "walkers": np.concatenate([c["walkers"] for c in chunks]),
            "record_walkers": np.concatenate([c["walkers"][::stride] for c in chunks]),
            "rung_positions": np.concatenate([c["rung_positions"] for c in chunks]),
            "attempts": sum(c["exchange_attempts"] for c in chunks),
            "accepted": sum(c["exchange_accepted"] for c in chunks),
        })
    return ladders


def _assembled(name: str, directory: Path | None) -> tuple[Path, bool]:
    """The data folder (default ``data/``) and whether dataset ``name`` is assembled there."""
    directory = Path(directory) if directory is not None else data_dir()
    return directory, name in read_manifest(directory)


def plain_md(directory: Path | None = None) -> list[np.ndarray]:
    """The plain all-atom trajectories at 340 K (``python -m cgflow.datagen cln025_md``), each
    its C-alpha positions ``[frames, 10, 3]`` (nm) in time order, a frame every 2 ps: a
    continuous dynamics, for TICA. From the shipped dataset once it is assembled in
    ``directory`` (default ``data/``), until then from the committed chunks there."""
    from .datagen import CLN025_MD, chunk_path, completed_chunks

    directory, assembled = _assembled("cln025_md", directory)
    if assembled:
        shipped = load("cln025_md", directory)
        return [shipped.positions[part] for part in shipped.trajectories()]
    workdir = directory / "_work" / "cln025_md"
    paths = []
    for trajectory in range(CLN025_MD.n_trajectories):
        chunks = [np.load(chunk_path(workdir, trajectory, c))["positions"] for c in range(completed_chunks(CLN025_MD, workdir, trajectory))]
        if chunks:
            paths.append(np.concatenate(chunks))
    return paths


@functools.cache
def _recipe_runner():
    """The data recipe's runner (builds CLN025's OpenMM system once per process)."""
    from .datagen import CLN025, RecipeRunner

    return RecipeRunner(CLN025)


def reference_frames(ladders: list[dict[str, np.ndarray]]) -> CGDataset:
    """The 340 K frames of ``ladders`` (:func:`ladder_chunks`) with their forces, one
    trajectory per ladder (frames 1 ps apart, but not a continuous dynamics)."""
    from .datagen import CLN025

    if not ladders:
        raise ValueError("no ladder has a committed chunk")
    runner = _recipe_runner()
    return CGDataset(
        positions=np.concatenate([ladder["positions"] for ladder in ladders]),
        forces=np.concatenate([ladder["forces"] for ladder in ladders]),
        topology=cg_topology(runner.md_topology, runner.bead_atoms),
        temperature=CLN025.temperature,
        trajectory_lengths=np.array([len(ladder["positions"]) for ladder in ladders]),
        time_step=CLN025.save_interval,
        name="cln025",
        source=str(WORKDIR),
    )


def allatom_frames(ladders: list[dict[str, np.ndarray]]) -> mdtraj.Trajectory:
    """The all-atom frames at 340 K of ``ladders`` (:func:`ladder_chunks`), one every 10 ps,
    ladder after ladder, with the recipe's topology (nm): for 3D views of the states."""
    if not ladders:
        raise ValueError("no ladder has a committed chunk")
    return mdtraj.Trajectory(np.concatenate([ladder["allatom_positions"] for ladder in ladders]), _recipe_runner().md_topology)


def dataset(directory: Path | None = None) -> CGDataset:
    """CLN025's 340 K CG frames with their forces (nm, kJ/mol/nm): the shipped dataset
    (``cgflow.load("cln025")``, a frame every 2 ps) once it is assembled in ``directory``
    (default ``data/``), until then every frame of the committed chunks there
    (:func:`reference_frames`, a frame every ps)."""
    directory, assembled = _assembled("cln025", directory)
    if assembled:
        return load("cln025", directory)
    return reference_frames(ladder_chunks(directory / "_work" / "cln025"))


def structures(directory: Path | None = None) -> mdtraj.Trajectory:
    """All-atom frames of CLN025 at 340 K (nm) for 3D views: the shipped ones once the dataset
    is assembled in ``directory`` (``cgflow.load_allatom``), until then those of the committed
    chunks (:func:`allatom_frames`)."""
    directory, assembled = _assembled("cln025", directory)
    if assembled:
        return load_allatom("cln025", directory)
    return allatom_frames(ladder_chunks(directory / "_work" / "cln025"))


def built_hairpin() -> np.ndarray:
    """The C-alpha positions ``[10, 3]`` (nm) of the hairpin that the data recipe builds."""
    from openmm import unit

    runner = _recipe_runner()
    return np.array(runner.initial_positions.value_in_unit(unit.nanometer))[runner.bead_atoms]


def folded_reference(positions: np.ndarray) -> np.ndarray:
    """The medoid ``[10, 3]`` (nm) of the frames ``positions`` (nm) within :data:`FOLDED` of
    the built hairpin (at most 5,000 of them, evenly spread)."""
    return analysis.medoid_near(positions, built_hairpin(), FOLDED)


def folded_fraction(distance: np.ndarray, n_blocks: int) -> analysis.Estimate:
    """Fraction of frames whose C-alpha RMSD ``distance`` (nm, from the folded reference; in
    ``n_blocks`` contiguous blocks, e.g. one per walker) is below :data:`FOLDED`, with its
    block error."""
    return analysis.block_mean(np.asarray(distance) < FOLDED, n_blocks)


def folding_events(paths, reference: np.ndarray) -> tuple[int, int]:
    """(folding, unfolding) events summed over ``paths``, each ``[frames, 10, 3]`` (nm) in time
    order: passages from the unfolded core to the folded core and back."""
    folding = unfolding = 0
    for path in paths:
        distance = analysis.rmsd(path, reference)
        to_unfolded, to_folded = analysis.count_transitions(distance < FOLDED_CORE, distance > UNFOLDED_CORE)
        folding, unfolding = folding + to_folded, unfolding + to_unfolded
    return folding, unfolding
