"""BAOAB and parallel tempering reproduce Boltzmann distributions; blow-ups are caught."""

import numpy as np
import pytest
import torch

from cgflow import simulate
from cgflow.units import kT

T = 300.0
KT = kT(T)


def harmonic(k):
    def force_field(x):
        return 0.5 * k * (x**2).sum((1, 2)), -k * x

    return force_field


def double_well(a, b):
    """U(x) = a (x^2 - 1)^2 + b x on the x coordinate (nm, kJ/mol); y and z are free."""

    def force_field(x):
        q = x[..., 0, 0]
        energy = a * (q**2 - 1) ** 2 + b * q
        forces = torch.zeros_like(x)
        forces[..., 0, 0] = -(4 * a * q * (q**2 - 1) + b)
        return energy, forces

    return force_field


def exact_population_left(a, b, temperature):
    x = np.linspace(-3, 3, 200_001)
    weight = np.exp(-(a * (x**2 - 1) ** 2 + b * x) / kT(temperature))
    return weight[x < 0].sum() / weight.sum()


def test_harmonic_oscillator_variance_and_kinetic_temperature(device):
    # k = 1000 kJ/mol/nm^2: <x^2> = kT/k per component. BAOAB's positional distribution is
    # exact for harmonic forces; kinetic temperature errs by O((omega dt)^2), here ~0.2%.
    k, mass = 1000.0, 12.0
    simulation = simulate.LangevinSimulation(harmonic(k), masses=[mass, mass], temperature=T, time_step=0.01, friction=5.0, seed=1, device=device)
    velocities = []
    result = simulation.run(np.zeros((256, 2, 3)), n_steps=20_000, save_every=10, after_step=lambda s, x, v, e, f: velocities.append(v.clone()) if s % 10 == 0 else None)
    positions = result.positions[100:]  # drop the first 1 ps of relaxation
    variance = positions.var()
    assert variance == pytest.approx(KT / k, rel=0.02)
    v = torch.stack(velocities[100:]).cpu().numpy()
    kinetic_temperature = mass * (v**2).mean() / kT(1.0)
    assert kinetic_temperature == pytest.approx(T, rel=0.02)


def test_double_well_populations_match_boltzmann():
    a, b = 3.0, 1.5  # barrier 1.2 kT, the tilt favours the left well (exact: 73.1%)
    simulation = simulate.LangevinSimulation(double_well(a, b), masses=[12.0], temperature=T, time_step=0.01, friction=2.0, seed=2)
    start = np.zeros((256, 1, 3))
    start[:, 0, 0] = np.where(np.arange(256) % 2, 1.0, -1.0)
    result = simulation.run(start, n_steps=40_000, save_every=20)
    left = (result.positions[200:, :, 0, 0] < 0).mean(axis=0)  # per replica
    error = left.std(ddof=1) / np.sqrt(len(left))
    expected = exact_population_left(a, b, T)
    assert error < 0.01
    assert abs(left.mean() - expected) < 4 * error, (left.mean(), expected, error)


def exact_swap_acceptance(a, b, t_cold, t_hot):
    x = np.linspace(-2.5, 2.5, 2001)
    u = a * (x**2 - 1) ** 2 + b * x
    p_cold = np.exp(-u / kT(t_cold))
    p_hot = np.exp(-u / kT(t_hot))
    p_cold, p_hot = p_cold / p_cold.sum(), p_hot / p_hot.sum()
    delta_beta = 1 / kT(t_cold) - 1 / kT(t_hot)
    acceptance = np.minimum(1.0, np.exp(delta_beta * (u[:, None] - u[None, :])))
    return float(p_cold @ acceptance @ p_hot)


