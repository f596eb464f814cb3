"""The student: CGnet, a prior energy plus a neural network, trained by force matching.

``U(R) = U_prior(R) + U_net(f(R))`` in kJ/mol (Wang et al., ACS Cent. Sci. 2019; eq. 11 of the
flow-matching paper). The prior holds the physics the network should not have to learn:
harmonic bonds and angles, a Fourier series on each dihedral (all fitted by Boltzmann
inversion of the training data at its temperature) and, for C-alpha proteins, a short-range
repulsion between non-bonded beads. The network sees rotation- and translation-invariant
features ``f(R)``: all bead-pair distances, bond angles and the cosine and sine of each
dihedral (never the raw angle, which jumps at +-pi), z-scored with training statistics.
Dihedrals stay signed, so the model distinguishes a protein from its mirror image.

Forces are ``-grad U`` by autograd, in kJ/mol/nm. Force matching (eq. 3) minimises the
weighted mean squared difference between model and target forces, either per Cartesian
component or, by default, per generalised force along the chain's bonds, angles and dihedrals,
each in units of the labels' spread (``generalised``), so that the small torsional forces that
set the Ramachandran free energy are not drowned by the stiff bond directions.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from .generalised import generalised_forces, project_labels, spread
from .geometry import angle_between, dihedral_of_bonds, energy_and_forces
from .scaling import ZScore
from .training import Checkpointable, History, TrainingConfig, as_model_tensor, fit
from .units import kT


class ChainGeometry(nn.Module):
    """All the geometry the prior and the featurizer need, computed once per call: every
    bead-pair distance (nm), every bond angle and every dihedral (rad) of a linear chain.

    Pairs are ordered by their separation along the chain, ``(0, 1), (1, 2), ..., (0, 2),
    (1, 3), ...``, so that each separation is one slice ``x[s:] - x[:-s]`` of the positions:
    slices cost far less than gathering bead indices (whose backward pass is a scatter-add),
    and the simulator evaluates this for every replica at every step.
    """

    def __init__(self, n_beads: int):
        super().__init__()
        self.n_beads = n_beads

    def pairs(self) -> np.ndarray:
        """Bead pairs ``[n_pairs, 2]`` in the order of ``distances``."""
        return np.array([(i, i + s) for s in range(1, self.n_beads) for i in range(self.n_beads - s)]).reshape(-1, 2)

    def separation(self) -> np.ndarray:
        """Chain separation ``j - i`` of every pair, in the order of ``distances``."""
        return np.diff(self.pairs(), axis=1)[:, 0]

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        bonds = x[..., 1:, :] - x[..., :-1, :]
        pair_vectors = torch.cat([bonds] + [x[..., s:, :] - x[..., :-s, :] for s in range(2, self.n_beads)], dim=-2)
        return {
            "distances": torch.linalg.vector_norm(pair_vectors, dim=-1),
            "angles": angle_between(-bonds[..., :-1, :], bonds[..., 1:, :]),
            "dihedrals": dihedral_of_bonds(bonds[..., :-2, :], bonds[..., 1:-1, :], bonds[..., 2:, :]),
        }


class ColumnTerms(nn.Module):
    """Prior terms on some ``columns`` of one geometry array. Consecutive columns (bonds, all
    angles, pairs beyond a separation: ``ChainGeometry`` orders pairs by separation) are taken
    as a slice, whose backward pass is a copy, not the scatter-add of a gather."""

    def __init__(self, columns: np.ndarray):
        super().__init__()
        self.register_buffer("columns", torch.as_tensor(columns, dtype=torch.long))
        c = np.asarray(columns)
        consecutive = len(c) > 0 and np.array_equal(c, np.arange(c[0], c[0] + len(c)))
        self.span = slice(int(c[0]), int(c[0]) + len(c)) if consecutive else None

    def pick(self, values: torch.Tensor) -> torch.Tensor:
        """The term's columns ``[batch, len(columns)]`` of ``values`` ``[batch, n]``."""
        return values[:, self.span] if self.span is not None else values[:, self.columns]


