"""CGDataset: validation of inputs, contiguous splits, subsampling, user data, shipped data."""

import mdtraj
import numpy as np
import pytest

from cgflow import analysis, cgmap, data, manifest


def chain_topology(n_beads: int) -> mdtraj.Topology:
    topology = mdtraj.Topology()
    chain = topology.add_chain()
    atoms = [topology.add_atom("CA", mdtraj.element.carbon, topology.add_residue("ALA", chain)) for _ in range(n_beads)]
    for a, b in zip(atoms[:-1], atoms[1:]):
        topology.add_bond(a, b)
    return topology


def synthetic(frames=(30, 20, 10), n_beads=4, forces=True, **kwargs) -> data.CGDataset:
    rng = np.random.default_rng(0)
    n = sum(frames)
    positions = rng.normal(size=(n, n_beads, 3)).astype(np.float32)
    positions[:, :, 0] = np.arange(n)[:, None]  # frame index readable from x, to follow frames through splits
    return data.CGDataset(
        positions=positions,
        forces=rng.normal(size=(n, n_beads, 3)) if forces else None,
        topology=chain_topology(n_beads),
        temperature=300.0,
        trajectory_lengths=list(frames),
        time_step=2.0,
        **kwargs,
    )


def frame_ids(dataset):
    return dataset.positions[:, 0, 0].astype(int)


def test_block_split_keeps_the_end_of_every_trajectory_for_validation():
    dataset = synthetic()
    train, validation = dataset.split(0.2, by="block")
    assert train.trajectory_lengths.tolist() == [24, 16, 8]
    assert validation.trajectory_lengths.tolist() == [6, 4, 2]
    assert frame_ids(validation).tolist() == [24, 25, 26, 27, 28, 29, 46, 47, 48, 49, 58, 59]
    assert not set(frame_ids(train)) & set(frame_ids(validation))
    assert len(train) + len(validation) == len(dataset)
    # Contiguous blocks inside each trajectory remain time series.
    assert train.time_step == validation.time_step == 2.0


def test_trajectory_split_holds_out_whole_trajectories():
    train, validation = synthetic(frames=(10, 10, 10, 10, 10)).split(0.4, by="trajectory")
    assert frame_ids(validation).tolist() == list(range(30, 50))
    assert train.trajectory_lengths.tolist() == [10, 10, 10]
    with pytest.raises(ValueError, match="at least two trajectories"):
        synthetic(frames=(50,)).split(0.2, by="trajectory")
    with pytest.raises(ValueError, match="'block' or 'trajectory'"):
        synthetic().split(0.2, by="shuffle")


def test_subsample_spreads_over_all_trajectories_and_keeps_forces():
    dataset = synthetic()
    subset = dataset.subsample(7)
    assert frame_ids(subset).tolist() == [0, 10, 20, 30, 39, 49, 59]
    assert subset.trajectory_lengths.tolist() == [3, 3, 1]
    np.testing.assert_array_equal(subset.forces, dataset.forces[[0, 10, 20, 30, 39, 49, 59]])
    assert subset.time_step is None  # strided frames are no longer a time series
    with pytest.raises(ValueError, match="cannot subsample"):
        dataset.subsample(0)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (dict(positions=np.zeros((5, 4))), r"\[frames, beads, 3\]"),
        (dict(positions=np.zeros((5, 3, 3))), "3 beads but the topology has 4"),
        (dict(forces=np.zeros((5, 4, 2))), "forces shape"),
        (dict(positions=np.full((5, 4, 3), np.nan)), "NaN or infinite"),
        (dict(forces=np.full((5, 4, 3), np.inf)), "NaN or infinite"),
        (dict(weights=np.zeros(5)), "all zero"),
        (dict(weights=-np.ones(5)), "non-negative"),
        (dict(weights=np.ones(4)), "weights must have shape"),
        (dict(trajectory_lengths=[2, 2]), "do not add up"),
        (dict(temperature=-1.0), "temperature"),
    ],
)
def test_bad_inputs_get_clear_errors(change, message):
    arguments = dict(positions=np.zeros((5, 4, 3)), topology=chain_topology(4), temperature=300.0, name="bad")
    arguments.update(change)
    with pytest.raises(ValueError, match=message):
        data.CGDataset(**arguments)


def test_nan_error_names_the_first_bad_frame():
    positions = np.zeros((6, 4, 3))
    positions[4, 2, 1] = np.nan
    with pytest.raises(ValueError, match="first in frame 4"):
        data.CGDataset(positions=positions, topology=chain_topology(4), temperature=300.0)


