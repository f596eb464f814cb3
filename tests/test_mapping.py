"""Your own all-atom trajectories to a CG dataset: the map on known inputs, and every bad input
named (wrong units, NaN frames, empty selection, frame counts, truncated files, topology)."""

from __future__ import annotations

import mdtraj
import numpy as np
import pytest

from cgflow import data, mapping
from cgflow.cgmap import bead_groups
from cgflow.datagen.recipes import ALA2

ALLATOM = data.data_dir() / "ala2"
TOPOLOGY = ALLATOM / "ala2_allatom.pdb"


@pytest.fixture(scope="module")
def allatom():
    return mdtraj.load(str(ALLATOM / "ala2_allatom.dcd"), top=str(TOPOLOGY))[:200]


def save(trajectory: mdtraj.Trajectory, folder, name="run.dcd"):
    path = folder / name
    trajectory.save_dcd(str(path))
    return path


def test_beads_sit_on_the_selected_atoms_and_forces_sum_over_bead_and_hydrogens(allatom, tmp_path):
    """Known forces: atom i carries (i + 1) (100, 200, -100) kJ/mol/nm, so every bead's force is
    the sum of (i + 1) over its group (bead atom and bonded hydrogens) times (100, 200, -100)."""
    direction = np.array([100.0, 200.0, -100.0], np.float32)
    forces = np.broadcast_to(np.arange(1, allatom.n_atoms + 1, dtype=np.float32)[None, :, None] * direction, (allatom.n_frames, allatom.n_atoms, 3))
    np.save(tmp_path / "forces.npy", forces)
    dataset = mapping.map_allatom([save(allatom, tmp_path)], TOPOLOGY, ALA2.bead_selection, 300.0, forces=[tmp_path / "forces.npy"])
    beads = [int(i) for i in allatom.topology.select(ALA2.bead_selection)]
    np.testing.assert_allclose(dataset.positions, allatom.xyz[:, beads], atol=1e-6)
    groups = bead_groups(allatom.topology, beads)
    assert [len(g) for g in groups] == [1, 2, 2, 1, 2]  # C(ACE); N+H; CA+HA; C; N(NME)+H
    expected = np.array([sum(i + 1 for i in group) for group in groups], np.float32)[:, None] * direction
    np.testing.assert_allclose(dataset.forces, np.broadcast_to(expected, dataset.forces.shape), rtol=1e-6)
    assert [a.name for a in dataset.topology.atoms] == [a.name for a in data.load("ala2").topology.atoms]
    assert dataset.temperature == 300.0 and list(dataset.trajectory_lengths) == [allatom.n_frames]


def test_force_units_are_converted(allatom, tmp_path):
    forces = np.random.default_rng(0).normal(scale=100.0, size=(allatom.n_frames, allatom.n_atoms, 3)).astype(np.float32)
    np.save(tmp_path / "f.npy", forces)
    path = save(allatom, tmp_path)
    in_nm = mapping.map_allatom([path], TOPOLOGY, "name CA or name C", 300.0, forces=[tmp_path / "f.npy"], force_unit="kJ/mol/nm")
    in_kcal = mapping.map_allatom([path], TOPOLOGY, "name CA or name C", 300.0, forces=[tmp_path / "f.npy"], force_unit="kcal/mol/nm")
    np.testing.assert_allclose(in_kcal.forces, 4.184 * in_nm.forces, rtol=1e-5, atol=1e-3)  # float32 sums of ~300 kJ/mol/nm


@pytest.mark.parametrize(
    "case, message",
    [
        ("angstrom", "nm apart"),
        ("nan", "NaN or infinite values (first in frame 7)"),
        ("empty selection", "picks 0 atom(s)"),
        ("bad selection", "not valid mdtraj syntax"),
        ("frame count", "199 frames of forces for 200 frames of positions"),
        ("truncated", "truncated, the header promises 200 frames"),
        ("topology", "cannot be read as a trajectory"),
        ("force nan", "forces contain NaN"),
        ("force unit", "median bead force"),
        ("force files", "1 force files for 2 trajectories"),
        ("missing", "no trajectory file"),
    ],
)
def test_bad_input_is_named(allatom, tmp_path, case, message):
    path, topology, selection, forces = save(allatom, tmp_path), TOPOLOGY, ALA2.bead_selection, None
    trajectories = [path]
    good_forces = np.random.default_rng(1).normal(scale=300.0, size=(allatom.n_frames, allatom.n_atoms, 3)).astype(np.float32)
    if case == "angstrom":
        scaled = allatom[:]
        scaled.xyz = scaled.xyz * 10
        path = save(scaled, tmp_path, "angstrom.dcd")
        trajectories = [path]
    elif case == "nan":
        broken = allatom[:]
        broken.xyz[7, allatom.topology.select("name CA")[0]] = np.nan
        trajectories = [save(broken, tmp_path, "nan.dcd")]
    elif case == "empty selection":
        selection = "name XYZ"
    elif case == "bad selection":
        selection = "name CA and and"
    elif case in ("frame count", "force nan", "force unit", "force files"):
        values = {"frame count": good_forces[:-1], "force nan": good_forces.copy(), "force unit": good_forces * 1e-3, "force files": good_forces}[case]
        if case == "force nan":
            values[3, 0, 0] = np.nan
        np.save(tmp_path / "f.npy", values)
        forces = [tmp_path / "f.npy"]
        if case == "force files":
            trajectories = [path, path]
    elif case == "truncated":
        cut = tmp_path / "cut.dcd"
        cut.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
        trajectories = [cut]
    elif case == "topology":
        topology = ALLATOM / "ala2_cg.pdb"
    elif case == "missing":
        trajectories = [tmp_path / "nothing.dcd"]
    with pytest.raises((ValueError, FileNotFoundError), match=message.replace("(", r"\(").replace(")", r"\)")):
        mapping.map_allatom(trajectories, topology, selection, 300.0, forces=forces)