class HarmonicTerms(ColumnTerms):
    """``sum_k stiffness_k / 2 (q_k - q0_k)^2`` over bonds (nm; kJ/mol/nm^2) or angles
    (rad; kJ/mol/rad^2). Boltzmann inversion: ``q0`` is the mean and ``stiffness = kT / var``
    of the training data, exact for a Gaussian distribution of ``q``. ``columns`` select the
    coordinates from the geometry's ``"distances"`` (bonds) or ``"angles"``."""

    def __init__(self, kind: str, columns: np.ndarray):
        if kind not in ("bond", "angle"):
            raise ValueError(f"kind must be 'bond' or 'angle', got {kind!r}")
        super().__init__(columns)
        self.kind = kind
        self.key = "distances" if kind == "bond" else "angles"
        self.register_buffer("q0", torch.zeros(len(columns)))
        self.register_buffer("stiffness", torch.zeros(len(columns)))

    def fit(self, geometry: dict[str, torch.Tensor], temperature: float) -> HarmonicTerms:
        """Boltzmann inversion at ``temperature`` (K): ``q0`` the mean (nm or rad), stiffness
        ``kT / variance`` (kJ/mol/nm^2 or kJ/mol/rad^2); refuses coordinates that do not vary."""
        with torch.no_grad():
            q = self.pick(geometry[self.key])
            variance = q.var(0)
            frozen = torch.nonzero(variance <= 1e-12 * q.mean(0).abs().clamp_min(1.0)).flatten().tolist()
            if frozen:
                raise ValueError(
                    f"{self.kind} {frozen[0]} does not vary in the data (a constraint?); a harmonic prior needs a spread"
                )
            self.q0.copy_(q.mean(0))
            self.stiffness.copy_(kT(temperature) / variance)
        return self

    def forward(self, geometry: dict[str, torch.Tensor]) -> torch.Tensor:
        return (0.5 * self.stiffness * (self.pick(geometry[self.key]) - self.q0) ** 2).sum(-1)


class DihedralTerms(nn.Module):
    """``sum_d sum_{n=1..order} a_dn cos(n phi_d) + b_dn sin(n phi_d)`` in kJ/mol: smooth and
    periodic, fitted by least squares to the Boltzmann-inverted histogram ``-kT ln p(phi)``
    (bins weighted by their counts, empty bins left out)."""

    def __init__(self, n_dihedrals: int, order: int = 3):
        super().__init__()
        self.order = order
        self.register_buffer("cos_coefficients", torch.zeros(n_dihedrals, order))
        self.register_buffer("sin_coefficients", torch.zeros(n_dihedrals, order))
        self.register_buffer("harmonics", torch.arange(1, order + 1, dtype=torch.get_default_dtype()))

    def fit(self, geometry: dict[str, torch.Tensor], temperature: float, bins: int = 72) -> DihedralTerms:
        """Fourier series (``order`` harmonics) fitted to ``-kT ln p(phi)`` (kJ/mol) of each
        dihedral's histogram on ``bins`` bins, at ``temperature`` (K)."""
        phi = geometry["dihedrals"].detach().cpu().numpy()
        edges = np.linspace(-np.pi, np.pi, bins + 1)
        centres = 0.5 * (edges[1:] + edges[:-1])
        n = np.arange(1, self.order + 1)
        basis = np.concatenate([np.cos(np.outer(centres, n)), np.sin(np.outer(centres, n))], axis=1)
        for d in range(phi.shape[1]):
            counts = np.histogram(phi[:, d], bins=edges)[0]
            seen = counts > 0
            target = -kT(temperature) * np.log(counts[seen])
            weight = np.sqrt(counts[seen])
            # A constant column absorbs the unknown offset of the free energy.
            design = np.concatenate([basis[seen], np.ones((seen.sum(), 1))], axis=1)
            solution = np.linalg.lstsq(design * weight[:, None], target * weight, rcond=None)[0]
            self.cos_coefficients[d] = torch.as_tensor(solution[: self.order], dtype=self.cos_coefficients.dtype)
            self.sin_coefficients[d] = torch.as_tensor(solution[self.order : 2 * self.order], dtype=self.sin_coefficients.dtype)
        return self

    def forward(self, geometry: dict[str, torch.Tensor]) -> torch.Tensor:
        phase = geometry["dihedrals"][..., None] * self.harmonics
        return (self.cos_coefficients * torch.cos(phase) + self.sin_coefficients * torch.sin(phase)).sum((-1, -2))


