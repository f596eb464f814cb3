"""Physical constants and conversions in OpenMM's unit system.

Units used everywhere in cgflow: nm, ps, amu, kJ/mol, K. In these units a force in
kJ/mol/nm divided by a mass in amu is an acceleration in nm/ps^2, so integrators need no
conversion factors.
"""

from __future__ import annotations

import math

#: Avogadro constant in 1/mol (exact, SI 2019).
AVOGADRO = 6.02214076e23
#: Boltzmann constant in J/K (exact, SI 2019).
BOLTZMANN_J_PER_K = 1.380649e-23
#: Molar gas constant, i.e. the Boltzmann constant in kJ/mol/K.
KB = BOLTZMANN_J_PER_K * AVOGADRO / 1000.0

#: One kcal in kJ (thermochemical calorie).
KJ_PER_KCAL = 4.184
#: One angstrom in nm.
NM_PER_ANGSTROM = 0.1
#: Seconds in a day, for simulation speeds in ns/day.
SECONDS_PER_DAY = 86400.0


def kT(temperature: float) -> float:
    """Thermal energy k_B T in kJ/mol at ``temperature`` in K.

    Raises ``ValueError`` for a temperature that is not a finite positive number.
    """
    temperature = float(temperature)
    if not math.isfinite(temperature) or temperature <= 0.0:
        raise ValueError(f"temperature must be a finite positive number in K, got {temperature!r}")
    return KB * temperature


def beta(temperature: float) -> float:
    """Inverse thermal energy 1/(k_B T) in mol/kJ at ``temperature`` in K."""
    return 1.0 / kT(temperature)


def ns_per_day(simulated_ps: float, wall_seconds: float) -> float:
    """Simulation speed in ns/day from ``simulated_ps`` of simulated time in ``wall_seconds`` s."""
    if wall_seconds <= 0.0:
        raise ValueError(f"wall time must be positive, got {wall_seconds!r} s")
    return simulated_ps * 1.0e-3 / wall_seconds * SECONDS_PER_DAY
