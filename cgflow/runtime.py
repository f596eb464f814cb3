"""Run-time switches shared by the package and the notebooks: seeds, fast mode, device."""

from __future__ import annotations

import os
import random
from typing import TypeVar

import numpy as np
import torch

T = TypeVar("T")

#: Environment variable that switches notebooks and scripts to fast (test) settings.
FAST_ENV = "CGFLOW_FAST"
#: Environment variable that hides progress bars when set to 0: the static book sets it, where a
#: bar would be frozen at its first state (JupyterLab and scripts keep their live bars).
PROGRESS_ENV = "CGFLOW_PROGRESS"


def seed_everything(seed: int) -> None:
    """Seed Python's, NumPy's and PyTorch's global generators (CPU and CUDA)."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def _switch(name: str, default: bool, meaning: str) -> bool:
    value = os.environ.get(name, "").strip().lower()
    if value == "":
        return default
    if value in ("0", "false", "no", "off"):
        return False
    if value in ("1", "true", "yes", "on"):
        return True
    raise ValueError(f"{name}={value!r} is not understood; use 1 or 0 ({meaning})")


def fast_mode() -> bool:
    """True when ``CGFLOW_FAST`` is set to 1/true/yes: tests run every chapter in about a minute."""
    return _switch(FAST_ENV, False, "1: fast, for tests; 0: teaching settings")


def progress_bars() -> bool:
    """Whether long loops show tqdm bars: yes, unless ``CGFLOW_PROGRESS`` is set to 0."""
    return _switch(PROGRESS_ENV, True, "1: show progress bars; 0: hide them")


def pick(teaching: T, fast: T) -> T:
    """The teaching-setting value, or the fast-mode value when ``CGFLOW_FAST=1``."""
    return fast if fast_mode() else teaching


def default_device(prefer: str | None = None) -> torch.device:
    """The device to use: ``prefer`` if given (e.g. ``"cpu"``, ``"cuda:0"``), else CUDA when
    available, else CPU. The environment variable ``CGFLOW_DEVICE`` overrides the default."""
    choice = prefer or os.environ.get("CGFLOW_DEVICE")
    if choice:
        device = torch.device(choice)
        if device.type == "cuda" and not torch.cuda.is_available():
            raise RuntimeError(f"device {choice!r} was requested but PyTorch sees no CUDA GPU")
        return device
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")