def test_npz_in_angstrom_and_kcal_is_converted(tmp_path):
    reference = synthetic(frames=(12,))
    path = tmp_path / "mine.npz"
    np.savez(path, positions=reference.positions * 10.0, forces=reference.forces / 41.84, weights=np.ones(12))
    loaded = data.from_npz(path, reference.topology, 300.0, length_unit="angstrom", force_unit="kcal/mol/angstrom")
    np.testing.assert_allclose(loaded.positions, reference.positions, rtol=1e-6)
    np.testing.assert_allclose(loaded.forces, reference.forces, rtol=1e-5)
    assert loaded.weights.tolist() == [1.0] * 12
    with pytest.raises(ValueError, match="unknown length unit 'bohr'"):
        data.from_npz(path, reference.topology, 300.0, length_unit="bohr")
    with pytest.raises(FileNotFoundError, match="no such data file"):
        data.from_npz(tmp_path / "missing.npz", reference.topology, 300.0)
    np.savez(tmp_path / "nopos.npz", coordinates=reference.positions)
    with pytest.raises(ValueError, match="no 'positions' array"):
        data.from_npz(tmp_path / "nopos.npz", reference.topology, 300.0)


def test_trajectories_in_any_mdtraj_format_round_trip(tmp_path):
    dataset = synthetic(frames=(8,), forces=False)
    trajectory = dataset.to_mdtraj()
    assert trajectory.time.tolist() == [2.0 * i for i in range(8)]
    trajectory[0].save_pdb(str(tmp_path / "top.pdb"))
    trajectory[:5].save_dcd(str(tmp_path / "a.dcd"))
    trajectory[5:].save_dcd(str(tmp_path / "b.dcd"))
    loaded = data.from_trajectories([tmp_path / "a.dcd", tmp_path / "b.dcd"], tmp_path / "top.pdb", 300.0)
    assert loaded.trajectory_lengths.tolist() == [5, 3]
    np.testing.assert_allclose(loaded.positions, dataset.positions, atol=1e-5)  # DCD stores angstrom in float32
    assert loaded.forces is None
    assert loaded.topology.n_bonds == 3


def test_unknown_dataset_name():
    with pytest.raises(KeyError, match="unknown dataset 'ala3'"):
        data.load("ala3")


@pytest.fixture(scope="module")
def ala2():
    return data.load("ala2")


class TestShippedAlanineDipeptide:
    """The reference data in data/: checksums, size, and physics of the stored forces."""

    def test_amount_and_layout(self, ala2):
        assert ala2.n_beads == 5 and ala2.temperature == 300.0 and ala2.time_step == 1.0
        assert ala2.trajectory_lengths.tolist() == [25_000] * 4  # four replica-exchange ladders
        assert [a.name for a in ala2.topology.atoms] == ["C", "N", "CA", "C", "N"]
        provenance = manifest.read_manifest(data.data_dir())["ala2"]["provenance"]
        assert provenance["total_simulated_ns"] >= 400.0  # every replica of every ladder
        assert provenance["sampling"]["temperatures_K"][0] == ala2.temperature

    def test_replica_exchange_mixed_and_the_ladders_agree(self, ala2):
        sampling = manifest.read_manifest(data.data_dir())["ala2"]["provenance"]["sampling"]
        assert min(sampling["acceptance_per_pair"]) > 0.3 and min(sampling["round_trips_per_trajectory"]) > 1000
        # The rare alpha_L region (phi > 0), which plain MD visited 4 times in 400 ns, is sampled
        # in every ladder: each ladder's population within 35% of the mean of all (measured:
        # 2.1% to 3.3% around 2.7%, a relative spread of 18% per ladder).
        phi = analysis.phi_psi(ala2.positions)[:, 0]
        per_ladder = np.array([np.mean(phi[part] > 0) for part in ala2.trajectories()])
        assert np.all(np.abs(per_ladder / np.mean(phi > 0) - 1) < 0.35), per_ladder

    @pytest.mark.parametrize("bond", [(0, 1), (1, 2), (2, 3), (3, 4)])
    def test_forces_satisfy_the_mean_force_identity(self, ala2, bond):
        """Aggregated forces: E[(f_j - f_i) . u] = -4 kT E[1/r] along every CG bond."""
        mean, error = cgmap.bond_force_residual(ala2.positions, ala2.forces, *bond, ala2.temperature)
        assert abs(mean) < 3.5 * error, (mean, error)
