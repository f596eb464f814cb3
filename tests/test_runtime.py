"""Seeds, fast mode and device selection."""

import random

import numpy as np
import pytest
import torch

import cgflow
from cgflow import runtime


def test_seed_everything_makes_all_generators_repeat():
    def draw():
        return random.random(), np.random.rand(), torch.rand(1).item()

    cgflow.seed_everything(7)
    first = draw()
    cgflow.seed_everything(7)
    assert draw() == first
    cgflow.seed_everything(8)
    assert draw() != first


@pytest.mark.parametrize(("value", "expected"), [("1", True), ("true", True), ("0", False), ("", False)])
def test_fast_mode_reads_the_environment(monkeypatch, value, expected):
    monkeypatch.setenv(runtime.FAST_ENV, value)
    assert cgflow.fast_mode() is expected
    assert cgflow.pick("teaching", "fast") == ("fast" if expected else "teaching")


def test_fast_mode_rejects_unclear_values(monkeypatch):
    monkeypatch.setenv(runtime.FAST_ENV, "maybe")
    with pytest.raises(ValueError, match="CGFLOW_FAST"):
        cgflow.fast_mode()


@pytest.mark.parametrize(("value", "expected"), [("0", False), ("off", False), ("1", True), ("", True)])
def test_progress_bars_follow_the_environment(monkeypatch, value, expected):
    monkeypatch.setenv(runtime.PROGRESS_ENV, value)
    assert runtime.progress_bars() is expected
    monkeypatch.setenv(runtime.PROGRESS_ENV, "sometimes")
    with pytest.raises(ValueError, match="CGFLOW_PROGRESS"):
        runtime.progress_bars()


def test_default_device(monkeypatch):
    monkeypatch.delenv("CGFLOW_DEVICE", raising=False)
    assert cgflow.default_device("cpu") == torch.device("cpu")
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert cgflow.default_device().type == expected
    monkeypatch.setenv("CGFLOW_DEVICE", "cpu")
    assert cgflow.default_device() == torch.device("cpu")


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without a GPU")
def test_requesting_cuda_without_a_gpu_is_a_clear_error():
    with pytest.raises(RuntimeError, match="no CUDA GPU"):
        cgflow.default_device("cuda")
