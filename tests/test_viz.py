"""Figures carry labelled axes with units; show() always carries a static picture."""

import json
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import mdtraj  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from cgflow import analysis, viz  # noqa: E402

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def angles():
    rng = np.random.default_rng(0)
    return {
        "ground truth": rng.normal([-1.5, 2.5], 0.3, size=(20_000, 2)),
        "flow": rng.normal([-1.4, 2.4], 0.35, size=(20_000, 2)),
    }


def zigzag(n_frames=3):
    xyz = np.array([[0.0, 0.0, 0.0], [0.1, 0.1, 0.0], [0.2, 0.0, 0.05], [0.3, 0.1, 0.0], [0.4, 0.0, 0.0]])
    return np.repeat(xyz[None], n_frames, axis=0) + np.random.default_rng(1).normal(0, 0.01, (n_frames, 5, 3))


def test_ramachandran_has_labelled_axes_and_colorbar():
    ax = plt.subplots()[1]
    mesh = viz.ramachandran(zigzag(200), 300.0, ax=ax, unit="kT")
    assert ax.get_xlabel() == r"$\phi$ (rad)" and ax.get_ylabel() == r"$\psi$ (rad)"
    assert ax.figure.axes[-1].get_ylabel() == "free energy ($k_BT$)"
    assert np.ma.is_masked(mesh.get_array())  # empty bins are blank, not zero
    plt.close("all")


def test_comparison_panels_share_a_scale_and_report_kl(angles):
    figure = viz.comparison_panels(angles, 300.0)
    titles = [ax.get_title() for ax in figure.axes[:2]]
    kl = analysis.kl_divergence(angles["ground truth"], angles["flow"], range=analysis.RAMACHANDRAN_RANGE)
    assert titles == ["ground truth", f"flow\nKL = {kl:.3f}"]
    limits = {mesh.get_clim() for ax in figure.axes[:2] for mesh in ax.collections}
    assert len(limits) == 1
    with pytest.raises(ValueError, match="reference"):
        viz.comparison_panels({"flow": angles["flow"]}, 300.0)
    plt.close("all")


def test_free_energy_1d_and_training_curves_are_labelled(angles):
    ax = viz.free_energy_1d({k: v[:, 0] for k, v in angles.items()}, 300.0, xlabel=r"$\phi$ (rad)")
    assert ax.get_ylabel() == "free energy (kJ/mol)" and len(ax.get_lines()) == 2
    ax = viz.training_curves({"train": [3, 2, 1], "validation": [3.5, 2.5, 2]}, ylabel="NLL (nats)")
    assert ax.get_xlabel() == "epoch" and ax.get_ylabel() == "NLL (nats)"
    with pytest.raises(ValueError, match="unit"):
        viz.free_energy_1d({"a": angles["flow"][:, 0]}, 300.0, unit="eV")
    plt.close("all")


def test_show_bundles_a_static_picture_with_the_widget():
    trajectory = analysis.as_trajectory(zigzag())
    view = viz.show(trajectory)
    bundle = view._repr_mimebundle_()
    assert bundle["image/png"].startswith(PNG_SIGNATURE)
    pytest.importorskip("nglview")
    assert "application/vnd.jupyter.widget-view+json" in bundle
    static_only = viz.show(trajectory, interactive=False)._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" not in static_only


def test_the_installed_nglview_frontend_matches_what_its_python_side_asks_for():
    """The pinned nglview must ship a labextension whose registered version satisfies the
    widget module version its Python side requests; 4.0.1 does not (4.0 vs 3.1.5)."""
    pytest.importorskip("nglview")
    assert viz.nglview_frontend_problem() is None


def test_a_mismatched_nglview_frontend_falls_back_to_the_picture(tmp_path):
    nglview = pytest.importorskip("nglview")
    from nglview._frontend import __frontend_version__ as requested

    extension = tmp_path / "nglview-js-widgets"
    extension.mkdir()
    (extension / "package.json").write_text(json.dumps({"version": "0.0.1"}))
    problem = viz.nglview_frontend_problem(search_path=[tmp_path])
    assert problem is not None and requested in problem and "0.0.1" in problem
    (extension / "package.json").write_text(json.dumps({"version": requested + (".0" if requested.count(".") == 1 else "")}))
    assert viz.nglview_frontend_problem(search_path=[tmp_path]) is None
    assert viz.nglview_frontend_problem(search_path=[tmp_path / "nowhere"]) is None  # nothing to say
    assert nglview is not None


def test_partial_versions_are_ranges_as_semver_reads_them():
    assert viz._satisfies("4.0.3", "4.0") and not viz._satisfies("3.1.5", "4.0")
    assert viz._satisfies("3.1.4", "3.1.4") and not viz._satisfies("3.1.5", "3.1.4")
    assert viz._satisfies("3.9.0", "3")


def test_show_warns_and_shows_the_picture_when_the_widget_cannot_render(monkeypatch):
    monkeypatch.setattr(viz, "nglview_frontend_problem", lambda: "mismatch for the test")
    with pytest.warns(UserWarning, match="static picture instead of the 3D view: mismatch for the test"):
        bundle = viz.show(analysis.as_trajectory(zigzag()))._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" not in bundle and bundle["image/png"].startswith(PNG_SIGNATURE)


def test_static_picture_with_all_atoms():
    cg = analysis.as_trajectory(zigzag(1))
    topology = mdtraj.Topology()
    residue = topology.add_residue("ALA", topology.add_chain())
    atoms = [topology.add_atom(name, mdtraj.element.get_by_symbol(name[0]), residue) for name in ("N", "CA", "C", "O")]
    for a, b in zip(atoms[:-1], atoms[1:]):
        topology.add_bond(a, b)
    allatom = mdtraj.Trajectory(np.random.default_rng(2).normal(0, 0.1, (1, 4, 3)).astype(np.float32), topology)
    assert viz.static_picture(cg, allatom).startswith(PNG_SIGNATURE)


def test_shade_arcs_draws_an_arc_across_pi_in_two_pieces():
    fig, ax = plt.subplots()
    viz.shade_arcs(ax, [(-1.0, 0.5), (2.0, -3.0)])
    spans = sorted((round(p.get_x(), 6), round(p.get_x() + p.get_width(), 6)) for p in ax.patches)
    assert spans == [(round(-np.pi, 6), -3.0), (-1.0, 0.5), (2.0, round(np.pi, 6))]
    plt.close(fig)