class RepulsionTerms(ColumnTerms):
    """``sum_ij kT (sigma_ij / r_ij)^6`` in kJ/mol over non-bonded bead pairs (``columns`` of
    the geometry's distances): excluded volume for C-alpha models. ``sigma_ij`` is the
    smallest distance of the pair in the training data, where the repulsion is then kT."""

    def __init__(self, columns: np.ndarray, temperature: float = 300.0):
        super().__init__(columns)
        self.register_buffer("sigma", torch.zeros(len(columns)))
        self.register_buffer("epsilon", torch.tensor(kT(temperature)))

    def fit(self, geometry: dict[str, torch.Tensor], temperature: float) -> RepulsionTerms:
        """``sigma`` the closest approach of each pair in the data (nm), ``epsilon`` kT at
        ``temperature`` (K, in kJ/mol)."""
        with torch.no_grad():
            self.sigma.copy_(self.pick(geometry["distances"]).min(0).values)
            self.epsilon.fill_(kT(temperature))
        return self

    def forward(self, geometry: dict[str, torch.Tensor]) -> torch.Tensor:
        return (self.epsilon * (self.sigma / self.pick(geometry["distances"])) ** 6).sum(-1)

    def clear(self, geometry: dict[str, torch.Tensor]) -> torch.Tensor:
        """True ``[batch]`` where every pair is at least ``sigma`` apart: inside the distances
        the fitted data reach, where the repulsion is at most kT per pair."""
        return (self.pick(geometry["distances"]).to(self.sigma.dtype) >= self.sigma).all(-1)  # in sigma's precision


def nonbonded_pairs(n_beads: int, min_separation: int) -> np.ndarray:
    """Bead pairs at least ``min_separation`` apart along the chain ``[n, 2]``, in the order
    of ``ChainGeometry``'s distances."""
    pairs = ChainGeometry(n_beads).pairs()
    return pairs[pairs[:, 1] - pairs[:, 0] >= min_separation]


class Prior(nn.Module):
    """Sum of the prior terms of a linear bead chain, energy in kJ/mol. ``forward`` takes
    positions ``[batch, N, 3]`` (nm); ``energy(geometry)`` reuses a ``ChainGeometry`` result."""

    def __init__(self, n_beads: int, dihedral_order: int = 3, repulsion_min_separation: int | None = None):
        super().__init__()
        self.geometry = ChainGeometry(n_beads)
        separation = self.geometry.separation()
        terms = [HarmonicTerms("bond", np.flatnonzero(separation == 1)), HarmonicTerms("angle", np.arange(n_beads - 2))]
        if n_beads >= 4:
            terms.append(DihedralTerms(n_beads - 3, dihedral_order))
        if repulsion_min_separation is not None:
            terms.append(RepulsionTerms(np.flatnonzero(separation >= repulsion_min_separation)))
        self.terms = nn.ModuleList(terms)

    def fit(self, positions: torch.Tensor, temperature: float) -> Prior:
        """Fit every term to positions ``[n, beads, 3]`` (nm) at ``temperature`` (K)."""
        geometry = self.geometry(positions)
        for term in self.terms:
            term.fit(geometry, temperature)
        return self

    def energy(self, geometry: dict[str, torch.Tensor]) -> torch.Tensor:
        """Prior energy ``[batch]`` (kJ/mol) of a ``ChainGeometry`` result."""
        return sum(term(geometry) for term in self.terms)

    def clear_of_repulsion(self, x: torch.Tensor) -> torch.Tensor:
        """True ``[batch]`` for positions ``[batch, N, 3]`` (nm) where no repulsive pair is
        closer than the closest approach of the data the prior was fitted to (all True
        without a repulsion term). Closer than that, the repulsion's forces grow as r^-7 and
        dwarf any force label: no model with this prior can fit them."""
        clear = torch.ones(len(x), dtype=torch.bool, device=x.device)
        repulsions = [term for term in self.terms if isinstance(term, RepulsionTerms)]
        geometry = self.geometry(x) if repulsions else None  # no geometry to compute without a repulsion
        for term in repulsions:
            clear &= term.clear(geometry)
        return clear

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.energy(self.geometry(x))


