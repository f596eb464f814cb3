"""Speed of the CG simulator against the bare network, the CPU's matmul rate and OpenMM.

Measures the book's CGnet (``presets.cgnet_config``: the prior plus the mean of an ensemble of
networks) on alanine dipeptide (5 beads) and chignolin CLN025 (10 C-alpha beads, with the
C-alpha repulsion), and prints:

(1) replica-steps per second of the full simulator step (chain geometry, prior, features,
    networks, forces, BAOAB) against the number of replicas, next to the bare networks'
    energy-and-gradient evaluation from their input features at the same batch size (sim/bare:
    the share of a step that the networks take), and the fraction of the CPU's measured float32
    matrix-multiply FLOP rate that the networks achieve;
(2) simulated ns/day of each CG model (all replicas together, on torch's threads: every core)
    against all-atom OpenMM for the same molecule on the same machine (2 fs for alanine
    dipeptide; 4 fs for chignolin, both CG and all-atom), and for chignolin also with one
    network in place of the ensemble (the ensemble multiplies the networks' cost). All-atom
    OpenMM of one small molecule gains almost nothing from a second thread, so the machine runs
    one single-threaded process per core, as the data recipes do: its all-atom rate is one
    process's times the cores (independent processes, measured: the two chignolin ladders run
    side by side at the speed of one alone). Comparing the CG model on every core with one
    all-atom process would credit the CG model with the machine's other cores.

    python benchmarks/simulate.py [--max-replicas 4096] [--seconds 3] [--device cuda] [--skip-openmm]
"""

from __future__ import annotations

import argparse
import dataclasses
import time

import numpy as np
import torch

from cgflow import cgnet, data, presets, simulate
from cgflow.units import ns_per_day


def synchronize(device: torch.device) -> None:
    """Wait for queued GPU work, so that wall-clock times include it."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def matmul_gflops(device: torch.device, size: int = 2048, repeats: int = 5) -> float:
    a, b = torch.randn(size, size, device=device), torch.randn(size, size, device=device)
    a @ b
    synchronize(device)
    start = time.perf_counter()
    for _ in range(repeats):
        a @ b
    synchronize(device)
    return 2 * size**3 * repeats / (time.perf_counter() - start) / 1e9


def network_flops_per_frame(model: cgnet.CGNet) -> float:
    """Multiply-adds of all members' forward passes x 2 FLOPs, x 3 for forward plus input gradient."""
    return 3 * 2 * sum(weight.numel() for weight in model.network.weights)


def timed(function, seconds: float, device: torch.device) -> float:
    """Calls per second of ``function`` over about ``seconds`` s (after one warm-up call)."""
    function()
    synchronize(device)
    calls, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        function()
        calls += 1
    synchronize(device)
    return calls / (time.perf_counter() - start)


def rates(model: cgnet.CGNet, masses, positions: np.ndarray, replicas: int, time_step: float, seconds: float, device,
          compiled: bool = False, rounds: int = 3) -> tuple[float, float, float]:
    """(replica-steps per second of the simulator, frames per second of the bare networks'
    energy and input gradient, sim/bare) at ``replicas`` replicas started from ``positions``
    (nm); with ``compiled``, the simulator uses :meth:`cgflow.cgnet.CGNet.compiled_force_field`.
    The two are timed alternately in ``rounds`` rounds of ``seconds / rounds`` each; the
    medians of the rates and of the rounds' ratios are returned: this machine's speed drifts by
    tens of percent within a minute, and a ratio of two measurements taken apart carries it.
    Each simulator call runs 100 steps, so that the force evaluation a run starts with costs
    1 % (20 steps made it 5 %)."""
    start = torch.as_tensor(positions[np.arange(replicas) % len(positions)], dtype=torch.float32, device=device)
    force_field = model.compiled_force_field() if compiled else model.energy_and_forces
    simulation = simulate.LangevinSimulation(force_field, masses, temperature=model.config.temperature,
                                             time_step=time_step, device=device, progress=False)
    steps = 100
    features = torch.randn(replicas, model.featurizer.size, device=device)

    def bare():
        x = features.clone().requires_grad_(True)
        torch.autograd.grad(model.network(x).mean(0).sum(), x)

    measured = np.array([
        (steps * timed(lambda: simulation.run(start, steps, save_every=steps), seconds / rounds, device),
         timed(bare, seconds / rounds, device))
        for _ in range(rounds)
    ])
    rate, bare_rate = replicas * np.median(measured, axis=0)
    return float(rate), float(bare_rate), float(np.median(measured[:, 0] / measured[:, 1]))


