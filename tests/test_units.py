"""units.py against CODATA values and OpenMM's own constants."""

import math

import pytest

from cgflow import units


def test_boltzmann_constant_is_the_molar_gas_constant():
    # R = 8.314462618... J/mol/K exactly since SI 2019; relative tolerance at float precision.
    assert units.KB == pytest.approx(8.314462618e-3, rel=1e-9)


def test_kT_at_300K_matches_openmm():
    openmm_unit = pytest.importorskip("openmm.unit")
    expected = (openmm_unit.MOLAR_GAS_CONSTANT_R * 300 * openmm_unit.kelvin).value_in_unit(
        openmm_unit.kilojoule_per_mole
    )
    assert units.kT(300.0) == pytest.approx(expected, rel=1e-9)
    assert units.kT(300.0) == pytest.approx(2.494339, abs=1e-6)


def test_beta_is_inverse_kT():
    for temperature in (1.0, 273.15, 300.0, 1000.0):
        assert units.beta(temperature) * units.kT(temperature) == pytest.approx(1.0, rel=1e-15)


@pytest.mark.parametrize("bad", [0.0, -300.0, math.nan, math.inf])
def test_kT_rejects_non_physical_temperatures(bad):
    with pytest.raises(ValueError, match="temperature"):
        units.kT(bad)


def test_ns_per_day():
    # 1 ns simulated in one day of wall time is 1 ns/day; 2 ps in 1 s is 172.8 ns/day.
    assert units.ns_per_day(1000.0, 86400.0) == pytest.approx(1.0)
    assert units.ns_per_day(2.0, 1.0) == pytest.approx(172.8)
    with pytest.raises(ValueError):
        units.ns_per_day(1.0, 0.0)
