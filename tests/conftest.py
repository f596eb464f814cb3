"""Test configuration: fast mode on, no progress bars, CPU by default, a non-interactive matplotlib backend.

Tests that take the ``device`` fixture run on the CPU and, where PyTorch sees a CUDA GPU,
once more on it: the same physics checks for the GPU path (skipped on CPU-only machines).
"""

import os

import pytest
import torch

os.environ["CGFLOW_FAST"] = "1"
os.environ.setdefault("CGFLOW_PROGRESS", "0")
os.environ.setdefault("CGFLOW_DEVICE", "cpu")
os.environ.setdefault("MPLBACKEND", "Agg")


@pytest.fixture(params=["cpu", pytest.param("cuda", marks=pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU"))])
def device(request) -> torch.device:
    return torch.device(request.param)
