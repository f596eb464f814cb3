"""Differentiable geometry of bead chains in torch: distances, angles, dihedrals.

All functions take positions ``[..., beads, 3]`` in nm (torch tensors, or arrays that are
converted) and index arrays of bead pairs, triples or quadruples; they return distances in nm
and angles in radians with the leading batch shape. Every operation is smooth away from the
degenerate configurations (coincident beads, collinear triples), so forces by autograd are
well defined.
"""

from __future__ import annotations

import numpy as np
import torch


def as_tensor(positions, dtype: torch.dtype | None = None) -> torch.Tensor:
    """``positions`` as a torch tensor (numpy arrays become float tensors without copying)."""
    tensor = torch.as_tensor(positions)
    if dtype is not None:
        tensor = tensor.to(dtype)
    if tensor.shape[-1] != 3:
        raise ValueError(f"positions must end in a dimension of 3 (x, y, z), got shape {tuple(tensor.shape)}")
    return tensor


def energy_and_forces(energy_of, x: torch.Tensor, create_graph: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """Energies ``[n]`` (kJ/mol) of ``energy_of(x)`` and forces ``-dU/dx`` (kJ/mol/nm, shaped
    like ``x``) by autograd. ``create_graph`` keeps both differentiable (for force matching);
    otherwise they come back detached and ``x`` (nm) is never modified."""
    with torch.enable_grad():
        x = x if (create_graph and x.requires_grad) else x.detach().requires_grad_(True)
        energy = energy_of(x)
        (gradient,) = torch.autograd.grad(energy.sum(), x, create_graph=create_graph)
    return (energy if create_graph else energy.detach()), -gradient


def _index(indices, width: int, device: torch.device) -> torch.Tensor:
    """Index tensor ``[n, width]`` on ``device``; model buffers pass through without a copy."""
    if isinstance(indices, torch.Tensor):
        index = indices.to(device=device, dtype=torch.long)
    else:
        index = torch.as_tensor(np.asarray(indices, dtype=np.int64), device=device)
    if index.ndim != 2 or index.shape[1] != width:
        raise ValueError(f"expected an index array of shape [n, {width}], got {tuple(index.shape)}")
    return index


def distances(positions, pairs) -> torch.Tensor:
    """Distances in nm ``[..., n_pairs]`` between the bead pairs ``[n_pairs, 2]``."""
    x = as_tensor(positions)
    index = _index(pairs, 2, x.device)
    return torch.linalg.vector_norm(x[..., index[:, 1], :] - x[..., index[:, 0], :], dim=-1)


def angle_between(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Angle in radians ``[...]`` between the vectors ``a`` and ``b`` ``[..., 3]``."""
    # atan2(|a x b|, a . b) is accurate near 0 and pi, unlike acos of the cosine.
    return torch.atan2(torch.linalg.vector_norm(torch.cross(a, b, dim=-1), dim=-1), (a * b).sum(-1))


def dihedral_of_bonds(b0: torch.Tensor, b1: torch.Tensor, b2: torch.Tensor) -> torch.Tensor:
    """Signed dihedral angle in radians in (-pi, pi] ``[...]`` of three consecutive bond vectors
    ``[..., 3]`` (b0 = x1 - x0, b1 = x2 - x1, b2 = x3 - x2; IUPAC convention: 180 degrees for a
    trans, planar zig-zag)."""
    # atan2(|b1| b0 . n2, n1 . n2) with the normals n1 = b0 x b1, n2 = b1 x b2 (Blondel and
    # Karplus, J. Comput. Chem. 1996, 17, 1132): two cross products, no division.
    n1 = torch.cross(b0, b1, dim=-1)
    n2 = torch.cross(b1, b2, dim=-1)
    return torch.atan2(torch.linalg.vector_norm(b1, dim=-1) * (b0 * n2).sum(-1), (n1 * n2).sum(-1))


def angles(positions, triples) -> torch.Tensor:
    """Bond angles in radians ``[..., n]`` at the middle bead of each triple ``[n, 3]``."""
    x = as_tensor(positions)
    index = _index(triples, 3, x.device)
    return angle_between(x[..., index[:, 0], :] - x[..., index[:, 1], :], x[..., index[:, 2], :] - x[..., index[:, 1], :])


def dihedrals(positions, quadruples) -> torch.Tensor:
    """Signed dihedral angles in radians in (-pi, pi] ``[..., n]`` of the quadruples ``[n, 4]``
    (IUPAC convention: 180 degrees for a trans, planar zig-zag)."""
    x = as_tensor(positions)
    index = _index(quadruples, 4, x.device)
    b0 = x[..., index[:, 1], :] - x[..., index[:, 0], :]
    b1 = x[..., index[:, 2], :] - x[..., index[:, 1], :]
    b2 = x[..., index[:, 3], :] - x[..., index[:, 2], :]
    return dihedral_of_bonds(b0, b1, b2)


def chain_indices(n_beads: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Consecutive pairs, triples and quadruples of a linear chain of ``n_beads``."""
    beads = np.arange(n_beads)
    return (
        np.stack([beads[:-1], beads[1:]], axis=1),
        np.stack([beads[:-2], beads[1:-1], beads[2:]], axis=1),
        np.stack([beads[:-3], beads[1:-2], beads[2:-1], beads[3:]], axis=1),
    )


def place(a: torch.Tensor, b: torch.Tensor, c: torch.Tensor, bond, angle, torsion) -> torch.Tensor:
    """Position of bead d with ``|cd| = bond`` (nm), ``angle(b, c, d)`` and ``torsion(a, b, c, d)``
    (rad), from the three previous beads ``a, b, c`` ``[..., 3]`` (natural extension reference frame)."""
    bc = c - b
    bc = bc / torch.linalg.vector_norm(bc, dim=-1, keepdim=True)
    normal = torch.cross(b - a, bc, dim=-1)
    normal = normal / torch.linalg.vector_norm(normal, dim=-1, keepdim=True)
    in_plane = torch.cross(normal, bc, dim=-1)
    bond, angle, torsion = bond[..., None], angle[..., None], torsion[..., None]
    return c + bond * (
        -torch.cos(angle) * bc + torch.sin(angle) * torch.cos(torsion) * in_plane + torch.sin(angle) * torch.sin(torsion) * normal
    )


class ChainIC:
    """Bijection between Cartesian coordinates of a bead chain ``[..., N, 3]`` (nm) and its
    internal coordinates ``[..., 3N - 6]`` (N-1 bonds in nm, N-2 angles and N-3 torsions in
    rad, in that order) plus 6 rigid-body coordinates (position of bead 0 in nm; polar and
    azimuthal angle of bond 0; rotation of bead 2 about bond 0, in rad).

    The volume element is ``dx = J dIC dRigid`` with
    ``J = prod_i r_i^2 * prod_i sin(theta_i) * sin(polar)``: each bead is placed in spherical
    coordinates around the previous one. The rigid part ``sin(polar) dpolar dazimuth drotation``
    is the uniform measure over orientations, so a density ``p(IC)`` over internal
    coordinates corresponds to the density over Cartesian coordinates
    ``p(x) = p(IC(x)) / (prod r_i^2 prod sin(theta_i))`` up to the constant volume of
    translations and rotations (eq. 5-6 of the flow-matching paper). ``log_jacobian`` returns
    ``log(prod r_i^2 prod sin(theta_i))``, the term a Cartesian energy must include.
    """

    def __init__(self, n_beads: int):
        if n_beads < 4:
            raise ValueError(f"a chain needs at least 4 beads for a torsion, got {n_beads}")
        self.n_beads = n_beads
        self.bonds, self.angles, self.torsions = chain_indices(n_beads)

    @property
    def dim(self) -> int:
        """Number of internal coordinates, 3N - 6."""
        return 3 * self.n_beads - 6

    @property
    def kinds(self) -> dict[str, slice]:
        """Columns of the bonds (N-1), angles (N-2) and dihedrals (N-3) in an IC tensor."""
        n = self.n_beads
        return {"bonds": slice(0, n - 1), "angles": slice(n - 1, 2 * n - 3), "dihedrals": slice(2 * n - 3, 3 * n - 6)}

    def split(self, ic: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Bonds, angles and torsions of an IC tensor ``[..., 3N - 6]``."""
        return tuple(ic[..., columns] for columns in self.kinds.values())

    def log_jacobian(self, ic: torch.Tensor) -> torch.Tensor:
        """``log(prod r_i^2 prod sin(theta_i))`` ``[...]`` of internal coordinates."""
        bonds, angles_, _ = self.split(ic)
        return 2.0 * torch.log(bonds).sum(-1) + torch.log(torch.sin(angles_)).sum(-1)

    def forward(self, x) -> tuple[torch.Tensor, torch.Tensor]:
        """Internal coordinates ``[..., 3N - 6]`` and rigid-body coordinates ``[..., 6]`` of ``x``."""
        x = as_tensor(x)
        if x.shape[-2] != self.n_beads:
            raise ValueError(f"expected {self.n_beads} beads, got shape {tuple(x.shape)}")
        ic = torch.cat([distances(x, self.bonds), angles(x, self.angles), dihedrals(x, self.torsions)], dim=-1)
        first = x[..., 1, :] - x[..., 0, :]
        polar = torch.atan2(torch.linalg.vector_norm(first[..., :2], dim=-1), first[..., 2])
        azimuth = torch.atan2(first[..., 1], first[..., 0])
        # Rotation of bead 2 about bond 0, measured from a reference direction fixed by bond 0 alone.
        reference = self._reference_point(x[..., 0, :], x[..., 1, :], polar, azimuth)
        rotation = dihedrals(torch.stack([reference, x[..., 0, :], x[..., 1, :], x[..., 2, :]], dim=-2), [[0, 1, 2, 3]])[..., 0]
        rigid = torch.cat([x[..., 0, :], polar[..., None], azimuth[..., None], rotation[..., None]], dim=-1)
        return ic, rigid

    @staticmethod
    def _reference_point(x0, x1, polar, azimuth):
        """A point off the bond-0 axis that turns with the bond: x0 + the polar unit vector."""
        e_polar = torch.stack([torch.cos(polar) * torch.cos(azimuth), torch.cos(polar) * torch.sin(azimuth), -torch.sin(polar)], dim=-1)
        return x0 + e_polar

    def inverse(self, ic: torch.Tensor, rigid: torch.Tensor | None = None) -> torch.Tensor:
        """Cartesian coordinates ``[..., N, 3]`` (nm) from internal and rigid-body coordinates;
        ``rigid=None`` puts bead 0 at the origin, bond 0 along z and bead 2 in the xz plane."""
        ic = torch.as_tensor(ic)
        if ic.shape[-1] != self.dim:
            raise ValueError(f"expected {self.dim} internal coordinates, got shape {tuple(ic.shape)}")
        if rigid is None:
            rigid = torch.zeros(*ic.shape[:-1], 6, dtype=ic.dtype, device=ic.device)
        bonds, angles_, torsions = self.split(ic)
        x0 = rigid[..., :3]
        polar, azimuth, rotation = rigid[..., 3], rigid[..., 4], rigid[..., 5]
        direction = torch.stack([torch.sin(polar) * torch.cos(azimuth), torch.sin(polar) * torch.sin(azimuth), torch.cos(polar)], dim=-1)
        x1 = x0 + bonds[..., :1] * direction
        reference = self._reference_point(x0, x1, polar, azimuth)
        beads = [x0, x1, place(reference, x0, x1, bonds[..., 1], angles_[..., 0], rotation)]
        for i in range(3, self.n_beads):
            beads.append(place(beads[i - 3], beads[i - 2], beads[i - 1], bonds[..., i - 1], angles_[..., i - 2], torsions[..., i - 3]))
        return torch.stack(beads, dim=-2)
