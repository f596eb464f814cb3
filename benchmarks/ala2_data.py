"""Alanine-dipeptide reference data: generation speed per OpenMM platform and convergence.

Prints (1) the speed in ns/day of one replica of the data recipe on OpenMM's Reference and CPU
platforms, measured here on a short run, (2) how the replica exchange mixed (acceptance per
neighbour pair, round trips of the walkers, from the manifest), and (3) the convergence of the
shipped data: the KL divergence on the 60x60 Ramachandran histogram between the first and
second half of the data (each half of every ladder), between single ladders and the rest, and
the population at phi > 0 (alpha_L) per ladder and per half.

    python benchmarks/ala2_data.py [--skip-speed]
"""

from __future__ import annotations

import argparse
import dataclasses

import numpy as np

from cgflow import analysis, data
from cgflow.manifest import read_manifest


def halves(dataset: data.CGDataset) -> tuple[np.ndarray, np.ndarray]:
    """phi/psi of the first and second half of every trajectory."""
    angles = analysis.phi_psi(dataset.positions)
    first, second = [], []
    for part in dataset.trajectories():
        middle = (part.start + part.stop) // 2
        first.append(angles[part.start : middle])
        second.append(angles[middle : part.stop])
    return np.concatenate(first), np.concatenate(second)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-speed", action="store_true", help="only the convergence figures")
    args = parser.parse_args()
    if not args.skip_speed:
        from cgflow import datagen

        for platform in ("Reference", "CPU"):
            speed = datagen.RecipeRunner(dataclasses.replace(datagen.ALA2, platform=platform)).speed()
            print(f"speed  {platform:<9} 2 fs, HBonds, OBC: {speed:8.0f} ns/day (one process)")
    dataset = data.load("ala2")
    provenance = read_manifest(data.data_dir())["ala2"]["provenance"]
    print(f"data   {len(dataset)} frames at {dataset.temperature:g} K, {len(dataset.trajectory_lengths)} ladders,"
          f" {provenance['total_simulated_ns']:g} ns simulated in all")
    for key, value in provenance["sampling"].items():
        print(f"       {key}: {value}")
    grid = dict(bins=60, range=analysis.RAMACHANDRAN_RANGE)
    first, second = halves(dataset)
    kl = analysis.block_bootstrap(analysis.kl_divergence, first, second, **grid)
    print(f"KL(first halves || second halves), 60x60 phi/psi: {kl} nats")
    angles = analysis.phi_psi(dataset.positions)
    for index, part in enumerate(dataset.trajectories()):
        rest = np.concatenate([angles[:part.start], angles[part.stop:]])
        print(f"KL(all other ladders || ladder {index}): {analysis.kl_divergence(rest, angles[part], **grid):.4f} nats")
    # The rare basins at phi > 0 (alpha_L, C7ax): population per ladder and per half, and the
    # visits at 300 K (entries into the core 0.5 < phi < 2 rad from phi < -0.5 rad).
    positive = angles[:, 0] > 0
    per_ladder = np.array([positive[part].mean() for part in dataset.trajectories()])
    print(f"population at phi > 0: {positive.mean():.4f} +- {per_ladder.std(ddof=1) / np.sqrt(len(per_ladder)):.4f}"
          f" (standard error over ladders); first halves {(first[:, 0] > 0).mean():.4f}, second halves {(second[:, 0] > 0).mean():.4f}")
    for index, part in enumerate(dataset.trajectories()):
        visits, _ = analysis.count_transitions(angles[part, 0] < -0.5, (angles[part, 0] > 0.5) & (angles[part, 0] < 2.0))
        print(f"  ladder {index}: population {per_ladder[index]:.4f}, visits to phi > 0 at 300 K: {visits}")


if __name__ == "__main__":
    main()