class Featurizer(nn.Module):
    """Invariant features ``[batch, n_features]`` from a ``ChainGeometry`` result: all pair
    distances (nm), bond angles (rad), cos and sin of dihedrals; z-scored with the training
    mean and standard deviation."""

    def __init__(self, n_beads: int):
        super().__init__()
        n_pairs = n_beads * (n_beads - 1) // 2
        self.scale = ZScore(n_pairs + (n_beads - 2) + 2 * max(n_beads - 3, 0))

    @property
    def size(self) -> int:
        """Number of features."""
        return self.scale.size

    @staticmethod
    def raw(geometry: dict[str, torch.Tensor]) -> torch.Tensor:
        phi = geometry["dihedrals"]
        return torch.cat([geometry["distances"], geometry["angles"], torch.cos(phi), torch.sin(phi)], dim=-1)

    def fit(self, geometry: dict[str, torch.Tensor]) -> Featurizer:
        """Take the z-score statistics of the features of a ``ChainGeometry`` result."""
        with torch.no_grad():
            self.scale.fit(self.raw(geometry))
        return self

    def forward(self, geometry: dict[str, torch.Tensor]) -> torch.Tensor:
        return self.scale(self.raw(geometry))


_ACTIVATIONS = {"tanh": nn.Tanh, "silu": nn.SiLU}


class NetworkEnsemble(nn.Module):
    """``members`` independent multilayer perceptrons (``depth`` hidden layers of ``width``
    units, one output) evaluated in one batched pass. Features ``[batch, n]`` (the same for
    every member) or ``[members, batch, n]`` give outputs ``[members, batch]``. Every layer
    starts like ``nn.Linear``: weights and biases uniform in +-1/sqrt(fan-in), drawn
    independently per member."""

    def __init__(self, members: int, n_in: int, width: int, depth: int, activation: str):
        super().__init__()
        if members < 1:
            raise ValueError(f"an ensemble needs at least one member, got {members}")
        self.members = members
        sizes = [n_in] + [width] * depth + [1]
        self.weights = nn.ParameterList()
        self.biases = nn.ParameterList()
        for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
            bound = 1.0 / math.sqrt(fan_in)
            self.weights.append(nn.Parameter(torch.empty(members, fan_in, fan_out).uniform_(-bound, bound)))
            self.biases.append(nn.Parameter(torch.empty(members, 1, fan_out).uniform_(-bound, bound)))
        self.activation = _ACTIVATIONS[activation]()

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        h = features.expand(self.members, *features.shape) if features.ndim == 2 else features
        for layer, (weight, bias) in enumerate(zip(self.weights, self.biases)):
            h = torch.baddbmm(bias, h, weight)
            if layer < len(self.weights) - 1:
                h = self.activation(h)
        return h.squeeze(-1)


@dataclass
class CGNetConfig:
    """Architecture of a CGNet: ``members`` networks of ``depth`` hidden layers of ``width``
    units, whose energies are averaged (an ensemble; 1 is a single network)."""

    n_beads: int
    width: int = 160
    depth: int = 5
    activation: str = "tanh"
    members: int = 1
    dihedral_order: int = 3
    repulsion_min_separation: int | None = None  # e.g. 3 for C-alpha proteins; None: no repulsion
    temperature: float = 300.0  # K, of the training data


