"""Replica exchange over OpenMM contexts: exact energies and acceptances on harmonic oscillators."""

import numpy as np
import pytest

openmm = pytest.importorskip("openmm")
unit = pytest.importorskip("openmm.unit")
from cgflow.datagen.exchange import ReplicaExchange, round_trips, walker_paths  # noqa: E402
from cgflow.units import kT  # noqa: E402

N_PARTICLES = 100  # independent 3D oscillators: U ~ Gamma(3N/2, kT) exactly
STIFFNESS = 1000.0  # kJ/mol/nm^2
LADDER = np.array([300.0, 330.0, 363.0])  # K


def oscillator_context(temperature: float, seed: int) -> openmm.Context:
    system = openmm.System()
    well = openmm.CustomExternalForce("0.5*k*(x^2 + y^2 + z^2)")
    well.addGlobalParameter("k", STIFFNESS)
    for index in range(N_PARTICLES):
        system.addParticle(10.0)  # amu
        well.addParticle(index, [])
    system.addForce(well)
    integrator = openmm.LangevinMiddleIntegrator(temperature * unit.kelvin, 5.0 / unit.picosecond, 0.002 * unit.picosecond)
    integrator.setRandomNumberSeed(seed)
    context = openmm.Context(system, integrator, openmm.Platform.getPlatformByName("Reference"))
    rng = np.random.default_rng(seed)
    context.setPositions(rng.normal(scale=np.sqrt(kT(temperature) / STIFFNESS), size=(N_PARTICLES, 3)))
    context.setVelocitiesToTemperature(temperature * unit.kelvin, seed)
    return context


def potential_energy(context: openmm.Context) -> float:
    return context.getState(getEnergy=True).getPotentialEnergy().value_in_unit(unit.kilojoule_per_mole)


@pytest.fixture(scope="module")
def run():
    """2,000 exchange attempts 0.02 ps apart; energies of every rung after each attempt."""
    ladder = ReplicaExchange([oscillator_context(t, seed) for seed, t in enumerate(LADDER, start=1)], LADDER, np.random.default_rng(0))
    ladder.step(500)
    energies, occupancy = [], []
    for attempt in range(2000):
        ladder.step(10)
        ladder.attempt(parity=attempt)
        energies.append([potential_energy(c) for c in ladder.contexts])
        occupancy.append(ladder.walkers.copy())
    return ladder, np.array(energies), np.array(occupancy)


def test_every_rung_keeps_its_boltzmann_energy(run):
    # <U> = (3N/2) kT at each rung. The swaps come every 0.02 ps, far faster than the thermostat
    # (5/ps) could repair a wrong exchange: accepting every swap would put the cold rung's mean
    # about 5% too high. Statistical error of the means (correlated samples): about 0.7%.
    _, energies, _ = run
    expected = 1.5 * N_PARTICLES * np.array([kT(t) for t in LADDER])
    np.testing.assert_allclose(energies.mean(0), expected, rtol=0.02)


def test_acceptance_equals_the_exact_expectation(run):
    # Exact: E[min(1, exp((beta_i - beta_j)(U_i - U_j)))] with independent Gamma energies.
    ladder, _, _ = run
    rng = np.random.default_rng(1)
    samples = np.stack([rng.gamma(1.5 * N_PARTICLES, kT(t), 1_000_000) for t in LADDER])
    beta = 1.0 / np.array([kT(t) for t in LADDER])
    exact = [np.minimum(1.0, np.exp((beta[k] - beta[k + 1]) * (samples[k] - samples[k + 1]))).mean() for k in range(2)]
    assert ladder.attempts.tolist() == [1000, 1000]  # pairs (0,1) and (1,2) in alternate attempts
    # 1,000 attempts per pair: binomial standard error about 0.016; 3 of them.
    np.testing.assert_allclose(ladder.acceptance, exact, atol=0.05)
    assert 0.2 < min(exact) and max(exact) < 0.7  # the test discriminates: neither all nor none


def test_walkers_stay_a_permutation_and_travel_the_ladder(run):
    _, _, occupancy = run
    assert all(sorted(row) == [0, 1, 2] for row in occupancy)
    assert round_trips(occupancy) > 10


def test_round_trips_count_bottom_top_bottom():
    # walker 0: bottom, top, bottom: one trip; walker 1: top, bottom, top: none (it started at the top).
    assert round_trips(np.array([[0, 1], [1, 0], [0, 1]])) == 1
    # one more swap completes walker 1's bottom, top, bottom
    assert round_trips(np.array([[0, 1], [1, 0], [0, 1], [1, 0]])) == 2
    assert round_trips(np.array([[0], [0]])) == 0


def test_walker_paths_follow_each_configuration_through_the_ladder():
    # Three rungs; the record at each rung is the index of the walker sitting there times 10 plus
    # the time, so each walker's path must read 10 w + t at every time, wherever it sat.
    occupancy = np.array([[0, 1, 2], [1, 0, 2], [1, 2, 0], [2, 1, 0]])
    records = 10 * occupancy + np.arange(4)[:, None]
    paths = walker_paths(records[..., None], occupancy)  # a trailing axis as for positions
    assert paths.shape == (3, 4, 1)
    np.testing.assert_array_equal(paths[..., 0], 10 * np.arange(3)[:, None] + np.arange(4))
    with pytest.raises(ValueError, match="permutation"):
        walker_paths(records, np.array([[0, 0, 2]] * 4))
    with pytest.raises(ValueError, match="agree"):
        walker_paths(records[:3], occupancy)


def test_a_ladder_must_match_its_contexts_and_increase():
    contexts = [oscillator_context(300.0, 1), oscillator_context(330.0, 2)]
    with pytest.raises(ValueError, match="one context per temperature"):
        ReplicaExchange(contexts, [300.0], np.random.default_rng(0))
    with pytest.raises(ValueError, match="increasing"):
        ReplicaExchange(contexts, [330.0, 300.0], np.random.default_rng(0))
