"""The teacher: an augmented, smooth normalizing flow over internal coordinates.

Sections 2.4-2.6 of the flow-matching paper. A CG configuration ``x`` (``[N, 3]``, nm) is
described by its internal coordinates (``geometry.ChainIC``): bonds and angles, mapped by
fixed smooth bijections to the real line and standardised, and torsions on the circle. ``A``
augmented channels ``eta ~ N(0, I)`` join them (eq. 7-8). Coupling layers of smooth
transforms (``cgflow.transforms``) map the joint ``(ic, eta)`` to a base distribution that is
a standard normal for real coordinates and uniform for torsions. ``FlowConfig.structure``
arranges them (``STRUCTURES``): ``"torsions-first"`` factorises the density as ``p(bonds |
angles, torsions) p(angles | torsions) p(torsions, eta)``, the teacher of the alanine-dipeptide
chapters; ``"joint"`` conditions every group on all the others (the one-dimensional toy).

Densities and energies (eq. 5, 9): the flow gives ``log p(ic, eta)``; over Cartesian CG
coordinates (rigid-body motion factored out) ``log p(x, eta) = log p(ic(x), eta) -
log J(x)`` with ``J = prod r_i^2 prod sin(theta_i)`` (see ``ChainIC``). The joint energy is
``V(x, eta) = -kT log p(x, eta)`` in kJ/mol and the forces ``-grad_x V`` in kJ/mol/nm.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from nflows.transforms.base import CompositeTransform, Transform
from torch import nn

from .geometry import ChainIC, energy_and_forces
from .scaling import ZScore
from .training import Checkpointable, History, TrainingConfig, as_model_tensor, fit
from .transforms import (
    circle_parameter_count,
    mixture_cdf_real,
    mixture_cdf_real_inverse,
    moebius_mixture_circle,
    moebius_mixture_circle_inverse,
    real_parameter_count,
)
from .units import kT

LOG_TWO_PI = math.log(2.0 * math.pi)


class SmoothCoupling(Transform):
    """Updates the dimensions in ``update`` with smooth elementwise maps whose parameters a
    tanh MLP computes from the dimensions in ``condition`` (default: all the others; torsions
    enter it as cos and sin)."""

    def __init__(self, is_circle: np.ndarray, update: np.ndarray, n_components: int = 8, hidden: int = 128, condition: np.ndarray | None = None):
        super().__init__()
        is_circle, update = np.asarray(is_circle, bool), np.asarray(update, bool)
        condition = ~update if condition is None else np.asarray(condition, bool)
        if not update.any() or not condition.any() or (update & condition).any():
            raise ValueError("a coupling layer must update some dimensions and condition on some others")
        self.register_buffer("is_circle", torch.as_tensor(is_circle))
        self.register_buffer("update", torch.as_tensor(update))
        self.register_buffer("condition", torch.as_tensor(condition), persistent=False)   # follows from the config
        self.n_components = n_components
        self.width = max(real_parameter_count(n_components), circle_parameter_count(n_components))
        n_inputs = int((condition & ~is_circle).sum() + 2 * (condition & is_circle).sum())
        self.network = nn.Sequential(
            nn.Linear(n_inputs, hidden), nn.Tanh(), nn.Linear(hidden, hidden), nn.Tanh(), nn.Linear(hidden, int(update.sum()) * self.width)
        )
        nn.init.zeros_(self.network[-1].weight)  # start close to a fixed map
        nn.init.zeros_(self.network[-1].bias)

    def _conditioner_output(self, inputs: torch.Tensor) -> torch.Tensor:
        kept = inputs[:, self.condition]
        circle = self.is_circle[self.condition]
        features = torch.cat([kept[:, ~circle], torch.cos(kept[:, circle]), torch.sin(kept[:, circle])], dim=-1)
        return self.network(features).view(len(inputs), -1, self.width)

    def _map(self, inputs: torch.Tensor, inverse: bool) -> tuple[torch.Tensor, torch.Tensor]:
        parameters = self._conditioner_output(inputs)
        circle = self.is_circle[self.update]
        real_p = parameters[:, ~circle, : real_parameter_count(self.n_components)]
        circle_p = parameters[:, circle, : circle_parameter_count(self.n_components)]
        values = inputs[:, self.update]
        real, angles = values[:, ~circle], values[:, circle]
        if inverse:  # solve for the inputs; the log-det then comes from the forward map at them
            real = mixture_cdf_real_inverse(real, real_p)
            angles = moebius_mixture_circle_inverse(angles, circle_p)
        real_out, real_log = mixture_cdf_real(real, real_p)
        angles_out, circle_log = moebius_mixture_circle(angles, circle_p)
        log_det = real_log.sum(-1) + circle_log.sum(-1)
        mapped = torch.empty_like(values)
        mapped[:, ~circle], mapped[:, circle] = (real, angles) if inverse else (real_out, angles_out)
        outputs = inputs.clone()
        outputs[:, self.update] = mapped
        return outputs, (-log_det if inverse else log_det)

    def forward(self, inputs, context=None):
        return self._map(inputs, inverse=False)

    def inverse(self, inputs, context=None):
        return self._map(inputs, inverse=True)


class InternalCoordinates(nn.Module):
    """Fixed smooth bijection from Cartesian CG coordinates to the flow's variables: bonds
    ``r`` -> ``(log r - m) / s``, angles ``theta`` -> ``(logit(theta / pi) - m) / s`` (so that
    every value maps back into the physical domain), torsions unchanged; statistics from the
    training data. Returns the variables and ``log |d variables / d ic|``."""

    def __init__(self, n_beads: int):
        super().__init__()
        self.chain = ChainIC(n_beads)
        self.scale = ZScore(2 * n_beads - 3)

    @property
    def n_real(self) -> int:
        """Real (non-periodic) flow variables: bonds and angles."""
        return self.scale.size

    @property
    def n_torsions(self) -> int:
        """Torsions, the periodic flow variables."""
        return self.chain.n_beads - 3

    def _unbounded(self, ic: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        bonds, angles, _ = self.chain.split(ic)
        p = angles / math.pi
        values = torch.cat([torch.log(bonds), torch.log(p) - torch.log1p(-p)], dim=-1)
        log_det = -torch.log(bonds).sum(-1) - (math.log(math.pi) + torch.log(p) + torch.log1p(-p)).sum(-1)
        return values, log_det

    def fit(self, positions: torch.Tensor) -> InternalCoordinates:
        """Standardise with the statistics of positions ``[n, N, 3]`` (nm)."""
        with torch.no_grad():
            self.scale.fit(self._unbounded(self.chain.forward(positions)[0])[0])
        return self

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Flow variables ``[n, 3N - 6]`` (real ones first, torsions last), their log-det with
        respect to the internal coordinates, and ``log J`` of the Cartesian volume element."""
        ic, _ = self.chain.forward(x)
        values, log_det = self._unbounded(ic)
        variables = torch.cat([self.scale(values), self.chain.split(ic)[2]], dim=-1)
        return variables, log_det + self.scale.log_det(), self.chain.log_jacobian(ic)

    def inverse(self, variables: torch.Tensor) -> torch.Tensor:
        """Cartesian positions ``[n, N, 3]`` (nm) in the canonical orientation."""
        values = self.scale.inverse(variables[:, : self.n_real])
        n_bonds = self.chain.n_beads - 1
        bonds = torch.exp(values[:, :n_bonds])
        angles = math.pi * torch.sigmoid(values[:, n_bonds:])
        return self.chain.inverse(torch.cat([bonds, angles, variables[:, self.n_real :]], dim=-1))