def chignolin_chains(runner, n: int = 2000) -> np.ndarray:
    """C-alpha chains (nm) about the built CLN025 hairpin with typical spreads (bonds
    +-0.01 nm, angles +-0.2 rad, torsions +-0.5 rad): timing needs a CGnet of chignolin's size
    and a prior fitted to plausible chains, not a trained one."""
    from openmm import unit

    from cgflow.geometry import ChainIC

    xyz = np.array(runner.initial_positions.value_in_unit(unit.nanometer))[runner.bead_atoms]
    chain = ChainIC(10)
    ic = chain.forward(torch.as_tensor(xyz[None], dtype=torch.float64))[0]
    spread = np.concatenate([np.full(9, 0.01), np.full(8, 0.2), np.full(7, 0.5)])
    ic = ic + torch.as_tensor(np.random.default_rng(0).normal(size=(n, chain.dim)) * spread)
    return chain.inverse(ic).numpy()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-replicas", type=int, default=4096)
    parser.add_argument("--seconds", type=float, default=3.0, help="time per measurement")
    parser.add_argument("--skip-openmm", action="store_true")
    parser.add_argument("--device", default="cpu", help="torch device of the CG simulation, e.g. cuda")
    args = parser.parse_args()
    device = torch.device(args.device)
    torch.manual_seed(0)
    dataset = data.load("ala2").subsample(20_000)
    config = presets.cgnet_config(dataset.n_beads, dataset.temperature)
    model = cgnet.CGNet.from_data(dataset.positions, config).to(device)
    flops = network_flops_per_frame(model)
    peak = matmul_gflops(device)
    where = torch.cuda.get_device_name(device) if device.type == "cuda" else f"CPU, {torch.get_num_threads()} threads"
    print(f"{where}: float32 2048^3 matmul {peak:.1f} GFLOP/s")
    print(f"CGnet: {model.featurizer.size} features -> {config.members} networks of {config.depth} x {config.width} tanh,"
          f" {flops / 1e3:.0f} kFLOP per frame (energy + gradient)")
    print(f"{'replicas':>8} {'replica-steps/s':>16} {'bare net frames/s':>18} {'sim/bare':>9} {'net GFLOP/s':>12} {'of matmul':>9}")
    best = (0.0, 1)
    replicas = 1
    while replicas <= args.max_replicas:
        rate, bare_rate, ratio = rates(model, dataset.masses, dataset.positions, replicas, 0.002, args.seconds, device)
        net_gflops = bare_rate * flops / 1e9
        print(f"{replicas:>8} {rate:>16.0f} {bare_rate:>18.0f} {ratio:>9.2f} {net_gflops:>12.1f} {net_gflops / peak:>9.1%}")
        if rate > best[0]:
            best = (rate, replicas)
        replicas *= 4
    print(f"CG alanine dipeptide: {ns_per_day(best[0] * 0.002, 1.0):.0f} ns/day in total at {best[1]} replicas (2 fs steps)")
    if args.skip_openmm:
        return
    from cgflow import datagen

    cores = torch.get_num_threads() if device.type == "cpu" else 1  # a GPU run is compared with one all-atom process
    per_core = f"one single-threaded process per core, {cores} core{'s' * (cores > 1)}"
    allatom = datagen.RecipeRunner(datagen.ALA2).speed() * cores
    print(f"all-atom alanine dipeptide (OpenMM Reference, 2 fs, OBC, {per_core}): {allatom:.0f} ns/day")
    print(f"  CG / all-atom: {ns_per_day(best[0] * 0.002, 1.0) / allatom:.1f}x (22 atoms in implicit solvent are cheap: the CG model gains little here)")
    runner = datagen.RecipeRunner(datagen.CLN025)
    chains = chignolin_chains(runner)
    config10 = dataclasses.replace(presets.cgnet_config(10, 340.0), repulsion_min_separation=3)
    model10 = cgnet.CGNet.from_data(chains, config10).to(device)
    speeds = {}
    for replicas in sorted({16, 128, best[1], min(1024, args.max_replicas)}):  # 16, 128: the study's batches; 1,024: the criterion's
        for compiled in (False, True):
            rate10, _, ratio10 = rates(model10, np.full(10, 12.011), chains, replicas, 0.004, args.seconds, device, compiled)
            speeds[replicas, compiled] = ns_per_day(rate10 * 0.004, 1.0)
            print(f"CG chignolin at {replicas} replicas{', compiled' if compiled else ''}: {speeds[replicas, compiled]:.0f} ns/day in total"
                  f" (4 fs steps); sim/bare {ratio10:.2f}")
    cg10 = max(speeds.values())
    single = cgnet.CGNet.from_data(chains, dataclasses.replace(config10, members=1)).to(device)
    rate1, _, _ = rates(single, np.full(10, 12.011), chains, min(1024, args.max_replicas), 0.004, args.seconds, device)
    cg1 = ns_per_day(rate1 * 0.004, 1.0)
    print(f"  the same with one network instead of {config10.members}: {cg1:.0f} ns/day in total")
    aa10 = runner.speed(picoseconds=40.0) * cores
    print(f"all-atom chignolin (OpenMM CPU platform, 4 fs with HMR, OBC, {per_core}): {aa10:.0f} ns/day")
    print(f"  CG / all-atom on the same machine: {cg10 / aa10:.0f}x ({cg1 / aa10:.0f}x with one network)")


if __name__ == "__main__":
    main()
