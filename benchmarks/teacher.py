"""The teacher on alanine dipeptide: training time, sampling speed, NLL and KL to the ground truth.

Trains the augmented flow on 20,000 frames spread over the training blocks of the shipped data
(the first 80% of every trajectory), validates on 2,000 frames of the held-out blocks (the
last 20%), and compares 100,000 flow samples with all held-out frames on the 60 x 60
Ramachandran histogram (KL with empty bins masked, as in the paper). Target of the teacher
issue: under 10 minutes of training on a 2-core CPU and KL(ground truth || flow) < 0.05.

    python benchmarks/teacher.py [--epochs 40] [--frames 20000]
"""

from __future__ import annotations

import argparse
import time

import torch

from cgflow import analysis, data, flows, seed_everything, training


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--frames", type=int, default=20_000)
    parser.add_argument("--samples", type=int, default=100_000)
    args = parser.parse_args()
    seed_everything(0)
    train, held_out = data.load("ala2").split(0.2, by="block")
    train = train.subsample(args.frames)
    validation = held_out.subsample(2000)
    model = flows.AugmentedFlow.from_data(train.positions, flows.FlowConfig(n_beads=5, temperature=train.temperature))
    config = training.TrainingConfig(
        epochs=args.epochs, batch_size=128, learning_rate=5e-3, patience=None, max_gradient_norm=10.0, progress=False
    )
    history = model.fit(train.positions, validation.positions, config)
    print(f"training: {len(history.train)} epochs on {len(train)} frames in {history.seconds / 60:.1f} min "
          f"({torch.get_num_threads()} threads); best validation NLL {history.validation[history.best_epoch]:.3f} nats "
          f"at epoch {history.best_epoch + 1}")
    start = time.perf_counter()
    sample = model.sample(args.samples, generator=torch.Generator().manual_seed(1))
    seconds = time.perf_counter() - start
    print(f"sampling: {args.samples / seconds:.0f} samples/s with energies and forces")
    reference = analysis.phi_psi(held_out.positions)
    generated = analysis.phi_psi(sample.positions.numpy())
    grid = dict(bins=60, range=analysis.RAMACHANDRAN_RANGE)
    kl = analysis.kl_divergence(reference, generated, **grid)
    floor = analysis.kl_divergence(reference, analysis.phi_psi(train.positions), **grid)
    print(f"KL(ground truth || flow), 60x60 phi/psi: {kl:.4f} nats (target < 0.05); "
          f"the {len(train)} training frames themselves: {floor:.4f}")
    print(f"population at phi > 0: ground truth {(reference[:, 0] > 0).mean():.4f}, flow {(generated[:, 0] > 0).mean():.4f}")


if __name__ == "__main__":
    main()
