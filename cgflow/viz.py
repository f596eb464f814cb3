"""Figures in one style, and 3D views of structures.

Plot functions take matplotlib axes (or make their own figure) and return what they drew;
free energies are plotted in kJ/mol unless ``unit="kT"``. :func:`show` gives an interactive
nglview widget in a live Jupyter kernel *and* a static picture in the same output, so that
the rendered book (which cannot run the widget) shows the picture, never an empty box.
"""

from __future__ import annotations

import io
import json
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib.pyplot as plt
import mdtraj
import numpy as np

from . import analysis
from .units import kT

#: The book's matplotlib style: readable in print and on screen.
STYLE = {
    "figure.dpi": 110,
    "savefig.dpi": 150,
    "figure.figsize": (6.0, 4.0),
    "font.size": 10,
    "axes.titlesize": 11,
    "axes.labelsize": 10,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "legend.frameon": False,
    "image.cmap": "viridis",
}
#: Colours of the ensembles compared throughout the book.
COLORS = {"ground truth": "0.15", "flow": "#1f77b4", "Flow-CGnet": "#d62728", "CGnet": "#2ca02c"}
_ELEMENT_COLORS = {"C": "0.35", "N": "#3050f8", "O": "#ff0d0d", "H": "0.85", "S": "#e6c200"}


def use_style() -> None:
    """Apply the book's matplotlib style to all later figures."""
    plt.rcParams.update(STYLE)


def _energy_scale(temperature: float, unit: str) -> tuple[float, str]:
    if unit == "kJ/mol":
        return 1.0, "free energy (kJ/mol)"
    if unit == "kT":
        return 1.0 / kT(temperature), "free energy ($k_BT$)"
    raise ValueError(f"unit must be 'kJ/mol' or 'kT', got {unit!r}")


def free_energy_2d(
    samples,
    temperature: float,
    ax=None,
    bins=60,
    range=analysis.RAMACHANDRAN_RANGE,
    weights=None,
    vmax: float | None = None,
    unit: str = "kJ/mol",
    labels: tuple[str, str] = (r"$\phi$ (rad)", r"$\psi$ (rad)"),
    colorbar: bool = True,
):
    """Filled free-energy map of 2D samples (default: the Ramachandran plane in rad); empty
    bins stay blank. Returns the ``QuadMesh``. Temperature in K."""
    ax = ax or plt.subplots(figsize=(4.4, 3.6))[1]
    energy, (x_edges, y_edges) = analysis.free_energy(samples, temperature, bins, range, weights)
    scale, label = _energy_scale(temperature, unit)
    shown = np.ma.masked_invalid(energy.T * scale)
    mesh = ax.pcolormesh(x_edges, y_edges, shown, vmin=0.0, vmax=vmax, shading="flat")
    ax.set_xlabel(labels[0])
    ax.set_ylabel(labels[1])
    ax.set_aspect("equal" if range == analysis.RAMACHANDRAN_RANGE else "auto")
    if colorbar:
        ax.figure.colorbar(mesh, ax=ax, label=label)
    return mesh


def ramachandran(positions, temperature: float, ax=None, weights=None, **keywords):
    """Ramachandran free energy of alanine-dipeptide CG positions ``[frames, 5, 3]`` (nm)."""
    return free_energy_2d(analysis.phi_psi(positions), temperature, ax=ax, weights=weights, **keywords)


def free_energy_1d(
    ensembles: Mapping[str, np.ndarray],
    temperature: float,
    ax=None,
    bins=60,
    range=None,
    weights: Mapping[str, np.ndarray] | None = None,
    unit: str = "kJ/mol",
    xlabel: str = "coordinate",
    legend: bool = True,
):
    """Free-energy profiles of several 1D sample sets on common bins, one line each; without
    ``legend`` the lines keep their labels for a legend drawn elsewhere (e.g. one per figure)."""
    ax = ax or plt.subplots()[1]
    weights = weights or {}
    if range is None:
        values = np.concatenate([np.ravel(v) for v in ensembles.values()])
        range = [(values.min(), values.max())]
    scale, label = _energy_scale(temperature, unit)
    for name, samples in ensembles.items():
        energy, (edges,) = analysis.free_energy(samples, temperature, bins, range, weights.get(name))
        centres = 0.5 * (edges[1:] + edges[:-1])
        ax.plot(centres, energy * scale, label=name, color=COLORS.get(name))
    ax.set_xlabel(xlabel)
    ax.set_ylabel(label)
    if legend:
        ax.legend()
    return ax


