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

:class:`BasisPMF` is the simplest CG model of ``x``: a PMF linear in its parameters (Gaussian
basis functions), fitted either by force matching (eq. 3, a linear least-squares problem) or
by relative entropy (eq. 4, maximum likelihood of positions alone, a convex problem).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import minimize

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


@dataclass
class BasisPMF:
    """A 1D CG model ``F(x) = sum_k c_k exp(-(x - m_k)^2 / (2 w^2))`` (kJ/mol; ``x``, centres
    ``m_k`` and width ``w`` in nm), linear in its coefficients ``c``."""

    centres: np.ndarray = field(default_factory=lambda: np.linspace(-2.5, 2.5, 21))
    width: float = 0.25  # nm
    coefficients: np.ndarray | None = None  # kJ/mol

    def _basis(self, x) -> tuple[np.ndarray, np.ndarray]:
        """Basis values ``[n, K]`` and their x-derivatives (1/nm) at ``x`` (nm)."""
        offset = np.asarray(x, dtype=np.float64)[:, None] - self.centres
        values = np.exp(-0.5 * (offset / self.width) ** 2)
        return values, -offset / self.width**2 * values

    def _fitted(self) -> np.ndarray:
        if self.coefficients is None:
            raise RuntimeError("fit the model first (fit_forces or fit_relative_entropy)")
        return self.coefficients

    def pmf(self, x) -> np.ndarray:
        """F(x) in kJ/mol (up to a constant) at ``x`` (nm)."""
        return self._basis(np.ravel(x))[0] @ self._fitted()

    def mean_force(self, x) -> np.ndarray:
        """The model's CG force ``-dF/dx`` in kJ/mol/nm at ``x`` (nm)."""
        return -(self._basis(np.ravel(x))[1] @ self._fitted())

    def fit_forces(self, x, forces, weights=None, ridge: float = 1e-6) -> BasisPMF:
        """Force matching (eq. 3): minimise ``sum_i w_i (f_i + F'(x_i))^2`` over ``c``, a linear
        least-squares problem solved exactly. ``x`` in nm, ``forces`` in kJ/mol/nm; ``ridge``
        (relative to the mean diagonal) keeps basis functions without data at zero."""
        x, forces = np.ravel(x), np.ravel(forces)
        if len(x) != len(forces):
            raise ValueError(f"{len(x)} positions but {len(forces)} forces")
        weights = np.ones_like(x) if weights is None else np.ravel(weights) / np.mean(weights)
        _, derivative = self._basis(x)
        normal = derivative.T @ (weights[:, None] * derivative)
        normal += ridge * np.trace(normal) / len(normal) * np.eye(len(normal))
        self.coefficients = np.linalg.solve(normal, -derivative.T @ (weights * forces))
        return self

    def fit_relative_entropy(self, x, temperature: float, x_range=(-2.5, 2.5), ridge: float = 1e-5) -> BasisPMF:
        """Relative entropy (eq. 4): maximise the likelihood of positions ``x`` (nm) under
        ``p(x) = exp(-F(x)/kT) / Z`` with ``Z`` by quadrature over ``x_range`` (nm); no forces
        needed. Convex in ``c``; ``ridge`` in 1/(kJ/mol)^2 regularises unvisited basis functions."""
        beta = 1.0 / thermal_energy(temperature)
        data_mean = self._basis(np.ravel(x))[0].mean(0)
        grid = np.linspace(*x_range, 2001)
        grid_basis = self._basis(grid)[0]

        def objective(c):
            log_density = -beta * grid_basis @ c
            shift = log_density.max()
            density = np.exp(log_density - shift)
            z = np.trapezoid(density, grid)
            log_z = np.log(z) + shift
            expected = np.trapezoid(density[:, None] * grid_basis, grid, axis=0) / z
            value = beta * data_mean @ c + log_z + ridge * c @ c
            return value, beta * (data_mean - expected) + 2 * ridge * c

        result = minimize(objective, np.zeros(len(self.centres)), jac=True, method="L-BFGS-B")
        if not result.success:
            raise RuntimeError(f"relative-entropy fit did not converge: {result.message}")
        self.coefficients = result.x
        return self
