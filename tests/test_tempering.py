"""The Metropolis neighbour swap shared by the CG simulator and the OpenMM data generator."""

import numpy as np
import pytest
import torch

from cgflow.tempering import geometric_ladder, lower_rungs, swap_accepted
from cgflow.units import beta as inverse_kT


def test_pairs_alternate_and_cover_every_neighbour():
    assert lower_rungs(0, 6).tolist() == [0, 2, 4]
    assert lower_rungs(1, 6).tolist() == [1, 3]
    assert lower_rungs(7, 5).tolist() == [1, 3]
    assert lower_rungs(0, 1).size == 0


def test_swap_decision_is_the_metropolis_criterion_on_numpy_and_torch():
    beta = np.array([inverse_kT(300.0), inverse_kT(330.0), inverse_kT(363.0)])
    energy = np.array([[-100.0, -90.0, -95.0]])
    lower = np.array([0, 1])
    log_ratio = (beta[lower] - beta[lower + 1]) * (energy[0, lower] - energy[0, lower + 1])
    # just below and just above each pair's log acceptance ratio (capped at 0: log u <= 0)
    for shift, expected in ((-1e-9, True), (1e-9, False)):
        log_u = np.minimum(log_ratio, 0.0)[None] + shift
        decided = swap_accepted(beta, energy, lower, log_u)
        assert decided[0, log_ratio < 0].tolist() == [expected] * int((log_ratio < 0).sum())
        assert decided[0, log_ratio >= 0].all()  # a downhill swap is always accepted
        decided_torch = swap_accepted(torch.as_tensor(beta), torch.as_tensor(energy), torch.as_tensor(lower), torch.as_tensor(log_u))
        assert decided_torch.numpy().tolist() == decided.tolist()


def test_acceptance_frequency_is_the_boltzmann_ratio_of_the_two_arrangements():
    """Two rungs holding configurations of energies U_a and U_b: the Boltzmann weight of the
    swapped arrangement relative to the original is exp(-(beta_0 U_b + beta_1 U_a)) /
    exp(-(beta_0 U_a + beta_1 U_b)), and the acceptance frequency over random draws must equal
    min(1, that ratio) (to 3 binomial standard errors of 200,000 draws)."""
    rng = np.random.default_rng(0)
    beta = np.array([inverse_kT(300.0), inverse_kT(400.0)])
    energy = np.array([-10.0, -8.0])  # kJ/mol: the hot rung holds the higher energy
    n = 200_000
    decided = swap_accepted(beta, np.tile(energy, (n, 1)), np.array([0]), np.log(rng.random((n, 1))))
    expected = min(1.0, np.exp((beta[0] - beta[1]) * (energy[0] - energy[1])))
    assert decided.mean() == pytest.approx(expected, abs=3 * np.sqrt(expected * (1 - expected) / n))


def test_geometric_ladder_has_a_constant_ratio():
    ladder = geometric_ladder(340.0, 480.0, 6)
    assert ladder[0] == 340.0 and ladder[-1] == pytest.approx(480.0)
    np.testing.assert_allclose(ladder[1:] / ladder[:-1], (480.0 / 340.0) ** 0.2, rtol=1e-12)
