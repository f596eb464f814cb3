"""Scaling of the teacher's training over processes (torch.distributed, one thread each).

Trains chapter 5's teacher (``presets.teacher_config``) on the 20,000 training frames for a few
epochs, once per row: one process with one thread, one process with as many threads as there
are processes in the widest row, and ``torchrun`` with 2, 3, ... processes of one thread each
(gloo on CPU, nccl with one GPU per process where ``--device cuda``). The global batch (128),
the initial weights and the batch order are the same in every row; the teacher's augmented
channels are drawn by each process's own generator (seeded by rank), so rows follow
statistically equal paths (compare their final validation NLL) and the seconds differ. Prints seconds per epoch and the speed-up over one
process, and writes ``benchmarks/results/distributed.json``. Run it on an idle machine.

    python benchmarks/distributed.py [--processes 1 2] [--epochs 2] [--device cpu]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

from cgflow import data, distributed, flows, presets, seed_everything


def worker(epochs: int, output: Path) -> None:
    """One process of a row: train the teacher, rank 0 writes seconds per epoch."""
    device = distributed.initialise()
    frames = presets.ala2_frames(data.load("ala2"))
    seed_everything(0)
    teacher = flows.AugmentedFlow.from_data(frames.train.positions, presets.teacher_config(frames.train.n_beads, frames.train.temperature))
    teacher.to(device)
    seed_everything(1000 + distributed.rank())  # each process draws its own augmented channels
    config = dataclasses.replace(presets.teacher_training(0), epochs=epochs, progress=False)
    start = time.perf_counter()
    history = teacher.fit(frames.train.positions, frames.valid.positions, config)
    seconds = time.perf_counter() - start
    if distributed.is_main():
        output.write_text(json.dumps({"seconds_per_epoch": seconds / epochs, "final_validation_nll": history.validation[-1]}))
    distributed.shutdown()


def row(processes: int, threads: int, epochs: int, device: str) -> dict:
    """Run one configuration in fresh processes and read back its timing."""
    with tempfile.TemporaryDirectory() as folder:
        output = Path(folder) / "row.json"
        env = {**os.environ, "OMP_NUM_THREADS": str(threads), "CGFLOW_DEVICE": device, "CGFLOW_PROGRESS": "0"}
        launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", str(processes)] if processes > 1 else [sys.executable]
        subprocess.run([*launcher, __file__, "--worker", "--epochs", str(epochs), "--output", str(output)], env=env, check=True)
        result = json.loads(output.read_text())
    return {"processes": processes, "threads_per_process": threads, "device": device, **{k: round(v, 4) for k, v in result.items()}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--processes", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--device", default="cpu", help="cpu, or cuda (one GPU per process)")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--output", type=Path, default=presets.BENCHMARK_RESULTS / "distributed.json")
    args = parser.parse_args()
    if args.worker:
        worker(args.epochs, args.output)
        return
    widest = max(args.processes)
    plan = [(1, 1)] + ([(1, widest)] if widest > 1 else []) + [(p, 1) for p in args.processes if p > 1]
    rows = []
    print(f"{'processes':>9s} {'threads':>7s} {'s/epoch':>8s} {'speed-up':>8s} {'valid NLL':>10s}")
    for processes, threads in plan:
        result = row(processes, threads, args.epochs, args.device)
        result["speed_up"] = round(rows[0]["seconds_per_epoch"] / result["seconds_per_epoch"], 3) if rows else 1.0
        rows.append(result)
        print(f"{processes:9d} {threads:7d} {result['seconds_per_epoch']:8.1f} {result['speed_up']:8.2f} {result['final_validation_nll']:10.4f}", flush=True)
    settings = {"epochs": args.epochs, "n_train": presets.N_TRAIN, "batch_size": presets.teacher_training().batch_size,
                "device": args.device, "cpu_count": os.cpu_count(), "torch": torch.__version__}
    presets.save_benchmark_record(args.output, settings, rows)


if __name__ == "__main__":
    main()
