"""Explorers without a browser: moving a control redraws the picture, and the numbers behind it
follow the physics."""

import numpy as np
import pytest
import torch

import cgflow
from cgflow import explore, geometry, toy
from cgflow.units import kT
from test_cgnet import random_chains


def test_toy_explorer_follows_the_closed_form_pmf_and_force_matching_converges():
    explorer = explore.toy_explorer()
    first_picture = explorer.image.value
    # The stiffening g adds kT g / 2 per nm to the PMF, so F(1) - F(-1) = 2 d + kT g (closed form).
    for temperature, stiffening in [(300.0, 1.5), (450.0, 0.0), (200.0, 3.0)]:
        state = explorer.set(temperature=temperature, stiffening=stiffening)
        expected = 2 * toy.DoubleWellToy().tilt + kT(temperature) * stiffening
        assert state["well_difference"] == pytest.approx(expected, abs=1e-9)
    assert explorer.image.value != first_picture
    errors = [explorer.set(frames=n)["force_error"] for n in (100, 30_000)]
    assert errors[1] < errors[0] / 3, errors   # 1/sqrt(n) would give 17x; the basis's own error limits it
    assert explorer.default_png == first_picture


def test_transform_explorer_makes_a_normalised_density_and_sharper_maps_make_larger_forces():
    explorer = explore.transform_explorer()
    wide = explorer.set(scale1=1.0, scale2=1.0)
    assert wide["total"] == pytest.approx(1.0, abs=1e-4)   # a change of variables keeps the mass
    # the force is kT d ln p / dx: compare with a finite difference of the density
    x, density = wide["x"], wide["density"]
    numerical = kT(300.0) * np.gradient(np.log(density), x)
    inside = (x > -3) & (x < 3)
    assert np.allclose(wide["force"][inside], numerical[inside], rtol=1e-3, atol=1e-2)
    sharp = explorer.set(scale1=explore.MIN_SCALE + 0.01, scale2=explore.MIN_SCALE + 0.01, mean1=-0.2, mean2=0.2)
    assert sharp["total"] == pytest.approx(1.0, abs=1e-3)
    assert sharp["largest_force"] > 3 * wide["largest_force"]


def test_label_explorer_finds_the_mean_force_under_the_noise():
    # Labels: a torque along psi of -20 sin(psi) kJ/mol/rad plus noise of 50; the window mean
    # must find the torque where the data are, and the noisy set must be the wider one.
    positions = random_chains(8000, seed=5).astype(np.float32)
    clean = explore._generalised_dihedral_forces(positions, np.zeros_like(positions))
    assert np.abs(clean).max() < 1e-6
    x = torch.tensor(positions, dtype=torch.float64, requires_grad=True)
    psi = geometry.dihedrals(x, [[1, 2, 3, 4]])[:, 0]
    forces = -torch.autograd.grad((-20.0 * torch.cos(psi)).sum(), x)[0].numpy()   # -dU/dpsi = -20 sin(psi)
    rng = np.random.default_rng(0)
    noisy = forces + rng.normal(0.0, 60.0, forces.shape)
    explorer = explore.label_explorer({"exact": (positions, forces), "noisy": (positions, noisy)}, 300.0, window=0.5)
    state = explorer.set(phi=0.0, psi=1.5)
    assert state["exact"]["count"] > 200
    assert state["exact"]["mean"] == pytest.approx(-20.0 * np.sin(1.5), abs=2.0)
    assert state["noisy"]["spread"] > 5 * state["exact"]["spread"]


def test_frame_explorer_marks_the_frame_it_shows():
    dataset = cgflow.load("ala2")
    allatom = cgflow.load_allatom("ala2")[:20]
    cg = dataset.to_mdtraj()[:20]
    explorer = explore.frame_explorer(cg, allatom, dataset.temperature)
    state = explorer.set(frame=7)
    expected = cgflow.analysis.phi_psi(cg.xyz[7:8])[0]
    assert (state["phi"], state["psi"]) == pytest.approx(tuple(expected))
    with pytest.raises(ValueError, match="same frames"):
        explore.frame_explorer(cg[:5], allatom, dataset.temperature)


def test_an_explorer_shows_its_default_picture_where_widgets_cannot_run():
    explorer = explore.toy_explorer()
    explorer.set(frames=100)
    bundle = explorer._repr_mimebundle_()
    assert bundle["image/png"] == explorer.default_png != explorer.image.value
    assert "application/vnd.jupyter.widget-view+json" in bundle
