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


def angles(positions, triples) -> torch.Tensor:
    """Bond angles in radians ``[..., n]`` at the middle bead of each triple ``[n, 3]``."""
    x = as_tensor(positions)
    index = _index(triples, 3, x.device)
    a = x[..., index[:, 0], :] - x[..., index[:, 1], :]
    b = x[..., index[:, 2], :] - x[..., index[:, 1], :]
    # atan2(|a x b|, a . b) is accurate near 0 and pi, unlike acos of the cosine.
    return torch.atan2(torch.linalg.vector_norm(torch.cross(a, b, dim=-1), dim=-1), (a * b).sum(-1))


def dihedrals(positions, quadruples) -> torch.Tensor:
    """Signed dihedral angles in radians in (-pi, pi] ``[..., n]`` of the quadruples ``[n, 4]``
    (IUPAC convention: 180 degrees for a trans, planar zig-zag)."""
    x = as_tensor(positions)
    index = _index(quadruples, 4, x.device)
    b0 = x[..., index[:, 1], :] - x[..., index[:, 0], :]
    b1 = x[..., index[:, 2], :] - x[..., index[:, 1], :]
    b2 = x[..., index[:, 3], :] - x[..., index[:, 2], :]
    n1 = torch.cross(b0, b1, dim=-1)
    n2 = torch.cross(b1, b2, dim=-1)
    m1 = torch.cross(b1 / torch.linalg.vector_norm(b1, dim=-1, keepdim=True), n1, dim=-1)
    return torch.atan2((m1 * n2).sum(-1), (n1 * n2).sum(-1))


def chain_indices(n_beads: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Consecutive pairs, triples and quadruples of a linear chain of ``n_beads``."""
    beads = np.arange(n_beads)
    return (
        np.stack([beads[:-1], beads[1:]], axis=1),
        np.stack([beads[:-2], beads[1:-1], beads[2:]], axis=1),
        np.stack([beads[:-3], beads[1:-2], beads[2:-1], beads[3:]], axis=1),
    )
