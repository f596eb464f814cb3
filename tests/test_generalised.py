"""Generalised forces: the projection recovers -dU/dq of invariant energies and drops rigid-body forces."""

import numpy as np
import pytest
import torch

from cgflow import generalised, geometry
from test_cgnet import random_chains


def chains(n=64, n_beads=6, seed=0):
    return torch.tensor(random_chains(n, n_beads=n_beads, seed=seed), dtype=torch.float64)


def internal_energy(q):
    """An energy of the internal coordinates alone (kJ/mol), with bond, angle and torsion parts
    of different stiffness so that a wrong row or column of the projection shows."""
    stiffness = torch.linspace(1.0, 5.0, q.shape[-1], dtype=q.dtype)
    return (stiffness * (q - 0.3) ** 2).sum(-1) + torch.cos(2 * q[..., -1]) * torch.sin(q[..., -2])


def test_projection_recovers_the_generalised_forces_of_an_internal_energy():
    x = chains().requires_grad_(True)
    chain = geometry.ChainIC(x.shape[1])
    q = chain.forward(x)[0]
    cartesian = -torch.autograd.grad(internal_energy(q).sum(), x)[0]
    q_leaf = q.detach().requires_grad_(True)
    expected = -torch.autograd.grad(internal_energy(q_leaf).sum(), q_leaf)[0]
    got = generalised.generalised_forces(cartesian, generalised.internal_projection(x.detach()))
    # Double precision throughout: the only error is round-off in a 12 x 12 solve.
    torch.testing.assert_close(got, expected, rtol=1e-9, atol=1e-9)


def test_projection_drops_net_force_and_torque():
    x = chains(seed=1)
    projection = generalised.internal_projection(x)
    push = torch.tensor([3.0, -1.0, 2.0], dtype=x.dtype).expand_as(x)
    centre = x.mean(1, keepdim=True)
    twist = torch.cross(torch.tensor([0.5, 2.0, -1.0], dtype=x.dtype).expand_as(x), x - centre, dim=-1)
    for rigid in (push, twist):
        q = generalised.generalised_forces(1e3 * rigid, projection)
        assert float(q.abs().max()) < 1e-8, float(q.abs().max())


def test_members_keep_their_own_generalised_forces():
    x = chains(8, seed=2)
    forces = torch.randn(3, *x.shape, dtype=x.dtype)
    projection = generalised.internal_projection(x)
    stacked = generalised.generalised_forces(forces, projection)
    for k in range(3):
        torch.testing.assert_close(stacked[k], generalised.generalised_forces(forces[k], projection))


def test_label_scale_has_the_units_of_each_coordinate_and_refuses_constant_labels():
    x = chains(500, n_beads=5, seed=3)
    rng = np.random.default_rng(0)
    q_true = torch.tensor(rng.normal(0.0, [10.0] * 4 + [3.0] * 3 + [0.5] * 2, (500, 9)))
    cartesian = torch.einsum("nkj,nk->nj", _jacobian(x), q_true).view_as(x)   # F = J^T Q
    torch.testing.assert_close(generalised.label_scale(x, cartesian), q_true.std(0), rtol=1e-9, atol=1e-12)
    with pytest.raises(ValueError, match="must vary"):
        generalised.label_scale(x, torch.zeros_like(x))


def test_shapes_are_checked():
    with pytest.raises(ValueError, match=r"\[n, beads, 3\]"):
        generalised.internal_projection(torch.zeros(5, 3))


def _jacobian(x):
    chain = geometry.ChainIC(x.shape[1])
    return torch.func.vmap(torch.func.jacrev(lambda y: chain.forward(y)[0]))(x).flatten(-2)


def test_coordinate_kinds_follow_the_chain_order():
    x = chains(8, n_beads=7, seed=4)
    chain = geometry.ChainIC(7)
    q = chain.forward(x)[0]
    kinds = generalised.coordinate_kinds(7)
    for kind, part in zip(("bonds", "angles", "dihedrals"), chain.split(q)):
        torch.testing.assert_close(q[:, kinds[kind]], part, rtol=0, atol=0)
    assert set(kinds) == set(generalised.UNITS)


def test_project_labels_in_batches_equals_one_projection():
    x = chains(50, n_beads=5, seed=6)
    forces = torch.tensor(np.random.default_rng(1).normal(size=x.shape))
    projection, labels = generalised.project_labels(x, forces, batch_size=7)
    full = generalised.internal_projection(x)
    torch.testing.assert_close(projection, full, rtol=0, atol=1e-12)
    torch.testing.assert_close(labels, generalised.generalised_forces(forces, full), rtol=1e-12, atol=1e-12)
    with pytest.raises(ValueError, match="differ in shape"):
        generalised.project_labels(x, forces[:, :4])