class StandardisedCoordinates(nn.Module):
    """Plain real coordinates ``[n, d]`` (e.g. the CG coordinate of a toy system, nm),
    standardised with the training data's mean and standard deviation. Same interface as
    :class:`InternalCoordinates`; the Cartesian volume element is 1 (``log J = 0``)."""

    n_torsions = 0

    def __init__(self, dim: int):
        super().__init__()
        self.scale = ZScore(dim)

    @property
    def n_real(self) -> int:
        """Real flow variables: all of them."""
        return self.scale.size

    def fit(self, positions: torch.Tensor) -> StandardisedCoordinates:
        """Take mean and standard deviation of positions ``[n, d]``."""
        self.scale.fit(positions)
        return self

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        log_det = self.scale.log_det().expand(len(x))
        return self.scale(x), log_det, torch.zeros_like(log_det)

    def inverse(self, variables: torch.Tensor) -> torch.Tensor:
        """Positions ``[n, d]`` of standardised variables."""
        return self.scale.inverse(variables)


COORDINATES = {"internal": InternalCoordinates, "standardised": StandardisedCoordinates}


def _halves(indices: np.ndarray) -> list[np.ndarray]:
    """Alternate members of ``indices``, the non-empty ones."""
    return [part for part in (indices[0::2], indices[1::2]) if len(part)]


