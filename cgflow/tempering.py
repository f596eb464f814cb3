"""Temperature replica exchange: the ladder and the Metropolis neighbour swap.

Shared by the CG simulator (:class:`cgflow.simulate.ParallelTempering`, torch tensors) and the
all-atom data generator (:class:`cgflow.datagen.exchange.ReplicaExchange`, NumPy arrays over
OpenMM contexts). Rung ``k`` sits at temperature ``T_k`` (K), ascending. An exchange attempt
pairs the neighbours ``(k, k + 1)`` with ``k`` of one parity, alternating between attempts,
and swaps their configurations with probability

    min(1, exp((beta_k - beta_{k+1}) (U_k - U_{k+1})))

(Sugita and Okamoto, Chem. Phys. Lett. 1999), which leaves the product of the rungs' Boltzmann
distributions invariant. Velocities that move from rung ``j`` to rung ``k`` are rescaled by
``sqrt(T_k / T_j)``. Units: K, kJ/mol, mol/kJ.
"""

from __future__ import annotations

import numpy as np


def geometric_ladder(t_min: float, t_max: float, n: int) -> np.ndarray:
    """``n`` temperatures in K from ``t_min`` to ``t_max`` in geometric progression (equal
    acceptance between neighbours for a constant heat capacity)."""
    if n < 2 or not 0 < t_min < t_max:
        raise ValueError(f"a temperature ladder needs n >= 2 and 0 < t_min < t_max (K), got {t_min}, {t_max}, {n}")
    return t_min * (t_max / t_min) ** (np.arange(n) / (n - 1))


def lower_rungs(attempt: int, n_rungs: int) -> np.ndarray:
    """The lower rungs ``k`` of the pairs ``(k, k + 1)`` tried at exchange ``attempt``: even
    ``k`` on even attempts, odd ``k`` on odd ones (empty for a ladder of one)."""
    return np.arange(attempt % 2, n_rungs - 1, 2)


def swap_accepted(beta, energy, lower, log_uniform):
    """Metropolis decisions for the neighbour pairs ``(lower, lower + 1)``.

    ``beta`` (mol/kJ, one per rung) and ``energy`` (kJ/mol, rungs on the last axis) are NumPy
    arrays or torch tensors alike; ``log_uniform`` holds the logarithms of uniform draws,
    shaped like ``energy[..., lower]``. True where the swap is accepted.
    """
    log_ratio = (beta[lower] - beta[lower + 1]) * (energy[..., lower] - energy[..., lower + 1])
    return log_uniform < log_ratio
