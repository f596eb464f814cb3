"""What each process of the two-process tests runs (``torchrun ... worker.py TASK OUTPUT``).

Tasks: ``fit`` (a CGNet force-matched on shipped alanine-dipeptide frames, float64),
``nan`` (a line fitted while rank 1's loss turns NaN at its fourth step), ``crash`` (rank 1 raises before training),
``sample`` (a small untrained flow sampled in shards), ``tempering`` (parallel tempering of a
harmonic well with its walkers shared out). Rank 0 writes the results under OUTPUT;
the tests run the same functions in one process for comparison.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import torch

from cgflow import data, distributed, flows, seed_everything, simulate
from cgflow.cgnet import CGNet, CGNetConfig
from cgflow import training
from cgflow.training import TrainingConfig

FRAMES, VALIDATION = 500, 100  # 500 frames in batches of 64: the last batch (52) is split too


def frames():
    """Positions and forces (float64 tensors; nm, kJ/mol/nm) of a strided subsample."""
    dataset = data.load("ala2").subsample(FRAMES + VALIDATION)
    return torch.as_tensor(dataset.positions, dtype=torch.float64), torch.as_tensor(dataset.forces, dtype=torch.float64)


def fit():
    """A small CGNet trained for three epochs; returns the model and its history."""
    torch.set_default_dtype(torch.float64)
    positions, forces = frames()
    seed_everything(0)
    model = CGNet.from_data(positions[:FRAMES], CGNetConfig(n_beads=5, width=32, depth=2, members=2))
    config = TrainingConfig(epochs=3, batch_size=64, learning_rate=3e-3, patience=None, seed=0, progress=False)
    history = model.fit(positions[:FRAMES], forces[:FRAMES], validation=(positions[FRAMES:], forces[FRAMES:]), config=config)
    return model, history


def diverge() -> None:
    """A line fitted by the shared loop; rank 1's loss is NaN from its fourth step on."""
    steps = []

    def loss(model, x, y):
        steps.append(1)
        value = ((model(x) - y) ** 2).mean()
        return value * float("nan") if distributed.rank() == 1 and len(steps) > 3 else value

    x = torch.linspace(-1, 1, 256)[:, None]
    training.fit(torch.nn.Linear(1, 1), loss, (x, 2 * x), config=TrainingConfig(epochs=2, batch_size=32, progress=False))


def sample():
    """1,000 samples of an untrained flow in chunks of 300 (four chunks for two processes)."""
    torch.set_default_dtype(torch.float64)
    positions, _ = frames()
    seed_everything(0)
    flow = flows.AugmentedFlow.from_data(positions, flows.FlowConfig(n_beads=5, n_augmented=2, n_blocks=2, hidden=16))
    return distributed.sample(flow, 1000, seed=7, chunk=300)


def harmonic(x):
    """U = k/2 |x|^2 with k = 1000 kJ/mol/nm^2 (kJ/mol, kJ/mol/nm)."""
    return 500.0 * (x**2).sum((1, 2)), -1000.0 * x


TEMPERING = simulate.ParallelTempering(harmonic, np.full(2, 12.0), np.array([300.0, 360.0, 430.0]), n_walkers=5, time_step=0.004, swap_every=10, seed=3, progress=False)


def tempering_starts() -> np.ndarray:
    """Starting positions of the 15 replicas ``[15, 2, 3]`` (nm)."""
    return np.random.default_rng(0).normal(scale=0.05, size=(15, 2, 3))


def main(task: str, output: Path) -> None:
    distributed.initialise()
    if task == "crash" and distributed.rank() == 1:
        raise RuntimeError("rank 1 fails on purpose")
    if task == "nan":
        diverge()
    elif task in ("fit", "crash"):
        model, history = fit()
        model.save(output / "model.pt")
        if distributed.is_main():
            (output / "history.json").write_text(json.dumps({"train": history.train, "validation": history.validation}))
    elif task == "sample":
        result = sample()
        if distributed.is_main():
            torch.save({"positions": result.positions, "forces": result.forces}, output / "sample.pt")
    elif task == "tempering":
        result = distributed.run_tempering(TEMPERING, tempering_starts(), n_steps=400, save_every=20)
        if distributed.is_main():
            np.savez(output / "tempering.npz", positions=result.positions, energies=result.energies,
                     temperatures=result.temperatures, swap_acceptance=result.swap_acceptance)
    distributed.shutdown()


if __name__ == "__main__":
    main(sys.argv[1], Path(sys.argv[2]))