def comparison_panels(
    ensembles: Mapping[str, np.ndarray],
    temperature: float,
    reference: str = "ground truth",
    weights: Mapping[str, np.ndarray] | None = None,
    vmax: float | None = None,
    unit: str = "kT",
    range=analysis.RAMACHANDRAN_RANGE,
    labels: tuple[str, str] = (r"$\phi$ (rad)", r"$\psi$ (rad)"),
):
    """Side-by-side 2D free energies (e.g. ground truth | flow | Flow-CGnet | CGnet, as in
    Fig. 3b of the paper) on one colour scale, each titled with its KL divergence from the
    ``reference`` ensemble. ``ensembles`` maps names to samples ``[frames, 2]``."""
    weights = weights or {}
    if reference not in ensembles:
        raise ValueError(f"reference {reference!r} is not among the ensembles {list(ensembles)}")
    figure, axes = plt.subplots(1, len(ensembles), figsize=(3.1 * len(ensembles) + 0.8, 3.2), sharey=True, squeeze=False)
    if vmax is None:
        vmax = 8.0 * kT(temperature) * _energy_scale(temperature, unit)[0]
    for ax, (name, samples) in zip(axes[0], ensembles.items()):
        mesh = free_energy_2d(samples, temperature, ax=ax, range=range, weights=weights.get(name), vmax=vmax, unit=unit, labels=labels, colorbar=False)
        title = name
        if name != reference:
            kl = analysis.kl_divergence(ensembles[reference], samples, range=range, reference_weights=weights.get(reference), model_weights=weights.get(name))
            title += f"\nKL = {kl:.3f}"
        ax.set_title(title)
        if ax is not axes[0, 0]:
            ax.set_ylabel("")
    figure.colorbar(mesh, ax=list(axes[0]), label=_energy_scale(temperature, unit)[1])
    return figure


def training_curves(history: Mapping[str, Sequence[float]], ax=None, ylabel: str = "loss", logy: bool = False):
    """Loss per epoch of each series in ``history`` (e.g. ``{"train": [...], "validation": [...]}``)."""
    ax = ax or plt.subplots()[1]
    for name, values in history.items():
        ax.plot(np.arange(1, len(values) + 1), values, label=name)
    ax.set_xlabel("epoch")
    ax.set_ylabel(ylabel)
    if logy:
        ax.set_yscale("log")
    ax.legend()
    return ax


def shade_arcs(ax, arcs, **style):
    """Shade angular arcs ``(start, end)`` in rad on an axis of angles in (-pi, pi]; an arc
    with end < start crosses +-pi and is drawn in two pieces (e.g. ``analysis.empty_arcs``)."""
    style = {"color": "C3", "alpha": 0.2, "lw": 0, **style}
    for start, end in arcs:
        for low, high in [(start, end)] if end > start else [(start, np.pi), (-np.pi, end)]:
            ax.axvspan(low, high, **style)
    return ax


class MoleculeView:
    """What :func:`show` returns: displays as the nglview widget where a Jupyter front end can
    run it, with a static PNG in the same output for the rendered book and other viewers."""

    def __init__(self, widget, png: bytes):
        self.widget = widget
        self.png = png

    def _repr_mimebundle_(self, include=None, exclude=None):
        bundle = {"image/png": self.png, "text/plain": "<3D view: interactive in JupyterLab, static picture elsewhere>"}
        if self.widget is not None:
            data = self.widget._repr_mimebundle_(include=include, exclude=exclude)
            bundle.update({k: v for k, v in data.items() if k != "text/plain"})
        return bundle


def show(traj: mdtraj.Trajectory, allatom: mdtraj.Trajectory | None = None, frame: int = 0, interactive: bool = True) -> MoleculeView:
    """3D view of CG beads (spheres joined by bonds), optionally with the all-atom structure
    (sticks) superposed. ``traj`` and ``allatom`` are ``mdtraj.Trajectory`` objects in nm.

    In a live kernel the output is an nglview widget (rotate, zoom, play frames); the
    rendered book and viewers without the widget show a static picture of ``frame``."""
    png = static_picture(traj[frame], None if allatom is None else allatom[min(frame, allatom.n_frames - 1)])
    problem = nglview_frontend_problem() if interactive else None
    if problem is not None:
        warnings.warn(f"showing a static picture instead of the 3D view: {problem}", stacklevel=2)
    widget = _nglview_widget(traj, allatom) if interactive and problem is None else None
    return MoleculeView(widget, png)


