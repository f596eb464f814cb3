"""Distances, angles and dihedrals against mdtraj and exact values; smooth gradients."""

import mdtraj
import numpy as np
import pytest
import torch

from cgflow import geometry


@pytest.fixture
def chains():
    rng = np.random.default_rng(1)
    steps = rng.normal(size=(50, 6, 3))
    steps *= 0.38 / np.linalg.norm(steps, axis=-1, keepdims=True)
    return np.cumsum(steps, axis=1).astype(np.float64)


def trajectory(xyz):
    topology = mdtraj.Topology()
    chain = topology.add_chain()
    for _ in range(xyz.shape[1]):
        topology.add_atom("CA", mdtraj.element.carbon, topology.add_residue("ALA", chain))
    return mdtraj.Trajectory(xyz.astype(np.float32), topology)


def test_agree_with_mdtraj(chains):
    pairs, triples, quadruples = geometry.chain_indices(6)
    t = trajectory(chains)
    np.testing.assert_allclose(geometry.distances(chains, pairs), mdtraj.compute_distances(t, pairs), atol=1e-6)
    np.testing.assert_allclose(geometry.angles(chains, triples), mdtraj.compute_angles(t, triples), atol=1e-5)
    np.testing.assert_allclose(geometry.dihedrals(chains, quadruples), mdtraj.compute_dihedrals(t, quadruples), atol=1e-5)


@pytest.mark.parametrize("torsion", [-179.0, -120.0, -60.0, 0.0, 45.0, 90.0, 180.0])
def test_dihedral_of_a_constructed_chain(torsion):
    t = np.radians(torsion)
    # Looking down the 1->2 axis (+y), bead 3 is bead 0 turned by t, clockwise positive (IUPAC).
    x = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 0.0], [0.0, 1.0, 0.0], [np.cos(t), 1.0, -np.sin(t)]])
    value = geometry.dihedrals(x, [[0, 1, 2, 3]]).item()
    # Compare on the circle: 180 and -180 degrees are the same angle.
    assert np.cos(value - t) == pytest.approx(1.0, abs=1e-12)
    assert geometry.angles(x, [[0, 1, 2]]).item() == pytest.approx(np.pi / 2, abs=1e-12)


def test_dihedral_changes_sign_under_mirror_image(chains):
    _, _, quadruples = geometry.chain_indices(6)
    mirrored = chains * np.array([1.0, 1.0, -1.0])
    np.testing.assert_allclose(geometry.dihedrals(mirrored, quadruples), -geometry.dihedrals(chains, quadruples), atol=1e-10)


def test_gradients_match_finite_differences(chains):
    x = torch.tensor(chains[:3], requires_grad=True)
    pairs, triples, quadruples = geometry.chain_indices(6)

    def total(y):
        return (
            geometry.distances(y, pairs).sum()
            + geometry.angles(y, triples).sum()
            + torch.sin(geometry.dihedrals(y, quadruples)).sum()
        )

    assert torch.autograd.gradcheck(total, (x,), eps=1e-6, atol=1e-6)


def test_bad_shapes_are_rejected():
    with pytest.raises(ValueError, match="dimension of 3"):
        geometry.distances(np.zeros((4, 2)), [[0, 1]])
    with pytest.raises(ValueError, match=r"shape \[n, 4\]"):
        geometry.dihedrals(np.zeros((4, 3)), [[0, 1, 2]])


class TestChainIC:
    @pytest.fixture
    def x(self, chains):
        return torch.tensor(chains[:20])

    def test_round_trip(self, x):
        chain = geometry.ChainIC(6)
        ic, rigid = chain.forward(x)
        assert ic.shape == (20, 12) and rigid.shape == (20, 6)
        assert torch.allclose(chain.inverse(ic, rigid), x, atol=1e-10)  # float64
        x32 = x.float()
        assert torch.allclose(chain.inverse(*chain.forward(x32)), x32, atol=1e-5)  # 1e-5 nm in float32

    def test_internal_coordinates_are_invariant_to_rigid_motion(self, x):
        chain = geometry.ChainIC(6)
        rotation = torch.linalg.matrix_exp(torch.tensor([[0.0, -0.7, 0.2], [0.7, 0.0, -1.1], [-0.2, 1.1, 0.0]], dtype=torch.float64))
        moved = x @ rotation.T + torch.tensor([0.3, -1.0, 2.0], dtype=torch.float64)
        assert torch.allclose(chain.forward(moved)[0], chain.forward(x)[0], atol=1e-10)
        # Without rigid-body coordinates the inverse returns the canonical pose of the chain.
        canonical = chain.inverse(chain.forward(x)[0])
        assert torch.allclose(geometry.distances(canonical, np.array([[0, 5], [1, 4]])), geometry.distances(x, np.array([[0, 5], [1, 4]])), atol=1e-10)

    def test_log_det_jacobian_matches_autograd(self, x):
        chain = geometry.ChainIC(6)
        for frame in x[:5]:
            def full(y):
                ic, rigid = chain.forward(y.reshape(6, 3))
                return torch.cat([ic, rigid])

            jacobian = torch.autograd.functional.jacobian(full, frame.reshape(-1))
            log_det = torch.linalg.slogdet(jacobian)[1]
            ic, rigid = chain.forward(frame)
            expected = -(chain.log_jacobian(ic) + torch.log(torch.sin(rigid[3])))
            assert float(log_det) == pytest.approx(float(expected), abs=1e-8)

    def test_errors(self):
        with pytest.raises(ValueError, match="at least 4 beads"):
            geometry.ChainIC(3)
        chain = geometry.ChainIC(5)
        with pytest.raises(ValueError, match="expected 5 beads"):
            chain.forward(torch.zeros(2, 6, 3))
        with pytest.raises(ValueError, match="expected 9 internal coordinates"):
            chain.inverse(torch.zeros(2, 8))