def _joint_layers(bonds, angles, torsions, augmented, n_blocks: int) -> list[tuple[np.ndarray, np.ndarray | None]]:
    """The ``"joint"`` structure: ``n_blocks`` times each torsion half, the real coordinates
    and the augmented channels in turn, each conditioned on everything else."""
    block = [(group, None) for group in [*_halves(torsions), np.concatenate([bonds, angles]), augmented] if len(group)]
    return block * n_blocks


def _torsions_first_layers(bonds, angles, torsions, augmented, n_blocks: int) -> list[tuple[np.ndarray, np.ndarray | None]]:
    """The ``"torsions-first"`` structure, in the data-to-base order: ``n_blocks`` times the
    bond halves given the torsions, angles and other bonds; then the angle halves given the
    torsions and other angles; then the torsion halves and augmented channels among
    themselves. Bonds and angles are transformed while the torsions are still the data's, so
    the density factorises as ``p(bonds | angles, torsions) p(angles | torsions) p(torsions,
    eta)``: the augmented channels act on the torsions only."""
    layers = []
    for group, context in ((bonds, [angles, torsions]), (angles, [torsions]), (torsions, [augmented])):
        block = [(half, np.concatenate([np.setdiff1d(group, half), *context])) for half in _halves(group)]
        if group is torsions and len(augmented):
            block.append((augmented, torsions))
        layers += block * n_blocks
    return layers


#: How coupling layers are arranged (``FlowConfig.structure``).
STRUCTURES = {"joint": _joint_layers, "torsions-first": _torsions_first_layers}


@dataclass
class FlowConfig:
    """Architecture of the teacher; ``n_blocks`` blocks of coupling layers. ``coordinates``:
    ``"internal"`` for a chain of ``n_beads`` beads (positions ``[n, n_beads, 3]``), or
    ``"standardised"`` for ``n_beads`` plain real coordinates (positions ``[n, n_beads]``)."""

    n_beads: int  # "internal": beads of the chain; "standardised": number of real coordinates
    n_augmented: int = 2
    n_blocks: int = 4
    n_components: int = 8
    hidden: int = 128
    temperature: float = 300.0  # K, of the training data
    coordinates: str = "internal"
    structure: str = "joint"  # see STRUCTURES

    def __post_init__(self):
        if self.coordinates not in COORDINATES:
            raise ValueError(f"coordinates must be one of {sorted(COORDINATES)}, got {self.coordinates!r}")
        if self.structure not in STRUCTURES:
            raise ValueError(f"structure must be one of {sorted(STRUCTURES)}, got {self.structure!r}")
        if self.structure == "torsions-first" and self.coordinates != "internal":
            raise ValueError("the 'torsions-first' structure needs internal coordinates (bonds, angles, torsions)")


@dataclass
class FlowSample:
    """Teacher samples: positions ``[n, N, 3]`` nm, augmented channels ``[n, A]``, joint
    energies ``V(x, eta)`` ``[n]`` kJ/mol and forces ``-dV/dx`` ``[n, N, 3]`` kJ/mol/nm."""

    positions: torch.Tensor
    eta: torch.Tensor
    energy: torch.Tensor
    forces: torch.Tensor

    def __len__(self) -> int:
        return len(self.positions)

    def select(self, keep: torch.Tensor) -> FlowSample:
        """The samples where the boolean mask ``keep`` is true."""
        return FlowSample(self.positions[keep], self.eta[keep], self.energy[keep], self.forces[keep])


def standard_normal_log_prob(eta: torch.Tensor) -> torch.Tensor:
    """``log N(eta; 0, I)`` ``[n]`` of augmented channels ``[n, A]``."""
    return -0.5 * (eta**2).sum(-1) - 0.5 * LOG_TWO_PI * eta.shape[-1]


def filter_by_force(sample: FlowSample, max_force: float) -> tuple[FlowSample, float]:
    """Drop samples with any bead force above ``max_force`` (kJ/mol/nm): rare samples from
    the flow's low-density fringe carry huge forces that would dominate a force-matching
    loss. Returns the kept samples and the fraction kept."""
    keep = within_force_bound(sample.forces, max_force)
    return sample.select(keep), float(keep.double().mean())


