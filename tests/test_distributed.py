"""Data-parallel training and sharded sampling with two CPU processes (gloo, under torchrun),
compared with one process: same global batch and seeds give the same losses and parameters."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from cgflow import distributed
from cgflow.cgnet import CGNet

WORKER = Path(__file__).parent / "distributed" / "worker.py"


def load_worker():
    spec = importlib.util.spec_from_file_location("distributed_worker", WORKER)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def torchrun(task: str, output: Path, timeout: float = 300) -> subprocess.CompletedProcess:
    """Two processes on this machine (gloo), as a user starts them."""
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2", str(WORKER), task, str(output)]
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout, env={**__import__("os").environ, "CGFLOW_DEVICE": "cpu"})


@pytest.fixture
def float64():
    previous = torch.get_default_dtype()
    yield
    torch.set_default_dtype(previous)


def test_shards_cover_every_item_once_and_differ_by_at_most_one():
    for n in (0, 1, 5, 52, 64):
        for parts in (1, 2, 3):
            shares = [range(n)[distributed.shard(n, part, parts)] for part in range(parts)]
            assert [i for share in shares for i in share] == list(range(n))
            assert max(map(len, shares)) - min(map(len, shares)) <= 1


def test_two_processes_train_as_one(tmp_path, float64):
    """Gradients averaged over the processes' shares of each global batch equal the gradient
    of the whole batch up to rounding: in float64, after 24 Adam steps the losses and
    parameters agree to 1e-9 (relative), far below any change a training step makes."""
    done = torchrun("fit", tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    worker = load_worker()
    model, history = worker.fit()
    distributed_history = json.loads((tmp_path / "history.json").read_text())
    assert distributed_history["train"] == pytest.approx(history.train, rel=1e-9)
    assert distributed_history["validation"] == pytest.approx(history.validation, rel=1e-9)
    saved = CGNet.load(tmp_path / "model.pt")  # written by rank 0, loadable in any process
    for name, value in model.state_dict().items():
        torch.testing.assert_close(saved.state_dict()[name], value, rtol=1e-9, atol=1e-12, msg=name)
    assert history.train[-1] < history.train[0]  # and the run did train


def test_sharded_samples_are_the_samples_of_one_process(tmp_path, float64):
    done = torchrun("sample", tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    shared = torch.load(tmp_path / "sample.pt")
    alone = load_worker().sample()
    assert shared["positions"].shape == (1000, 5, 3)
    torch.testing.assert_close(shared["positions"], alone.positions, rtol=0, atol=1e-12)
    torch.testing.assert_close(shared["forces"], alone.forces, rtol=1e-10, atol=1e-9)


def test_sharded_tempering_is_the_union_of_its_shares(tmp_path):
    """Two processes: walkers 0-2 run on rank 0 with the seed, walkers 3-4 on rank 1 with the
    seed + SEED_STRIDE; the gathered result is exactly those two runs side by side (each of
    which test_simulate checks as physics), in one process's layout."""
    import dataclasses

    import numpy as np

    done = torchrun("tempering", tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    shared = np.load(tmp_path / "tempering.npz")
    worker = load_worker()
    pt, starts = worker.TEMPERING, worker.tempering_starts()
    first = dataclasses.replace(pt, n_walkers=3).run(starts[:9], n_steps=400, save_every=20)
    second = dataclasses.replace(pt, n_walkers=2, seed=pt.seed + distributed.SEED_STRIDE).run(starts[9:], n_steps=400, save_every=20)
    np.testing.assert_array_equal(shared["positions"], np.concatenate([first.positions, second.positions], axis=1))
    np.testing.assert_array_equal(shared["energies"], np.concatenate([first.energies, second.energies], axis=1))
    np.testing.assert_array_equal(shared["temperatures"], np.tile(pt.temperatures, 5))
    np.testing.assert_allclose(shared["swap_acceptance"], (3 * first.swap_acceptance + 2 * second.swap_acceptance) / 5, rtol=1e-12)


def test_a_non_finite_loss_on_one_rank_stops_every_rank_with_its_name(tmp_path):
    done = torchrun("nan", tmp_path, timeout=120)
    assert done.returncode != 0
    for rank in (0, 1):  # both stop, and both say which rank diverged where
        assert f"[rank{rank}]: FloatingPointError: training, epoch 0, step 3: the loss is not finite on rank(s) [1]" in done.stderr


def test_a_failing_rank_ends_the_run_instead_of_hanging(tmp_path):
    done = torchrun("crash", tmp_path, timeout=120)  # a hang would raise TimeoutExpired
    assert done.returncode != 0
    assert "rank 1 fails on purpose" in done.stderr
