"""A two-dimensional toy system whose coarse-grained coordinate has an exact PMF.

The all-atom coordinates are ``(x, y)`` in nm; the CG map keeps ``x``. The potential (kJ/mol)

    U(x, y) = a (x^2 - 1)^2 + d x + k(x)/2 (y - s sin(pi x / 2))^2,   k(x) = k0 exp(g x)

is a tilted double well in ``x`` with a harmonic ``y`` whose centre and stiffness depend on
``x``. Integrating ``y`` out (eq. 1 of the flow-matching paper) gives the PMF

    F(x) = -kT ln int exp(-U / kT) dy = a (x^2 - 1)^2 + d x + (kT / 2) g x + const,

so the stiffening of ``y`` adds an *entropic* tilt ``kT g / 2`` that the bare potential does
not show. The instantaneous CG force ``-dU/dx`` depends on ``y``; only its conditional mean
``E[-dU/dx | x] = -dF/dx`` (the mean force) is the thermodynamically consistent CG force.
Samples are exact and independent: ``x`` from the PMF by inverse transform on a fine grid,
then ``y`` from its Gaussian conditional.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .units import kT as thermal_energy


@dataclass(frozen=True)
class DoubleWellToy:
    """Parameters in nm, kJ/mol and K; see the module docstring."""

    barrier: float = 6.0  # a, kJ/mol (the barrier of the double well at d = 0)
    tilt: float = -1.0  # d, kJ/mol/nm
    stiffness: float = 200.0  # k0, kJ/mol/nm^2
    stiffening: float = 1.5  # g, 1/nm
    shift: float = 1.0  # s, nm
    temperature: float = 300.0  # K
    x_range: tuple[float, float] = (-2.5, 2.5)  # nm, where samples and grids live

    @property
    def kT(self) -> float:
        """k_B T in kJ/mol."""
        return thermal_energy(self.temperature)

    def _split(self, xy):
        xy = np.asarray(xy, dtype=np.float64)
        if xy.shape[-1] != 2:
            raise ValueError(f"toy configurations have shape [..., 2] (x, y in nm), got {xy.shape}")
        return xy[..., 0], xy[..., 1]

    def _k(self, x):
        return self.stiffness * np.exp(self.stiffening * x)

    def _centre(self, x):
        return self.shift * np.sin(np.pi * x / 2)

    def energy(self, xy) -> np.ndarray:
        """U(x, y) in kJ/mol of configurations ``[..., 2]`` (nm)."""
        x, y = self._split(xy)
        return self.barrier * (x**2 - 1) ** 2 + self.tilt * x + 0.5 * self._k(x) * (y - self._centre(x)) ** 2

    def forces(self, xy) -> np.ndarray:
        """``-grad U`` in kJ/mol/nm ``[..., 2]``; component 0 is the instantaneous CG force."""
        x, y = self._split(xy)
        deviation = y - self._centre(x)
        d_centre = self.shift * np.pi / 2 * np.cos(np.pi * x / 2)
        d_x = (
            4 * self.barrier * x * (x**2 - 1)
            + self.tilt
            + 0.5 * self.stiffening * self._k(x) * deviation**2
            - self._k(x) * deviation * d_centre
        )
        return -np.stack([d_x, self._k(x) * deviation], axis=-1)

    def pmf(self, x) -> np.ndarray:
        """Exact PMF F(x) in kJ/mol, shifted to 0 at its minimum over ``x_range``."""
        grid = np.linspace(*self.x_range, 20_001)
        offset = self._pmf_unshifted(grid).min()
        return self._pmf_unshifted(np.asarray(x, dtype=np.float64)) - offset

    def _pmf_unshifted(self, x):
        return self.barrier * (x**2 - 1) ** 2 + self.tilt * x + 0.5 * self.kT * (np.log(self.stiffness) + self.stiffening * x)

    def pmf_by_integration(self, x, n_y: int = 2001) -> np.ndarray:
        """The PMF by numerical integration over ``y`` (trapezoid rule over +-12 standard
        deviations of the conditional Gaussian) in kJ/mol, shifted like :meth:`pmf` so that
        its minimum over ``x_range`` is 0. Independent of the closed form above."""
        x = np.asarray(x, dtype=np.float64)
        reference = self._integrate(np.linspace(*self.x_range, 2001), n_y).min()
        return self._integrate(x, n_y) - reference

    def _integrate(self, x: np.ndarray, n_y: int) -> np.ndarray:
        width = 12.0 * np.sqrt(self.kT / self._k(x))
        y = self._centre(x)[..., None] + width[..., None] * np.linspace(-1.0, 1.0, n_y)
        xy = np.stack(np.broadcast_arrays(x[..., None], y), axis=-1)
        return -self.kT * np.log(np.trapezoid(np.exp(-self.energy(xy) / self.kT), y, axis=-1))

    def mean_force(self, x) -> np.ndarray:
        """The exact mean force ``-dF/dx`` in kJ/mol/nm."""
        x = np.asarray(x, dtype=np.float64)
        return -(4 * self.barrier * x * (x**2 - 1) + self.tilt + 0.5 * self.kT * self.stiffening)

    def sample(self, n: int, seed: int = 0) -> np.ndarray:
        """``n`` independent equilibrium configurations ``[n, 2]`` in nm."""
        rng = np.random.default_rng(seed)
        grid = np.linspace(*self.x_range, 200_001)
        density = np.exp(-self.pmf(grid) / self.kT)
        cdf = np.concatenate([[0.0], np.cumsum(0.5 * (density[1:] + density[:-1]) * np.diff(grid))])
        x = np.interp(rng.random(n) * cdf[-1], cdf, grid)
        y = self._centre(x) + rng.normal(size=n) * np.sqrt(self.kT / self._k(x))
        return np.stack([x, y], axis=1)
