"""Where the student learns: the teacher's samples, plus points spread across the barriers.

The teacher's samples crowd into its basins; the barriers between them (phi near 0 on
alanine dipeptide) and the rare alpha_L basin hold few of them, so a student trained on
samples alone extrapolates exactly where the basins' relative free energies are decided (the
free energy of a basin relative to another is the integral of the mean force along the path
between them). The teacher, however, has a density everywhere, and so a mean force
everywhere: :meth:`cgflow.flows.AugmentedFlow.marginal_energy_and_forces` labels any point.
:func:`spread_torsions` moves sample points along their torsions by random amounts (bonds
and angles unchanged), which fills the barriers, and :func:`student_set` adds such points
with their marginal-force labels to the samples with their joint-force labels. Both labels
have the teacher's mean force as their conditional mean (eq. 10), so force matching on the
union still converges to the teacher's free energy, now with the barriers covered.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .flows import AugmentedFlow, FlowSample, within_force_bound
from .geometry import ChainIC


def spread_torsions(positions: torch.Tensor, scale: float, generator: torch.Generator | None = None) -> torch.Tensor:
    """Positions ``[n, N, 3]`` (nm) with every torsion moved by an independent ``N(0,
    scale^2)`` amount (rad), bonds and angles kept; returned in the canonical orientation."""
    chain = ChainIC(positions.shape[-2])
    ic, _ = chain.forward(positions)
    columns = chain.kinds["dihedrals"]
    noise = torch.randn(len(ic), columns.stop - columns.start, generator=generator, dtype=ic.dtype).to(ic.device)
    moved = ic.clone()
    moved[:, columns] = torch.remainder(ic[:, columns] + scale * noise + torch.pi, 2 * torch.pi) - torch.pi
    return chain.inverse(moved)


@dataclass(frozen=True)
class StudentSet:
    """Training positions ``[n, N, 3]`` (nm) and force labels (kJ/mol/nm) of a Flow-CGnet,
    shuffled; ``is_spread`` ``[n]``: which of them are spread points; ``kept_fraction``: of
    the spread points, those under the force bound; ``median_ess``: median effective sample
    size of their marginal-force weights (out of ``n_eta``)."""

    positions: torch.Tensor
    forces: torch.Tensor
    is_spread: torch.Tensor
    kept_fraction: float
    median_ess: float

    @property
    def spread(self) -> int:
        """Number of spread points."""
        return int(self.is_spread.sum())


def student_set(
    teacher: AugmentedFlow,
    sample: FlowSample,
    n_spread: int,
    scale: float,
    n_eta: int,
    max_force: float,
    generator: torch.Generator | None = None,
) -> StudentSet:
    """The teacher's ``sample`` (joint-force labels) plus ``n_spread`` of its points moved by
    :func:`spread_torsions` (``scale`` in rad) and labelled with the teacher's marginal force
    from ``n_eta`` draws of eta (:func:`marginal_labels`, which drops those above ``max_force``
    kJ/mol/nm). The union is shuffled, so any contiguous part can validate."""
    if not 0 <= n_spread <= len(sample):
        raise ValueError(f"n_spread must lie in 0..{len(sample)} (the samples), got {n_spread}")
    moved = spread_torsions(sample.positions[:n_spread], scale, generator)
    spread = marginal_labels(teacher, moved, n_eta, max_force, generator)
    positions = torch.cat([sample.positions, spread.positions])
    labels = torch.cat([sample.forces, spread.forces])
    is_spread = torch.cat([torch.zeros(len(sample), dtype=torch.bool), torch.ones(len(spread.positions), dtype=torch.bool)])
    order = torch.randperm(len(positions), generator=generator)
    return StudentSet(positions[order.to(positions.device)], labels[order.to(positions.device)], is_spread[order],
                      spread.kept_fraction, spread.median_ess)


@dataclass(frozen=True)
class MarginalLabels:
    """Positions ``[n, N, 3]`` (nm) kept under the force bound, their marginal-force labels
    (kJ/mol/nm), the fraction kept and the median effective sample size of the kept and
    dropped points' weights (out of ``n_eta``)."""

    positions: torch.Tensor
    forces: torch.Tensor
    kept_fraction: float
    median_ess: float


def marginal_labels(
    teacher: AugmentedFlow, positions: torch.Tensor, n_eta: int, max_force: float, generator: torch.Generator | None = None
) -> MarginalLabels:
    """The teacher's marginal forces (kJ/mol/nm, from ``n_eta`` draws of eta) at any
    ``positions`` (nm), dropping the points whose largest bead force exceeds ``max_force``
    (kJ/mol/nm): there the teacher's density is too thin to trust. This removes points, not eta
    values, so unlike ``flows.filter_by_force`` it leaves the labels of the kept points
    unbiased."""
    if len(positions) == 0:
        return MarginalLabels(positions, torch.zeros_like(positions), 1.0, float(n_eta))
    _, forces, ess = teacher.marginal_energy_and_forces(positions, n_eta=n_eta, generator=generator)
    keep = within_force_bound(forces, max_force)
    return MarginalLabels(positions[keep], forces[keep], float(keep.double().mean()), float(ess.median()))
