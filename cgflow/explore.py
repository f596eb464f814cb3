"""Explorers: sliders that change the physics, and a figure that answers.

An :class:`Explorer` is a row of ipywidgets controls over the picture of a matplotlib figure,
redrawn with the Agg backend whenever a control moves (no interactive backend needed). Every
callback is cheap: closed-form physics, linear least squares, or lookups in arrays computed
once; nothing trains inside a callback. In JupyterLab an explorer displays as its live
widgets; in the static book, where widgets cannot run, as a PNG of its default state.
``explorer.state`` holds the numbers that the figure shows, so that tests can check the
physics without a browser. Units: nm, K, kJ/mol, kJ/mol/nm, rad.
"""

from __future__ import annotations

import io
from collections.abc import Callable

import ipywidgets as widgets
import numpy as np
import torch
import mdtraj
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.image import imread
from matplotlib.patches import Rectangle

from .analysis import phi_psi
from .generalised import project_labels
from .toy import BasisPMF, DoubleWellToy
from .transforms import MIN_SCALE, mixture_cdf_real
from .units import kT
from .viz import free_energy_2d, static_picture


def png_of(figure: Figure) -> bytes:
    """The figure as PNG bytes, drawn with Agg."""
    buffer = io.BytesIO()
    FigureCanvasAgg(figure).print_png(buffer)
    return buffer.getvalue()


class Explorer:
    """``controls`` (name -> ipywidgets value widget) above the picture of a figure that
    ``draw(figure, values)`` redraws and whose numbers it returns (kept in ``state``)."""

    def __init__(self, controls: dict[str, widgets.ValueWidget], draw: Callable[[Figure, dict], dict], figsize=(9.0, 3.4)):
        self.controls = controls
        self._draw = draw
        self.figure = Figure(figsize=figsize, layout="constrained")
        self.image = widgets.Image(format="png")
        self.state: dict = {}
        for control in controls.values():
            control.observe(self._redraw, names="value")
        self.widget = widgets.VBox([widgets.HBox(list(controls.values())), self.image])
        self._redraw()
        self.default_png = bytes(self.image.value)   # the widget may hold a memoryview

    def values(self) -> dict:
        """The controls' current values by name."""
        return {name: control.value for name, control in self.controls.items()}

    def set(self, **values) -> dict:
        """Move controls as a reader would (each move redraws); returns the new ``state``."""
        for name, value in values.items():
            self.controls[name].value = value
        return self.state

    def _redraw(self, change=None) -> None:
        self.figure.clear()
        self.state = self._draw(self.figure, self.values())
        self.image.value = png_of(self.figure)

    def _repr_mimebundle_(self, include=None, exclude=None):
        bundle = self.widget._repr_mimebundle_(include=include, exclude=exclude) or {}
        bundle = {key: value for key, value in bundle.items() if key != "text/plain"}
        bundle.update({"image/png": self.default_png, "text/plain": "<explorer: interactive in JupyterLab, its default state elsewhere>"})
        return bundle


def _slider(description: str, value: float, low: float, high: float, step: float, readout: str = ".2f") -> widgets.FloatSlider:
    return widgets.FloatSlider(value=value, min=low, max=high, step=step, description=description, readout_format=readout,
                               continuous_update=False, style={"description_width": "initial"})


def toy_explorer(seed: int = 1) -> Explorer:
    """Chapter 1: the toy's temperature (K) and the stiffening of its hidden coordinate
    (1/nm) against its exact PMF, and a force-matched ``BasisPMF`` fitted to that many exact
    samples with their instantaneous forces. ``state``: ``x`` (nm), ``pmf`` and ``fit``
    (kJ/mol, zero at the left well), ``well_difference`` (F(1) - F(-1), kJ/mol),
    ``force_error`` (RMS error of the fitted mean force over the samples, kJ/mol/nm)."""
    controls = {
        "temperature": _slider("T (K)", 300.0, 150.0, 600.0, 10.0, ".0f"),
        "stiffening": _slider("stiffening g (1/nm)", 1.5, 0.0, 3.0, 0.1, ".1f"),
        "frames": widgets.SelectionSlider(options=[100, 300, 1_000, 3_000, 10_000, 30_000], value=1_000, description="frames",
                                          continuous_update=False),
    }
    x = np.linspace(-1.8, 1.8, 361)

    def draw(figure: Figure, values: dict) -> dict:
        toy = DoubleWellToy(temperature=values["temperature"], stiffening=values["stiffening"])
        frames = toy.sample(values["frames"], seed=seed)
        fit = BasisPMF().fit_forces(frames[:, 0], toy.forces(frames)[:, 0])
        left = int(np.argmin(np.abs(x + 1.0)))
        exact, fitted = toy.pmf(x) - toy.pmf(x)[left], fit.pmf(x) - fit.pmf(x)[left]
        error = float(np.sqrt(np.mean((fit.mean_force(frames[:, 0]) - toy.mean_force(frames[:, 0])) ** 2)))
        ax = figure.add_subplot()
        ax.plot(x, exact, color="k", lw=2, label="exact PMF")
        ax.plot(x, fitted, color="C3", label=f"force matching, {values['frames']:,} frames")
        ax.set(xlabel="$x$ (nm)", ylabel="free energy (kJ/mol)", ylim=(-5, 25),
               title=f"RMS error of the mean force: {error:.1f} kJ/mol/nm")
        ax.legend(loc="upper center")
        return {"x": x, "pmf": exact, "fit": fitted, "well_difference": float(toy.pmf(1.0) - toy.pmf(-1.0)), "force_error": error}

    return Explorer(controls, draw)