def within_force_bound(forces: torch.Tensor, max_force: float) -> torch.Tensor:
    """``[n]``: whether every bead force of ``forces`` ``[n, N, 3]`` is finite and at most
    ``max_force`` in magnitude (kJ/mol/nm)."""
    largest = torch.linalg.vector_norm(forces, dim=-1).amax(dim=-1)
    return torch.isfinite(largest) & (largest <= max_force)


def reweight(sample: FlowSample, bias_energy, temperature: float) -> tuple[FlowSample, torch.Tensor]:
    """Reweight samples by ``exp(-U_bias / kT)`` (e.g. a repulsion prior between C-alpha beads,
    which suppresses clashes the flow puts a little mass on). The reweighted ensemble has the
    density ``p_flow(x) exp(-U_bias(x) / kT)``, whose forces are the flow's plus ``-grad
    U_bias``; the returned sample carries those forces, and the normalised weights ``[n]``.
    ``bias_energy`` maps positions ``[n, N, 3]`` (nm) to energies ``[n]`` (kJ/mol)."""
    bias, bias_forces = energy_and_forces(bias_energy, sample.positions)
    weights = torch.softmax(-bias / kT(temperature), dim=0)
    return FlowSample(sample.positions, sample.eta, sample.energy + bias, sample.forces + bias_forces), weights


def effective_sample_size(weights: torch.Tensor) -> float:
    """Kish effective sample size ``(sum w)^2 / sum w^2`` of importance weights."""
    weights = torch.as_tensor(weights, dtype=torch.float64)
    if (weights < 0).any() or weights.sum() <= 0:
        raise ValueError("weights must be non-negative and not all zero")
    return float(weights.sum() ** 2 / (weights**2).sum())


