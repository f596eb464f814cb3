"""Speed of the CG simulator against the bare network, the CPU's matmul rate and OpenMM.

Prints, for the alanine-dipeptide CGNet (5 hidden layers of 160 tanh units on its features):
(1) replica-steps per second of the full simulator step (featurizer, prior, network, forces,
    BAOAB) against the number of replicas, next to the bare network's energy-and-gradient
    evaluation at the same batch size, and the fraction of the CPU's measured float32
    matrix-multiply FLOP rate that the network part achieves;
(2) simulated ns/day of the CG model (all replicas together) against all-atom OpenMM (the
    data recipe, one process) for the same molecule on the same machine: alanine dipeptide
    (5 beads, 2 fs) and chignolin CLN025 (10 C-alpha beads, 4 fs for both).

    python benchmarks/simulate.py [--max-replicas 4096] [--seconds 3] [--device cuda] [--skip-openmm]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from cgflow import cgnet, data, simulate
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
    """Multiply-adds of the MLP forward pass x 2 FLOPs, x 3 for forward plus input gradient."""
    weights = sum(layer.weight.numel() for layer in model.network if isinstance(layer, torch.nn.Linear))
    return 3 * 2 * weights


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
    model = cgnet.CGNet.from_data(dataset.positions, cgnet.CGNetConfig(n_beads=5, width=160, depth=5)).to(device)
    masses = np.array([12.011, 14.007, 12.011, 12.011, 14.007])
    flops = network_flops_per_frame(model)
    peak = matmul_gflops(device)
    where = torch.cuda.get_device_name(device) if device.type == "cuda" else f"CPU, {torch.get_num_threads()} threads"
    print(f"{where}: float32 2048^3 matmul {peak:.1f} GFLOP/s")
    print(f"network: {model.featurizer.size} features -> 5 x 160 tanh, {flops / 1e3:.0f} kFLOP per frame (energy + gradient)")
    print(f"{'replicas':>8} {'sim steps/s':>12} {'replica-steps/s':>16} {'bare net frames/s':>18} {'sim/bare':>9} {'net GFLOP/s':>12} {'of matmul':>9} {'sim of matmul':>13}")
    best = (0.0, 1)
    replicas = 1
    while replicas <= args.max_replicas:
        start = torch.as_tensor(dataset.positions[np.arange(replicas) % len(dataset)], device=device)
        simulation = simulate.LangevinSimulation(model.energy_and_forces, masses, time_step=0.002, device=device, progress=False)
        chunk = 20
        steps_per_second = chunk * timed(lambda: simulation.run(start, chunk, save_every=chunk), args.seconds, device)
        features = torch.randn(replicas, model.featurizer.size, device=device)

        def bare():
            x = features.clone().requires_grad_(True)
            torch.autograd.grad(model.network(x).sum(), x)

        bare_rate = replicas * timed(bare, args.seconds, device)
        rate = replicas * steps_per_second
        net_gflops = bare_rate * flops / 1e9
        sim_share = rate * flops / 1e9 / peak  # network FLOPs done per second inside the full simulator step
        print(f"{replicas:>8} {steps_per_second:>12.1f} {rate:>16.0f} {bare_rate:>18.0f} {rate / bare_rate:>9.2f} {net_gflops:>12.1f} {net_gflops / peak:>9.1%} {sim_share:>13.1%}")
        if rate > best[0]:
            best = (rate, replicas)
        replicas *= 4
    print(f"CG alanine dipeptide: {ns_per_day(best[0] * 0.002, 1.0):.0f} ns/day in total at {best[1]} replicas (2 fs steps)")
    if not args.skip_openmm:
        from cgflow import datagen

        allatom = datagen.RecipeRunner(datagen.ALA2).speed()
        print(f"all-atom alanine dipeptide (OpenMM Reference, 2 fs, OBC, one process): {allatom:.0f} ns/day")
        print(f"  CG / all-atom: {ns_per_day(best[0] * 0.002, 1.0) / allatom:.0f}x")
        chignolin = datagen.RecipeRunner(datagen.CLN025)
        # Timing needs a CGNet of chignolin's size, not a trained one: fit its prior to C-alpha
        # chains with typical spreads (bonds 0.38 +- 0.01 nm, angles +- 0.2 rad, torsions +- 0.5 rad
        # about the built hairpin) and leave the network at its initial weights.
        from openmm import unit

        from cgflow.geometry import ChainIC

        xyz = np.array(chignolin.initial_positions.value_in_unit(unit.nanometer))[chignolin.bead_atoms]
        chain = ChainIC(10)
        ic = chain.forward(torch.as_tensor(xyz[None], dtype=torch.float64))[0]
        rng = np.random.default_rng(0)
        spread = np.concatenate([np.full(9, 0.01), np.full(8, 0.2), np.full(7, 0.5)])
        ic = ic + torch.as_tensor(rng.normal(size=(2000, chain.dim)) * spread)
        noisy = chain.inverse(ic).numpy()
        model10 = cgnet.CGNet.from_data(noisy, cgnet.CGNetConfig(n_beads=10, width=160, depth=5, repulsion_min_separation=3, temperature=340.0)).to(device)
        replicas10 = best[1]
        simulation = simulate.LangevinSimulation(model10.energy_and_forces, np.full(10, 12.011), temperature=340.0, time_step=0.004, device=device, progress=False)
        start10 = torch.as_tensor(noisy[np.arange(replicas10) % len(noisy)], dtype=torch.float32, device=device)
        rate10 = replicas10 * 20 * timed(lambda: simulation.run(start10, 20, save_every=20), args.seconds, device)
        cg10 = ns_per_day(rate10 * 0.004, 1.0)
        aa10 = chignolin.speed(picoseconds=40.0)
        print(f"CG chignolin: {cg10:.0f} ns/day in total at {replicas10} replicas (4 fs steps)")
        print(f"all-atom chignolin (OpenMM CPU platform, 4 fs with HMR, OBC, one process): {aa10:.0f} ns/day")
        print(f"  CG / all-atom: {cg10 / aa10:.0f}x")


if __name__ == "__main__":
    main()
