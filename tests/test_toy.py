"""The toy system: its closed-form PMF, mean force and exact samples agree with each other."""

import numpy as np
import pytest

from cgflow import analysis, toy
from cgflow.toy import BasisPMF, DoubleWellToy


@pytest.fixture(scope="module")
def system():
    return toy.DoubleWellToy()


def test_pmf_by_integration_matches_the_closed_form(system):
    x = np.linspace(-2.0, 2.0, 81)
    # The grid minimum of the integrated PMF sits within 0.0025 nm of the true one: < 1e-4 kJ/mol.
    np.testing.assert_allclose(system.pmf_by_integration(x), system.pmf(x), atol=2e-4)


def test_mean_force_is_minus_the_pmf_derivative(system):
    x = np.linspace(-2.0, 2.0, 41)
    step = 1e-5
    derivative = (system.pmf(x + step) - system.pmf(x - step)) / (2 * step)
    np.testing.assert_allclose(system.mean_force(x), -derivative, atol=1e-5)


def test_forces_are_minus_the_energy_gradient(system):
    xy = system.sample(50, seed=1)
    step = 1e-6
    for axis in range(2):
        shift = np.zeros(2)
        shift[axis] = step
        derivative = (system.energy(xy + shift) - system.energy(xy - shift)) / (2 * step)
        np.testing.assert_allclose(system.forces(xy)[:, axis], -derivative, rtol=1e-6, atol=1e-6)


def test_samples_follow_the_pmf(system):
    xy = system.sample(400_000, seed=2)
    energy, (edges,) = analysis.free_energy(xy[:, 0], system.temperature, bins=50, range=[(-1.8, 1.8)])
    centres = 0.5 * (edges[1:] + edges[:-1])
    exact = system.pmf(centres)
    populated = energy < 3 * system.kT  # bins with > ~1000 samples: count noise < 0.1 kJ/mol
    offset = np.mean(energy[populated] - exact[populated])
    np.testing.assert_allclose(energy[populated] - offset, exact[populated], atol=0.15)


def test_conditional_mean_of_the_instantaneous_force_is_the_mean_force(system):
    xy = system.sample(400_000, seed=3)
    force = system.forces(xy)[:, 0]
    for lo in (-1.2, -0.2, 0.8):
        inside = (xy[:, 0] > lo) & (xy[:, 0] < lo + 0.05)
        # Over > 1000 samples of a 0.05 nm bin the error of the mean is < 1 kJ/mol/nm.
        error = force[inside].std() / np.sqrt(inside.sum())
        expected = system.mean_force(xy[inside, 0]).mean()
        assert abs(force[inside].mean() - expected) < 4 * error
    # The instantaneous force is noisy: its scatter about the mean force is as large as the
    # variation of the mean force itself (the reason force matching needs much data).
    noise = force - system.mean_force(xy[:, 0])
    assert noise.std() > 0.8 * system.mean_force(xy[:, 0]).std()


def test_entropic_tilt_moves_the_balance_of_the_wells(system):
    # Without the y-stiffening the PMF equals the bare double well; with it, the right well
    # (where y is stiffer) loses free energy kT * g / 2 per nm.
    bare = toy.DoubleWellToy(stiffening=0.0)
    assert system.pmf(1.0) - system.pmf(-1.0) == pytest.approx(bare.pmf(1.0) - bare.pmf(-1.0) + system.kT * system.stiffening, abs=1e-3)


def test_bad_shapes(system):
    with pytest.raises(ValueError, match=r"\[\.\.\., 2\]"):
        system.energy(np.zeros((3, 3)))


def test_basis_model_represents_the_exact_mean_force():
    # Noise-free mean forces: what is left is the basis' own error, far below the force noise.
    toy = DoubleWellToy()
    x = toy.sample(20_000, seed=3)[:, 0]
    model = BasisPMF().fit_forces(x, toy.mean_force(x))
    grid = np.linspace(-1.5, 1.5, 101)
    assert np.abs(model.mean_force(grid) - toy.mean_force(grid)).max() < 0.3  # kJ/mol/nm (mostly the ridge), vs forces of ~30


def test_force_matching_and_relative_entropy_converge_to_the_mean_force():
    toy = DoubleWellToy()
    xy = toy.sample(100_000, seed=4)
    grid = np.linspace(-1.5, 1.5, 101)
    density = np.exp(-toy.pmf(grid) / toy.kT)
    density /= density.sum()

    def error(model):
        return np.sqrt(np.sum(density * (model.mean_force(grid) - toy.mean_force(grid)) ** 2))

    few, many = (BasisPMF().fit_forces(xy[:n, 0], toy.forces(xy[:n])[:, 0]) for n in (1_000, 100_000))
    assert error(many) < 1.5 < error(few)  # the 1/sqrt(n) decay of force noise: about 3.5 -> 0.5
    likelihood = BasisPMF().fit_relative_entropy(xy[:, 0], toy.temperature)
    assert error(likelihood) < 1.5
    pmf = likelihood.pmf(grid)
    assert np.sqrt(np.sum(density * (pmf - pmf.mean() - toy.pmf(grid) + toy.pmf(grid).mean()) ** 2)) < 0.5  # kJ/mol


def test_basis_model_rejects_mismatched_data():
    with pytest.raises(ValueError, match="positions but"):
        BasisPMF().fit_forces(np.zeros(5), np.zeros(4))
    with pytest.raises(RuntimeError, match="fit the model first"):
        BasisPMF().pmf([0.0])