def _mixture_parameters(weight: float, means: tuple[float, float], scales: tuple[float, float]) -> torch.Tensor:
    """Unconstrained parameters ``[1, 6]`` of a two-component logistic mixture CDF with the
    given first-component weight, means and widths (widths above ``MIN_SCALE``)."""
    logits = [np.log(weight), np.log(1.0 - weight)]
    raw_scales = [np.log(np.expm1(s - MIN_SCALE)) for s in scales]   # inverse of softplus(.) + MIN_SCALE
    return torch.tensor([logits + list(means) + raw_scales], dtype=torch.float64)


def transform_explorer() -> Explorer:
    """Chapter 2: one smooth elementwise map ``z = tau(x)``, a logistic mixture CDF of two
    components (weight, means and widths in standardised units, widths at least the flows'
    floor ``MIN_SCALE``), and the density ``p(x) = N(tau(x)) tau'(x)`` and force
    ``kT d ln p / dx`` (at 300 K) it makes of a standard normal base. ``state``: ``x``,
    ``density`` (per unit of x), ``force``, ``total`` (the density's integral) and
    ``largest_force``."""
    controls = {
        "weight": _slider("weight 1", 0.5, 0.05, 0.95, 0.05),
        "mean1": _slider("mean 1", -1.0, -3.0, 3.0, 0.1, ".1f"),
        "mean2": _slider("mean 2", 1.0, -3.0, 3.0, 0.1, ".1f"),
        "scale1": _slider("width 1", 0.5, MIN_SCALE + 0.01, 2.0, 0.01),
        "scale2": _slider("width 2", 0.5, MIN_SCALE + 0.01, 2.0, 0.01),
    }
    x = torch.linspace(-6.0, 6.0, 2401, dtype=torch.float64)

    def draw(figure: Figure, values: dict) -> dict:
        parameters = _mixture_parameters(values["weight"], (values["mean1"], values["mean2"]), (values["scale1"], values["scale2"]))
        grid = x.clone().requires_grad_(True)
        z, log_derivative = mixture_cdf_real(grid[:, None], parameters)
        log_density = -0.5 * z[:, 0] ** 2 - 0.5 * np.log(2 * np.pi) + log_derivative[:, 0]
        (slope,) = torch.autograd.grad(log_density.sum(), grid)
        density, force = log_density.exp().detach().numpy(), kT(300.0) * slope.numpy()
        xs = x.numpy()
        left, middle, right = figure.subplots(1, 3)
        left.plot(xs, z.detach().numpy()[:, 0])
        left.set(xlabel="$x$", ylabel=r"$z = \tau(x)$", title="the map")
        middle.plot(xs, density)
        middle.set(xlabel="$x$", ylabel="$p(x)$", title="density it makes")
        right.plot(xs, force)
        right.set(xlabel="$x$", ylabel=r"$k_BT\, d\ln p/dx$ (kJ/mol per unit)", title="force it makes")
        return {"x": xs, "density": density, "force": force, "total": float(np.trapezoid(density, xs)),
                "largest_force": float(np.abs(force).max())}

    return Explorer(controls, draw, figsize=(11.0, 3.2))


def _generalised_dihedral_forces(positions, forces) -> np.ndarray:
    """Generalised forces along the two last dihedrals ``[n, 2]`` (kJ/mol/rad)."""
    positions = torch.as_tensor(np.asarray(positions, dtype=np.float64))
    forces = torch.as_tensor(np.asarray(forces, dtype=np.float64))
    return project_labels(positions, forces)[1][:, -2:].numpy()