class CGNet(Checkpointable, nn.Module):
    """Prior + MLP energy of CG positions ``[batch, beads, 3]`` (nm) in kJ/mol."""

    config_class = CGNetConfig

    def __init__(self, config: CGNetConfig):
        super().__init__()
        if config.activation not in _ACTIVATIONS:
            raise ValueError(f"activation must be one of {sorted(_ACTIVATIONS)}, got {config.activation!r}")
        self.config = config
        self.prior = Prior(config.n_beads, config.dihedral_order, config.repulsion_min_separation)
        self.featurizer = Featurizer(config.n_beads)
        self.network = NetworkEnsemble(config.members, self.featurizer.size, config.width, config.depth, config.activation)

    @classmethod
    def from_data(cls, positions, config: CGNetConfig) -> CGNet:
        """A CGNet whose prior and feature statistics are fitted to ``positions`` (nm) at
        ``config.temperature``; the network starts untrained."""
        torch_positions = as_model_tensor(positions, "cpu")
        model = cls(config)
        model.prior.fit(torch_positions, config.temperature)
        model.featurizer.fit(model.prior.geometry(torch_positions))
        return model

    def _check(self, x: torch.Tensor) -> None:
        if x.ndim != 3 or x.shape[1:] != (self.config.n_beads, 3):
            raise ValueError(f"positions must have shape [batch, {self.config.n_beads}, 3], got {tuple(x.shape)}")

    def energy(self, x: torch.Tensor) -> torch.Tensor:
        """Energy in kJ/mol ``[batch]``: the prior plus the mean of the members' networks; the
        geometry is computed once for prior and network."""
        self._check(x)
        geometry = self.prior.geometry(x)
        return self.prior.energy(geometry) + self.network(self.featurizer(geometry)).mean(0)

    def energy_and_forces(self, x: torch.Tensor, create_graph: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
        """Energies (kJ/mol) and forces ``-dU/dx`` (kJ/mol/nm) of the ensemble."""
        return energy_and_forces(self.energy, x, create_graph)

    def compiled_force_field(self) -> Callable[[torch.Tensor], tuple[torch.Tensor, torch.Tensor]]:
        """:meth:`energy_and_forces` (kJ/mol, kJ/mol/nm of positions in nm) with the energy
        compiled by ``torch.compile``, for long simulations at a fixed number of replicas:
        compilation fuses the geometry's many small operations. Measured on two CPU cores with
        the 8-member chignolin CGnet: 1.75x faster per step at 16 replicas, 1.15x at 128, 1.07x
        at 1,024 (where the networks' matrix products dominate); compiling takes 10-30 s per
        batch shape. Where compilation fails (e.g. no C++ compiler), it warns once and runs
        eagerly."""
        energy_of = torch.compile(self.energy, dynamic=False)

        def force_field(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            nonlocal energy_of
            try:
                return energy_and_forces(energy_of, x)
            except Exception as error:
                if energy_of == self.energy:
                    raise
                warnings.warn(f"torch.compile failed ({type(error).__name__}: {error}); running eagerly", stacklevel=2)
                energy_of = self.energy
                return energy_and_forces(self.energy, x)

        return force_field

    def member_energies_and_forces(self, x: torch.Tensor, create_graph: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
        """Each member's energy ``[members, batch]`` (kJ/mol, prior included) and forces
        ``[members, batch, beads, 3]`` (kJ/mol/nm), for training every member on its own loss.
        ``x`` (nm) is ``[batch, beads, 3]`` (the same positions for every member) or
        ``[members, batch, beads, 3]`` (each member its own batch, as in training). The
        positions are laid out once per member so that one backward pass separates them."""
        members = self.config.members
        if x.ndim == 4:
            if len(x) != members:
                raise ValueError(f"per-member positions need {members} batches, got {len(x)}")
            x = x.flatten(0, 1)
            self._check(x)
        else:
            self._check(x)
            x = x.repeat(members, 1, 1)
        batch = len(x) // members

        def energies(replicated: torch.Tensor) -> torch.Tensor:
            geometry = self.prior.geometry(replicated)
            features = self.featurizer(geometry).view(members, batch, -1)
            return self.prior.energy(geometry) + self.network(features).reshape(-1)

        energy, forces = energy_and_forces(energies, x, create_graph)
        return energy.view(members, batch), forces.view(members, batch, *x.shape[1:])

    def fit(
        self,
        positions,
        forces,
        weights=None,
        validation: tuple | None = None,
        config: TrainingConfig | None = None,
        lipschitz: float | None = None,
        loss: str = "generalised",
    ) -> History:
        """Force matching (eq. 3) through the shared training loop, on the model's device.

        positions ``[frames, beads, 3]`` nm, forces same shape kJ/mol/nm, optional frame weights
        (arrays or tensors on any device); ``validation`` is ``(positions, forces)`` or
        ``(positions, forces, weights)``. Use all-atom aggregated forces (the baseline) or
        teacher samples and forces (flow-matching). ``lipschitz``: spectral-norm bound of every
        hidden layer, enforced after each step. ``loss``: ``"generalised"`` (errors of the
        generalised forces in units of the training labels' spread, dimensionless; 1 is what a
        model that predicts no force scores on centred labels) or ``"cartesian"`` (mean squared
        error per Cartesian component, (kJ/mol/nm)^2).
        """
        if loss not in ("generalised", "cartesian"):
            raise ValueError(f"loss must be 'generalised' or 'cartesian', got {loss!r}")
        device = next(self.parameters()).device

        def tensors(x, f, w=None):
            x, f = as_model_tensor(x, device), as_model_tensor(f, device)
            if x.shape != f.shape:
                raise ValueError(f"positions {tuple(x.shape)} and forces {tuple(f.shape)} differ in shape")
            w = torch.ones(len(x), dtype=x.dtype, device=device) if w is None else as_model_tensor(w, device)
            return x, f, w

        train = tensors(positions, forces, weights)
        validation = None if validation is None else tensors(*validation)
        objective = force_matching_loss
        if loss == "generalised":
            train = _with_generalised_labels(train)
            validation = None if validation is None else _with_generalised_labels(validation)
            objective = generalised_force_matching_loss(spread(train[2]))
        return fit(
            self,
            objective,
            train,
            validation,
            config,
            after_step=None if lipschitz is None else lipschitz_projection(lipschitz),
            description="force matching",
            streams=self.config.members,
        )


def force_matching_loss(model: CGNet, positions: torch.Tensor, forces: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """Weighted mean over frames of the squared force error per component, (kJ/mol/nm)^2 (eq. 3),
    averaged over the members of the ensemble: each member fits the forces on its own, so
    their errors stay independent and average out in the ensemble's energy."""
    _, predicted = model.member_energies_and_forces(positions, create_graph=True)
    return _members_mean(((predicted - forces) ** 2).mean(dim=(-2, -1)), weights)


def _members_mean(per_frame: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """The members' mean of their weighted frame means: ``per_frame`` ``[members, batch]``
    with frame weights ``[batch]`` (shared frames) or ``[members, batch]`` (own batches)."""
    return ((weights * per_frame).sum(-1) / weights.sum(-1)).mean()


def _with_generalised_labels(data: tuple[torch.Tensor, ...]) -> tuple[torch.Tensor, ...]:
    """(positions, forces, weights) -> (positions, projection, generalised labels, weights):
    the frames' projections are computed once, not in every epoch."""
    positions, forces, weights = data
    projection, labels = project_labels(positions, forces)
    return positions, projection, labels, weights


def generalised_force_matching_loss(scale: torch.Tensor):
    """Force matching on generalised forces (``cgflow.generalised``): the loss
    ``loss(model, positions, projection, labels, weights)`` is the weighted mean over frames of
    ``((Q_model - Q_label) / scale)^2``, averaged over the chain's 3N-6 internal coordinates and
    the ensemble's members; dimensionless. ``projection`` ``[n, 3N-6, 3N]`` and ``labels``
    ``[n, 3N-6]`` come from ``generalised.project_labels``; ``scale`` ``[3N-6]`` is the spread
    of the training labels (kJ/mol/nm for bonds, kJ/mol/rad for angles and dihedrals)."""

    def loss(model: CGNet, positions: torch.Tensor, projection: torch.Tensor, labels: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
        _, predicted = model.member_energies_and_forces(positions, create_graph=True)
        error = (generalised_forces(predicted, projection) - labels) / scale
        return _members_mean((error**2).mean(-1), weights)

    return loss


def lipschitz_projection(max_norm: float):
    """An ``after_step`` hook that rescales every weight matrix of every member whose
    spectral norm exceeds ``max_norm`` back to it (the Lipschitz regularisation of CGnet)."""

    def project(model: CGNet) -> None:
        with torch.no_grad():
            for weight in model.network.weights:
                norm = torch.linalg.matrix_norm(weight, ord=2)[:, None, None]
                weight.mul_(torch.clamp(max_norm / norm, max=1.0))

    return project