def nglview_frontend_problem(search_path: Sequence[Path | str] | None = None) -> str | None:
    """Why nglview's 3D widget would fail to render in JupyterLab, or None when nothing is wrong
    as far as this environment can tell.

    JupyterLab runs the widget with the JavaScript of the labextension ``nglview-js-widgets``;
    the Python side asks for the module version ``nglview._frontend.__frontend_version__``,
    which JupyterLab reads as a semver range ("4.0" accepts 4.0.x only). nglview 4.0.1 asks for
    4.0 but installs a labextension that registers 3.1.5, so every view fails with "Module
    nglview-js-widgets, version 4.0 is not registered" (the book pins nglview 3.1.4, whose
    labextension is 3.1.4). ``search_path``: folders holding labextensions (default: Jupyter's
    data path of this environment); when none holds nglview's, nothing can be said (None).
    """
    nglview = _import_nglview()
    if nglview is None:
        return "nglview is not installed (pip install nglview)"
    from jupyter_core.paths import jupyter_path  # installed with nglview's Jupyter dependencies

    requested = nglview.widget.__frontend_version__

    folders = jupyter_path("labextensions") if search_path is None else search_path
    for folder in folders:
        package = Path(folder) / "nglview-js-widgets" / "package.json"
        if package.exists():
            registered = json.loads(package.read_text())["version"]
            if not _satisfies(registered, requested):
                return (
                    f"nglview asks JupyterLab for widget module version {requested} but its labextension"
                    f" in {package.parent} registers {registered}; install the book's pins (make lab)"
                )
            return None
    return None


def _satisfies(version: str, requested: str) -> bool:
    """Whether ``version`` ("3.1.4") lies in the partial-version range ``requested`` ("3.1.4"
    exactly, "4.0" for 4.0.x, "3" for 3.x), as semver reads a range without an operator."""
    wanted = requested.strip().lstrip("=v").split(".")
    return version.strip().lstrip("v").split(".")[: len(wanted)] == wanted


def _import_nglview():
    """nglview, imported quietly (None when missing): on import it displays a helper widget and
    nglview 3.1.4 warns that ``pkg_resources`` is deprecated; neither belongs on the page."""
    try:
        from IPython.utils.capture import capture_output

        with capture_output(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import nglview
    except ImportError:
        return None
    return nglview


def _nglview_widget(traj: mdtraj.Trajectory, allatom: mdtraj.Trajectory | None):
    nglview = _import_nglview()
    if nglview is None:
        return None
    view = nglview.NGLWidget()
    if allatom is not None:
        view.add_trajectory(allatom, default_representation=False).add_representation("licorice", opacity=0.6)
    beads = view.add_trajectory(traj, default_representation=False)
    beads.add_representation("ball+stick", aspectRatio=2.5, radiusScale=1.6, colorScheme="residueindex")
    view.center()
    return view


def static_picture(cg: mdtraj.Trajectory, allatom: mdtraj.Trajectory | None = None, size: float = 4.0) -> bytes:
    """PNG of one frame: CG beads as large spheres with bonds, all-atom sticks behind them,
    seen along the smallest principal axis of the beads (the flattest view)."""
    beads = cg.xyz[0].astype(np.float64)
    centre = beads.mean(axis=0)
    _, _, axes = np.linalg.svd(beads - centre)
    project = lambda xyz: (xyz - centre) @ axes.T  # noqa: E731  (columns: in-plane x, y; depth)
    figure, ax = plt.subplots(figsize=(size, size))
    if allatom is not None:
        atoms = project(allatom.xyz[0].astype(np.float64))
        for a, b in allatom.topology.bonds:
            ax.plot(*atoms[[a.index, b.index], :2].T, color="0.6", lw=1.5, zorder=1)
        symbols = [a.element.symbol if a.element is not None else "C" for a in allatom.topology.atoms]
        ax.scatter(atoms[:, 0], atoms[:, 1], s=18, c=[_ELEMENT_COLORS.get(s, "0.5") for s in symbols], zorder=2, edgecolors="0.3", linewidths=0.3)
    points = project(beads)
    bonds = [(a.index, b.index) for a, b in cg.topology.bonds] or list(zip(range(len(beads) - 1), range(1, len(beads))))
    for a, b in bonds:
        ax.plot(*points[[a, b], :2].T, color="#d62728", lw=4, alpha=0.8, zorder=3)
    ax.scatter(points[:, 0], points[:, 1], s=260, c=np.arange(len(points)), cmap="plasma", alpha=0.75, edgecolors="k", zorder=4)
    ax.set_aspect("equal")
    ax.set_xlabel("nm")
    ax.set_ylabel("nm")
    ax.set_title(f"{len(beads)} CG beads" + ("" if allatom is None else f" on {allatom.n_atoms} atoms"))
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", bbox_inches="tight")
    plt.close(figure)
    return buffer.getvalue()
