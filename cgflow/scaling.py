"""Z-scoring with statistics of the training data, as a module whose buffers travel with a
model's checkpoint and device (the teacher's coordinates and the student's features use it)."""

from __future__ import annotations

import torch
from torch import nn

#: Smallest standard deviation used, so that a constant column does not divide by zero.
MIN_STD = 1e-6


class ZScore(nn.Module):
    """``(values - mean) / std`` over the last axis of ``values`` ``[..., size]``."""

    def __init__(self, size: int):
        super().__init__()
        self.register_buffer("mean", torch.zeros(size))
        self.register_buffer("std", torch.ones(size))

    @property
    def size(self) -> int:
        """Number of standardised values."""
        return len(self.mean)

    @torch.no_grad()
    def fit(self, values: torch.Tensor) -> ZScore:
        """Take mean and standard deviation of ``values`` ``[n, size]`` (floored at ``MIN_STD``)."""
        if values.ndim != 2 or values.shape[1] != self.size:
            raise ValueError(f"expected values [n, {self.size}], got {tuple(values.shape)}")
        self.mean.copy_(values.mean(0))
        self.std.copy_(values.std(0).clamp_min(MIN_STD))
        return self

    def forward(self, values: torch.Tensor) -> torch.Tensor:
        return (values - self.mean) / self.std

    def inverse(self, scaled: torch.Tensor) -> torch.Tensor:
        """Values in their own units from z-scores."""
        return scaled * self.std + self.mean

    def log_det(self) -> torch.Tensor:
        """``log |d forward / d values|`` (a scalar): ``-sum(log std)``."""
        return -torch.log(self.std).sum()
