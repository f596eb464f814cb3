"""The Flow-CGnet's training set: torsions spread, labels of the teacher's marginal force."""

import numpy as np
import pytest
import torch

from cgflow import flows, student_set
from cgflow.geometry import ChainIC
from test_flows import chains


@pytest.fixture(autouse=True)
def double_precision():
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(torch.float32)


def test_spread_torsions_moves_torsions_only_by_the_stated_amount():
    x = chains(20_000, seed=1)
    moved = student_set.spread_torsions(x, 0.6, torch.Generator().manual_seed(0))
    chain = ChainIC(5)
    before, after = chain.forward(x)[0], chain.forward(moved)[0]
    stiff = chain.kinds["angles"].stop
    assert torch.allclose(after[:, :stiff], before[:, :stiff], atol=1e-10)   # bonds (nm) and angles (rad) kept
    step = torch.remainder(after[:, stiff:] - before[:, stiff:] + torch.pi, 2 * torch.pi) - torch.pi
    # N(0, 0.6^2) steps: the sample mean within 4 standard errors (0.6 / sqrt(20,000) = 0.004 rad)
    # and the sample standard deviation within 4 of its standard errors (0.6 / sqrt(40,000)).
    assert step.mean(0).abs().max() < 0.017
    assert (step.std(0) - 0.6).abs().max() < 0.012


def test_student_set_adds_labelled_spread_points_and_shuffles():
    torch.manual_seed(0)
    config = flows.FlowConfig(n_beads=5, n_blocks=2, n_components=4, hidden=16)
    teacher = flows.AugmentedFlow.from_data(chains(1000), config)
    sample = teacher.sample(300, generator=torch.Generator().manual_seed(1))
    largest = torch.linalg.vector_norm(sample.forces, dim=-1).amax(-1)
    bound = float(largest.quantile(0.8))
    made = student_set.student_set(teacher, sample, 100, 0.6, 4, bound, torch.Generator().manual_seed(2))
    assert len(made.positions) == 300 + made.spread and 0 < made.spread <= 100
    assert made.kept_fraction == pytest.approx(made.spread / 100) and 1.0 <= made.median_ess <= 4.0
    # Every sample is there once with its own joint force, shuffled among the spread points,
    # which carry forces within the bound.
    assert not made.is_spread[-made.spread :].all()
    weights = torch.linspace(1.0, 2.0, 15)
    key = lambda p: (p.reshape(len(p), -1) @ weights).numpy()   # one number per configuration
    samples = ~made.is_spread
    mine, theirs = np.argsort(key(made.positions[samples])), np.argsort(key(sample.positions))
    assert torch.equal(made.positions[samples][mine], sample.positions[theirs])
    assert torch.equal(made.forces[samples][mine], sample.forces[theirs])
    assert torch.linalg.vector_norm(made.forces[made.is_spread], dim=-1).amax() <= bound
    with pytest.raises(ValueError, match="n_spread must lie in 0..300"):
        student_set.student_set(teacher, sample, 301, 0.6, 4, bound)



def test_marginal_labels_keep_points_under_the_bound_with_their_marginal_forces():
    torch.manual_seed(0)
    config = flows.FlowConfig(n_beads=5, n_blocks=2, n_components=4, hidden=16)
    teacher = flows.AugmentedFlow.from_data(chains(1000), config)
    x = chains(200, seed=3)
    _, forces, _ = teacher.marginal_energy_and_forces(x, n_eta=4, generator=torch.Generator().manual_seed(5))
    bound = float(torch.linalg.vector_norm(forces, dim=-1).amax(-1).quantile(0.7))
    labels = student_set.marginal_labels(teacher, x, 4, bound, torch.Generator().manual_seed(5))
    keep = flows.within_force_bound(forces, bound)
    # the same draws of eta give the same forces: exactly the points under the bound survive
    assert torch.equal(labels.positions, x[keep]) and torch.allclose(labels.forces, forces[keep])
    assert labels.kept_fraction == pytest.approx(float(keep.double().mean())) and 1.0 <= labels.median_ess <= 4.0
    empty = student_set.marginal_labels(teacher, x[:0], 4, bound)
    assert empty.positions.shape == (0, 5, 3) and empty.kept_fraction == 1.0