def label_explorer(labels: dict[str, tuple[np.ndarray, np.ndarray]], temperature: float, window: float = 0.3) -> Explorer:
    """Chapters 5-6: force labels seen where the free energy is decided. ``labels``: name ->
    (positions ``[n, 5, 3]`` nm, forces kJ/mol/nm) of alanine-dipeptide frames, e.g. the
    all-atom data and the teacher's samples, drawn over the free energy at ``temperature`` (K)
    of the first set. For a chosen point of the Ramachandran plane
    (rad), the histogram of every set's generalised force along psi (kJ/mol/rad) over the
    frames within ``window`` (rad) of it. ``state``: per name ``count``, ``mean`` and
    ``spread`` (standard deviation) there."""
    prepared = {name: (phi_psi(positions), _generalised_dihedral_forces(positions, forces)[:, 1])
                for name, (positions, forces) in labels.items()}
    controls = {"phi": _slider("phi (rad)", -1.4, -np.pi, np.pi, 0.1, ".1f"), "psi": _slider("psi (rad)", 1.0, -np.pi, np.pi, 0.1, ".1f")}

    def near(angles: np.ndarray, phi: float, psi: float) -> np.ndarray:
        delta = np.angle(np.exp(1j * (angles - np.array([phi, psi]))))
        return np.all(np.abs(delta) < window, axis=1)

    first_angles = next(iter(prepared.values()))[0]

    def draw(figure: Figure, values: dict) -> dict:
        plane, histogram = figure.subplots(1, 2, width_ratios=[1, 1.6])
        free_energy_2d(first_angles, temperature, ax=plane, vmax=30.0, colorbar=False)
        plane.add_patch(Rectangle((values["phi"] - window, values["psi"] - window), 2 * window, 2 * window, fill=False, color="w", lw=2))
        plane.set_title("where")
        state = {}
        bins = np.linspace(-150, 150, 61)
        for name, (angles, torque) in prepared.items():
            chosen = torque[near(angles, values["phi"], values["psi"])]
            state[name] = {"count": int(len(chosen)), "mean": float(chosen.mean()) if len(chosen) else float("nan"),
                           "spread": float(chosen.std()) if len(chosen) > 1 else float("nan")}
            if len(chosen):
                histogram.hist(chosen, bins=bins, density=True, alpha=0.55,
                               label=f"{name}: {len(chosen):,} frames, mean {state[name]['mean']:.1f}, spread {state[name]['spread']:.0f}")
        histogram.set(xlabel=r"generalised force along $\psi$ (kJ/mol/rad)", ylabel="probability density (rad mol/kJ)")
        histogram.legend(fontsize=8, loc="upper left")
        return state

    return Explorer(controls, draw, figsize=(11.0, 3.6))


def frame_explorer(cg: mdtraj.Trajectory, allatom: mdtraj.Trajectory, temperature: float, background=None) -> Explorer:
    """Chapter 3: a slider through the frames of an all-atom trajectory and its CG beads
    (``cg``, the same frames), showing the molecule and where the frame lies on the
    Ramachandran free energy at ``temperature`` (K) of ``background`` (phi, psi in rad, e.g.
    the whole data set; default the ``cg`` frames). ``state``: the frame's ``phi`` and ``psi``
    (rad)."""
    if cg.n_frames != allatom.n_frames:
        raise ValueError(f"cg has {cg.n_frames} frames and allatom {allatom.n_frames}; they must be the same frames")
    angles = phi_psi(cg.xyz)
    background = angles if background is None else background
    controls = {"frame": widgets.IntSlider(value=0, min=0, max=cg.n_frames - 1, description="frame", continuous_update=False)}

    def draw(figure: Figure, values: dict) -> dict:
        frame = values["frame"]
        plane, molecule = figure.subplots(1, 2)
        free_energy_2d(background, temperature, ax=plane, vmax=30.0, colorbar=False)
        plane.plot(*angles[frame], "o", color="w", markeredgecolor="k", markersize=10)
        plane.set_title(f"frame {frame}")
        molecule.imshow(imread(io.BytesIO(static_picture(cg[frame], allatom[frame], size=3.5)), format="png"))
        molecule.set_axis_off()
        return {"phi": float(angles[frame, 0]), "psi": float(angles[frame, 1])}

    return Explorer(controls, draw, figsize=(9.0, 4.0))
