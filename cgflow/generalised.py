"""Generalised forces: Cartesian forces on a bead chain expressed along its internal coordinates.

The internal coordinates ``q(x)`` of a chain of N beads are its N-1 bond lengths (nm), N-2 bond
angles and N-3 dihedrals (rad), ``geometry.ChainIC``: the configuration up to rigid-body
motion. A force that derives from an energy invariant under rotations and translations,
``F = -dU/dx``, is ``F = J^T Q`` with ``J = dq/dx`` ``[3N-6, 3N]`` and ``Q = -dU/dq``, so

    Q = P F,    P = (J J^T)^-1 J,

recovers the generalised forces: kJ/mol/nm along bonds, kJ/mol/rad along angles and dihedrals.
On a noisy force label the same map drops the components along rigid-body motions (net force
and torque), which say nothing about the free energy.

Why a force-matching loss wants them (see ``cgnet.generalised_force_matching_loss``): in
Cartesian components the stiff bond and angle directions (spread ~1,000 kJ/mol/nm) dominate the
squared error, while the Ramachandran free energy is set by the small torsional forces (spread
~10-50 kJ/mol/rad). Weighting each generalised force by the inverse variance of the labels lets
every coordinate count. The minimiser is unchanged: at each configuration ``P`` is a fixed,
invertible map of the invariant forces, so the best model force is still the mean force (eq. 3
of the flow-matching paper).
"""

from __future__ import annotations

import torch

from .geometry import ChainIC


def internal_projection(positions: torch.Tensor) -> torch.Tensor:
    """``P = (J J^T)^-1 J`` ``[n, 3N-6, 3N]`` at positions ``[n, N, 3]`` (nm), with ``J = dq/dx``
    of the chain's internal coordinates, computed in double precision and returned in the
    positions' dtype. Its rows give Q along bonds (kJ/mol/nm), then angles and dihedrals
    (kJ/mol/rad). Collinear triples, where dihedrals are undefined, give non-finite rows."""
    if positions.ndim != 3 or positions.shape[-1] != 3:
        raise ValueError(f"positions must have shape [n, beads, 3], got {tuple(positions.shape)}")
    chain = ChainIC(positions.shape[1])
    with torch.enable_grad():
        x = positions.detach().double().requires_grad_(True)
        q = chain.forward(x)[0]
        rows = [torch.autograd.grad(q[:, k].sum(), x, retain_graph=k < chain.dim - 1)[0].flatten(1) for k in range(chain.dim)]
    jacobian = torch.stack(rows, dim=1)
    return torch.linalg.solve(jacobian @ jacobian.transpose(1, 2), jacobian).to(positions.dtype)


def generalised_forces(forces: torch.Tensor, projection: torch.Tensor) -> torch.Tensor:
    """Generalised forces ``Q = P F`` ``[..., n, 3N-6]`` of Cartesian forces ``[..., n, N, 3]``
    (kJ/mol/nm) with the :func:`internal_projection` ``[..., n, 3N-6, 3N]`` of their positions;
    leading dimensions (e.g. ensemble members) are kept or broadcast."""
    return torch.einsum("...nkj,...nj->...nk", projection, forces.flatten(-2))


#: Unit of the generalised force along each kind of internal coordinate.
UNITS = {"bonds": "kJ/mol/nm", "angles": "kJ/mol/rad", "dihedrals": "kJ/mol/rad"}


def coordinate_kinds(n_beads: int) -> dict[str, slice]:
    """Columns of the bonds, angles and dihedrals among the ``3N-6`` generalised forces of a
    chain of ``n_beads`` (the order of ``geometry.ChainIC``); their units are :data:`UNITS`."""
    return ChainIC(n_beads).kinds


def project_labels(positions: torch.Tensor, forces: torch.Tensor, batch_size: int = 8192) -> tuple[torch.Tensor, torch.Tensor]:
    """The :func:`internal_projection` ``[n, 3N-6, 3N]`` of positions ``[n, N, 3]`` (nm) and the
    generalised forces ``[n, 3N-6]`` of force labels (kJ/mol/nm) there, in batches of frames.
    A training set's projection never changes, so a loss on generalised forces computes it once."""
    if positions.shape != forces.shape:
        raise ValueError(f"positions {tuple(positions.shape)} and forces {tuple(forces.shape)} differ in shape")
    projections, labels = [], []
    for start in range(0, len(positions), batch_size):
        projection = internal_projection(positions[start : start + batch_size])
        projections.append(projection)
        labels.append(generalised_forces(forces[start : start + batch_size], projection))
    return torch.cat(projections), torch.cat(labels)


def spread(labels: torch.Tensor) -> torch.Tensor:
    """Standard deviation ``[3N-6]`` of generalised forces ``[n, 3N-6]`` (kJ/mol/nm for bonds,
    kJ/mol/rad for angles and dihedrals): the natural unit of each coordinate's error. Refuses
    labels that do not vary in some coordinate."""
    scale = labels.double().std(0)
    if not torch.all(torch.isfinite(scale) & (scale > 0)):
        raise ValueError(f"the labels' generalised forces must vary in every coordinate, got spreads {scale.tolist()}")
    return scale.to(labels.dtype)


def label_scale(positions: torch.Tensor, forces: torch.Tensor) -> torch.Tensor:
    """:func:`spread` of the generalised forces of force labels (kJ/mol/nm) at positions (nm)."""
    return spread(project_labels(positions, forces)[1])