def test_parallel_tempering_populations_and_swap_acceptance(device):
    # Barrier 6 kT at 300 K: plain MD from one well barely crosses in this run; the ladder
    # to 1200 K equilibrates both wells. Acceptance per pair matches the exact expectation
    # within 0.03 (about 1.5e4 attempts per pair; binomial error ~0.004, inflated by correlation).
    a, b = 15.0, 1.5
    ladder = simulate.geometric_ladder(300.0, 1200.0, 4)
    walkers = 64
    tempering = simulate.ParallelTempering(double_well(a, b), masses=[12.0], temperatures=ladder, n_walkers=walkers, time_step=0.01, friction=5.0, swap_every=10, seed=3, device=device)
    start = np.zeros((walkers * 4, 1, 3))
    start[:, 0, 0] = 1.0  # all in the disfavoured right well
    result = tempering.run(start, n_steps=30_000, save_every=20)
    cold = tempering.coldest(result)[300:, :, 0, 0]
    left = (cold < 0).mean(axis=0)
    error = left.std(ddof=1) / np.sqrt(walkers)
    assert abs(left.mean() - exact_population_left(a, b, 300.0)) < max(4 * error, 0.02)
    hottest = result.positions[300:, 3::4, 0, 0]
    assert abs((hottest < 0).mean() - exact_population_left(a, b, 1200.0)) < 0.03
    expected = [exact_swap_acceptance(a, b, lo, hi) for lo, hi in zip(ladder[:-1], ladder[1:])]
    np.testing.assert_allclose(result.swap_acceptance, expected, atol=0.03)


def test_plain_langevin_without_tempering_stays_trapped():
    # The control for the test above: at 300 K alone the 6 kT barrier keeps most replicas right.
    a, b = 15.0, 1.5
    simulation = simulate.LangevinSimulation(double_well(a, b), masses=[12.0], temperature=T, time_step=0.01, friction=5.0, seed=4)
    start = np.zeros((64, 1, 3))
    start[:, 0, 0] = 1.0
    left = (simulation.run(start, n_steps=30_000, save_every=20).positions[300:, :, 0, 0] < 0).mean()
    assert left < exact_population_left(a, b, T) - 0.2


def test_blow_up_names_step_and_replica_and_keeps_frames():
    def unstable(x):
        forces = torch.zeros_like(x)
        forces[2] = 5.0e3 * x[2]  # replica 2 runs away, e-folding every ~25 steps
        return torch.zeros(len(x)), forces

    simulation = simulate.LangevinSimulation(unstable, masses=[12.0, 12.0], time_step=0.002, seed=5, max_force=1.0e4)
    start = np.full((4, 2, 3), 0.05)
    with pytest.raises(simulate.SimulationBlowUp, match=r"step \d+ in replica 2") as caught:
        simulation.run(start, n_steps=10_000, save_every=5)
    error = caught.value
    assert error.replica == 2 and error.step > 5
    assert error.result.n_frames == (error.step - 1) // 5 > 0  # every frame before the blow-up step
    assert np.isfinite(error.result.positions).all()


def test_nan_forces_are_a_blow_up():
    def broken(x):
        return torch.zeros(len(x)), torch.full_like(x, float("nan"))

    with pytest.raises(simulate.SimulationBlowUp, match="step 0 in replica 0: non-finite"):
        simulate.LangevinSimulation(broken, masses=[1.0]).run(np.zeros((2, 1, 3)), n_steps=10)


def test_trajectories_export(tmp_path):
    simulation = simulate.LangevinSimulation(harmonic(1000.0), masses=[12.0] * 3, seed=6)
    result = simulation.run(np.zeros((2, 3, 3)) + np.arange(3)[None, :, None] * 0.38, n_steps=50, save_every=10)
    from cgflow.analysis import as_trajectory

    topology = as_trajectory(np.zeros((1, 3, 3))).topology
    trajectories = result.trajectories(topology)
    assert len(trajectories) == 2 and trajectories[0].n_frames == 5
    assert trajectories[0].time[1] == pytest.approx(0.02)
    paths = result.save(tmp_path, topology, fmt="dcd")
    assert [p.name for p in paths] == ["topology.pdb", "replica000.dcd", "replica001.dcd"]
    import mdtraj

    reloaded = mdtraj.load(str(paths[1]), top=str(paths[0]))
    np.testing.assert_allclose(reloaded.xyz, result.positions[:, 0], atol=1e-4)


def test_bad_arguments():
    with pytest.raises(ValueError, match="masses"):
        simulate.LangevinSimulation(harmonic(1.0), masses=[0.0])
    with pytest.raises(ValueError, match="shape"):
        simulate.LangevinSimulation(harmonic(1.0), masses=[1.0]).run(np.zeros((2, 2, 3)), 1)
    with pytest.raises(ValueError, match="temperature"):
        simulate.LangevinSimulation(harmonic(1.0), masses=[1.0], temperature=[300.0, 310.0, 320.0]).run(np.zeros((2, 1, 3)), 1)
    with pytest.raises(ValueError, match="ladder"):
        simulate.geometric_ladder(300, 200, 3)