class AugmentedFlow(Checkpointable, nn.Module):
    """Smooth augmented flow over internal coordinates (see the module docstring)."""

    config_class = FlowConfig

    def __init__(self, config: FlowConfig):
        super().__init__()
        self.config = config
        self.coordinates = COORDINATES[config.coordinates](config.n_beads)
        n_real, n_torsions = self.coordinates.n_real, self.coordinates.n_torsions
        dim = n_real + n_torsions + config.n_augmented
        is_circle = np.zeros(dim, bool)
        is_circle[n_real : n_real + n_torsions] = True
        n_bonds = config.n_beads - 1 if config.coordinates == "internal" else n_real
        arrangement = STRUCTURES[config.structure](
            np.arange(n_bonds), np.arange(n_bonds, n_real), np.arange(n_real, n_real + n_torsions), np.arange(n_real + n_torsions, dim), config.n_blocks
        )
        layers = []
        for group, context in arrangement:
            update, condition = np.zeros(dim, bool), None
            update[group] = True
            if context is not None:
                condition = np.zeros(dim, bool)
                condition[context] = True
            layers.append(SmoothCoupling(is_circle, update, config.n_components, config.hidden, condition))
        self.transform = CompositeTransform(layers)
        self.register_buffer("is_circle", torch.as_tensor(is_circle))

    @classmethod
    def from_data(cls, positions, config: FlowConfig) -> AugmentedFlow:
        flow = cls(config)
        flow.coordinates.fit(as_model_tensor(positions, "cpu"))
        return flow

    def _base_log_prob(self, z: torch.Tensor) -> torch.Tensor:
        real = z[:, ~self.is_circle]
        return -0.5 * (real**2).sum(-1) - 0.5 * LOG_TWO_PI * real.shape[1] - LOG_TWO_PI * int(self.is_circle.sum())

    def log_prob(self, x: torch.Tensor, eta: torch.Tensor) -> torch.Tensor:
        """``log p(x, eta)`` ``[n]`` of Cartesian positions ``[n, N, 3]`` (nm, rigid-body
        motion factored out) and augmented channels ``[n, A]``."""
        variables, log_det_coordinates, log_jacobian = self.coordinates(x)
        z, log_det_flow = self.transform(torch.cat([variables, eta], dim=-1))
        return self._base_log_prob(z) + log_det_flow + log_det_coordinates - log_jacobian

    def nll(self, x: torch.Tensor) -> torch.Tensor:
        """Mean variational bound on ``-log p(x)``: ``E_eta[-log p(x, eta) + log N(eta; 0, I)]``
        with one ``eta ~ N(0, I)`` per frame (eq. 8), in nats."""
        eta = torch.randn(len(x), self.config.n_augmented, dtype=x.dtype, device=x.device)
        return (standard_normal_log_prob(eta) - self.log_prob(x, eta)).mean()

    def energy_and_forces(self, x: torch.Tensor, eta: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Joint energy ``V = -kT log p(x, eta)`` (kJ/mol) and forces ``-dV/dx`` (kJ/mol/nm), eq. 9."""
        eta = eta.detach()
        return energy_and_forces(lambda x: -kT(self.config.temperature) * self.log_prob(x, eta), x)

    def marginal_energy_and_forces(
        self, x: torch.Tensor, n_eta: int = 8, batch_size: int = 1024, generator: torch.Generator | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The teacher's free energy ``F(x) = -kT log p(x)`` (kJ/mol, up to a constant) and its
        forces ``-dF/dx`` (kJ/mol/nm) at any positions ``x`` ``[n, N, 3]`` (nm), with the
        effective sample size ``[n]`` of the weights below.

        ``p(x) = E_{eta ~ N(0, I)}[p(x, eta) / N(eta)]`` is estimated with ``n_eta`` draws per
        frame, so the force is the mean of the joint forces (eq. 9) weighted by ``w_k ~ p(x,
        eta_k) / N(eta_k)``, normalised over k: a self-normalised importance-sampling estimate
        of eq. 10's conditional mean, with a bias of order 1 / n_eta. A joint force at one
        ``eta ~ N(0, I)`` is a valid label only when ``eta`` comes from ``p(eta | x)``, as it
        does for the flow's own samples; these labels are valid wherever ``x`` comes from."""
        parts = []
        device = self.is_circle.device
        source = generator.device if generator is not None else device
        n_augmented = self.config.n_augmented
        for start in range(0, len(x), batch_size):
            chunk = x[start : start + batch_size]
            eta = torch.randn(n_eta * len(chunk), n_augmented, generator=generator, device=source, dtype=x.dtype).to(device)
            log_weights = []

            def free_energy(positions: torch.Tensor) -> torch.Tensor:  # called at once, in this iteration
                repeated = positions.repeat(n_eta, 1, 1)
                log_w = (self.log_prob(repeated, eta) - standard_normal_log_prob(eta)).reshape(n_eta, len(positions))
                log_weights.append(log_w.detach())
                return -kT(self.config.temperature) * (torch.logsumexp(log_w, dim=0) - math.log(n_eta))

            energy, forces = energy_and_forces(free_energy, chunk)
            weights = torch.softmax(log_weights[0], dim=0)
            parts.append((energy, forces, 1.0 / (weights**2).sum(0)))
        return tuple(torch.cat(values) for values in zip(*parts))

    @torch.no_grad()
    def sample(self, n: int, batch_size: int = 4096, generator: torch.Generator | None = None) -> FlowSample:
        """``n`` samples with their energies and forces (forces by autograd at the samples).
        The base draws come from ``generator`` on its own device (a CPU generator gives the
        same samples on any device the flow lives on) and move to the flow's device."""
        parts = []
        device = self.is_circle.device
        source = generator.device if generator is not None else device
        for start in range(0, n, batch_size):
            m = min(batch_size, n - start)
            z = torch.randn(m, len(self.is_circle), generator=generator, device=source).to(device)
            uniform = torch.rand(m, len(self.is_circle), generator=generator, device=source).to(device) * 2 * math.pi - math.pi
            z = torch.where(self.is_circle, uniform, z)
            joint, _ = self.transform.inverse(z)
            n_ic = len(self.is_circle) - self.config.n_augmented
            positions = self.coordinates.inverse(joint[:, :n_ic])
            eta = joint[:, n_ic:]
            energy, forces = self.energy_and_forces(positions, eta)
            parts.append(FlowSample(positions, eta, energy, forces))
        return FlowSample(*(torch.cat([getattr(p, name) for p in parts]) for name in ("positions", "eta", "energy", "forces")))

    def fit(self, positions, validation=None, config: TrainingConfig | None = None) -> History:
        """Maximum-likelihood training (the NLL bound) on positions ``[frames, N, 3]`` (nm)."""
        device = self.is_circle.device
        return fit(
            self,
            lambda model, x: model.nll(x),
            (as_model_tensor(positions, device),),
            None if validation is None else (as_model_tensor(validation, device),),
            config,
            description="flow (NLL)",
        )
