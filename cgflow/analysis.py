"""Comparing ensembles: Ramachandran angles, histogram free energies, KL divergence, MSE.

Conventions (section 3 of the flow-matching paper):

- Free energies are ``F = -kT ln p`` of normalised histograms, in kJ/mol, shifted so that the
  lowest populated bin is 0. **Empty bins** have no finite free energy and are returned as
  ``+inf``; plots leave them blank.
- The KL divergence ``KL(p || q) = sum_i p_i ln(p_i / q_i)`` (in nats) compares a reference
  histogram ``p`` with a model histogram ``q`` on the same bins (60 x 60 on the Ramachandran
  plane). With ``pseudocount=None`` bins that are empty in either histogram are **masked**
  (left out of the sum), as in the paper's evaluation; this never gives infinity but ignores
  the mass that one ensemble puts where the other has none. With ``pseudocount=a`` every bin
  count is raised by ``a`` before normalising, which penalises such mass instead.
- The free-energy MSE averages ``(F_model - F_reference - c)^2`` over bins populated in both,
  with the constant ``c`` (the free energies are defined up to one) chosen to minimise it.
- Error bars come from a bootstrap over contiguous blocks of frames, so that correlated
  neighbouring frames are resampled together.

Every function takes optional frame weights (non-negative, any normalisation).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .geometry import dihedrals
from .units import kT

#: Periodic range of an angle in radians, per dimension of the Ramachandran plane.
RAMACHANDRAN_RANGE = ((-np.pi, np.pi), (-np.pi, np.pi))
#: Bead quadruples of phi (C-N-CA-C) and psi (N-CA-C-N) in the 5-bead alanine dipeptide map.
ALA2_PHI_PSI = np.array([[0, 1, 2, 3], [1, 2, 3, 4]])


@dataclass(frozen=True)
class Estimate:
    """A value with its bootstrap standard error (same unit as the value)."""

    value: float
    error: float

    def __str__(self) -> str:
        return f"{self.value:.4g} ± {self.error:.2g}"


def phi_psi(positions) -> np.ndarray:
    """Backbone dihedrals phi and psi in radians ``[frames, 2]`` of alanine-dipeptide CG
    positions ``[frames, 5, 3]`` in nm (beads C, N, CA, C, N), or of an ``mdtraj.Trajectory``."""
    xyz = getattr(positions, "xyz", positions)
    if np.shape(xyz)[-2:] != (5, 3):
        raise ValueError(f"alanine-dipeptide CG positions must have shape [frames, 5, 3], got {np.shape(xyz)}")
    return dihedrals(np.asarray(xyz, dtype=np.float64), ALA2_PHI_PSI).numpy()


def _samples(samples) -> np.ndarray:
    array = np.asarray(samples, dtype=np.float64)
    array = array[:, None] if array.ndim == 1 else array
    if array.ndim != 2 or len(array) == 0:
        raise ValueError(f"samples must have shape [frames] or [frames, dims] and at least one frame, got {np.shape(samples)}")
    if not np.isfinite(array).all():
        raise ValueError("samples contain NaN or infinite values")
    return array


def _weights(weights, n: int) -> np.ndarray | None:
    if weights is None:
        return None
    weights = np.asarray(weights, dtype=np.float64)
    if weights.shape != (n,):
        raise ValueError(f"weights must have shape [{n}] to match the samples, got {weights.shape}")
    if not np.isfinite(weights).all() or (weights < 0).any():
        raise ValueError("weights must be finite and non-negative")
    if weights.sum() <= 0:
        raise ValueError("weights are all zero")
    return weights


def histogram(samples, bins=60, range=None, weights=None) -> tuple[np.ndarray, list[np.ndarray]]:
    """Normalised histogram (probabilities summing to 1 over the range) and bin edges of
    ``samples`` ``[frames]`` or ``[frames, dims]``; samples outside ``range`` are dropped."""
    array = _samples(samples)
    counts, edges = np.histogramdd(array, bins=bins, range=range, weights=_weights(weights, len(array)))
    total = counts.sum()
    if total <= 0:
        raise ValueError("no samples fall inside the histogram range")
    return counts / total, edges


def free_energy(samples, temperature: float, bins=60, range=None, weights=None) -> tuple[np.ndarray, list[np.ndarray]]:
    """Free energy ``-kT ln p`` in kJ/mol per bin (minimum 0, ``+inf`` where empty) and the
    bin edges; temperature in K. Divide by ``kT(temperature)`` for units of kT."""
    probability, edges = histogram(samples, bins, range, weights)
    with np.errstate(divide="ignore"):
        energy = -kT(temperature) * np.log(probability)
    return energy - energy[np.isfinite(energy)].min(), edges


def _pair(reference, model, bins, range, reference_weights, model_weights, pseudocount):
    p, edges = histogram(reference, bins, range, reference_weights)
    q, _ = histogram(model, edges, None, model_weights)
    if pseudocount is not None:
        if pseudocount <= 0:
            raise ValueError(f"pseudocount must be positive, got {pseudocount}")
        # Re-express the pseudo-count in units of one (weighted) sample of each ensemble.
        p = p + pseudocount / len(_samples(reference))
        q = q + pseudocount / len(_samples(model))
        p, q = p / p.sum(), q / q.sum()
    return p, q


def kl_divergence(
    reference, model, bins=60, range=None, reference_weights=None, model_weights=None, pseudocount: float | None = None
) -> float:
    """``KL(reference || model)`` in nats between histograms of two sample sets on the bins
    of the reference (see the module docstring for empty bins)."""
    p, q = _pair(reference, model, bins, range, reference_weights, model_weights, pseudocount)
    both = (p > 0) & (q > 0)
    return float(np.sum(p[both] * np.log(p[both] / q[both])))


def free_energy_mse(
    reference, model, temperature: float, bins=60, range=None, reference_weights=None, model_weights=None
) -> float:
    """Mean squared free-energy difference in (kJ/mol)^2 over bins populated in both, after
    removing the best constant offset; temperature in K."""
    p, q = _pair(reference, model, bins, range, reference_weights, model_weights, None)
    both = (p > 0) & (q > 0)
    if not both.any():
        raise ValueError("the two ensembles share no populated bin")
    difference = -kT(temperature) * (np.log(q[both]) - np.log(p[both]))
    return float(np.mean((difference - difference.mean()) ** 2))


def block_bootstrap(
    statistic: Callable[..., float],
    reference,
    model,
    reference_weights=None,
    model_weights=None,
    n_blocks: int = 10,
    n_resamples: int = 100,
    seed: int = 0,
    **keywords,
) -> Estimate:
    """``statistic(reference, model, reference_weights=..., model_weights=..., **keywords)``
    with a standard error from resampling ``n_blocks`` contiguous blocks of each sample set
    with replacement ``n_resamples`` times."""
    reference, model = _samples(reference), _samples(model)
    reference_weights = _weights(reference_weights, len(reference))
    model_weights = _weights(model_weights, len(model))
    value = statistic(reference, model, reference_weights=reference_weights, model_weights=model_weights, **keywords)
    rng = np.random.default_rng(seed)

    def resample(samples, weights):
        blocks = np.array_split(np.arange(len(samples)), n_blocks)
        chosen = np.concatenate([blocks[i] for i in rng.integers(0, n_blocks, n_blocks)])
        return samples[chosen], None if weights is None else weights[chosen]

    values = []
    for _ in range(n_resamples):
        ref, ref_w = resample(reference, reference_weights)
        mod, mod_w = resample(model, model_weights)
        values.append(statistic(ref, mod, reference_weights=ref_w, model_weights=mod_w, **keywords))
    return Estimate(float(value), float(np.std(values, ddof=1)))
