"""The coarse-graining map: which atoms become beads, and how forces are aggregated.

Positions use a *slice map*: bead ``i`` sits on atom ``bead_atoms[i]`` (C-alpha for
proteins; C(ACE), N, CA, C, N(NME) for alanine dipeptide).

Forces use the *aggregated force map*: the force on bead ``i`` is the sum of the forces on
its atom and on every hydrogen bonded to it. With ``constraints=HBonds`` those hydrogens
are rigidly attached to the bead atom, and the constraint force between the two is equal
and opposite, so it cancels in the sum. The plain slice (the bead atom alone) would miss
the constraint force, which OpenMM does not report, and give a biased mean force.
"""

from __future__ import annotations

import mdtraj
import numpy as np

from .units import kT


def bead_groups(topology: mdtraj.Topology, bead_atoms: list[int]) -> list[list[int]]:
    """Atom indices whose forces sum into each bead: the bead atom, then its bonded hydrogens.

    Raises ``ValueError`` if a bead index is out of range, repeated, or a hydrogen, or if
    the topology has no bonds (then constrained hydrogens cannot be found).
    """
    n_atoms = topology.n_atoms
    if len(set(bead_atoms)) != len(bead_atoms):
        raise ValueError(f"bead atom indices repeat: {bead_atoms}")
    if topology.n_bonds == 0:
        raise ValueError("the topology has no bonds; cannot find the hydrogens constrained to each bead")
    atoms = list(topology.atoms)
    for index in bead_atoms:
        if not 0 <= index < n_atoms:
            raise ValueError(f"bead atom index {index} out of range for {n_atoms} atoms")
        if _is_hydrogen(atoms[index]):
            raise ValueError(f"bead atom {atoms[index]} is a hydrogen; beads sit on heavy atoms")
    groups = [[index] for index in bead_atoms]
    position = {index: i for i, index in enumerate(bead_atoms)}
    for a, b in topology.bonds:
        for heavy, other in ((a, b), (b, a)):
            if heavy.index in position and _is_hydrogen(other):
                groups[position[heavy.index]].append(other.index)
    return groups


def force_map_matrix(topology: mdtraj.Topology, bead_atoms: list[int]) -> np.ndarray:
    """Aggregation matrix ``[beads, atoms]`` of zeros and ones: ``F_cg = M @ F_atoms``."""
    matrix = np.zeros((len(bead_atoms), topology.n_atoms), dtype=np.float32)
    for bead, group in enumerate(bead_groups(topology, bead_atoms)):
        matrix[bead, group] = 1.0
    return matrix


def cg_topology(topology: mdtraj.Topology, bead_atoms: list[int]) -> mdtraj.Topology:
    """The bead topology: the bead atoms with their names and residues, bonded along the chain."""
    cg = topology.subset(bead_atoms)
    atoms = list(cg.atoms)
    bonded = {tuple(sorted((a.index, b.index))) for a, b in cg.bonds}
    for a, b in zip(atoms[:-1], atoms[1:]):
        if (a.index, b.index) not in bonded:
            cg.add_bond(a, b)
    return cg


def _is_hydrogen(atom: mdtraj.core.topology.Atom) -> bool:
    return atom.element is not None and atom.element.symbol == "H"


def bond_force_residual(
    positions: np.ndarray, forces: np.ndarray, i: int, j: int, temperature: float, n_blocks: int = 50
) -> tuple[float, float]:
    """Check a force map on data: mean and block standard error of the residual
    ``(f_j - f_i) . u + 4 kT / r`` along the bead pair ``(i, j)``, in kJ/mol/nm.

    For CG forces whose conditional mean is the mean force ``kT grad ln p(R)`` the residual
    averages to zero: integrating by parts with the vector field ``grad r`` (``-u`` on bead i,
    ``u`` on bead j, ``u = (R_j - R_i) / r``) gives ``E[(f_j - f_i) . u] = -kT E[div grad r]
    = -4 kT E[1/r]``. A force map that misses constraint forces (the plain slice) violates it.
    positions in nm ``[frames, beads, 3]``, forces in kJ/mol/nm, temperature in K.
    """
    if positions.shape != forces.shape:
        raise ValueError(f"positions {positions.shape} and forces {forces.shape} differ in shape")
    vector = positions[:, j] - positions[:, i]
    distance = np.linalg.norm(vector, axis=1)
    projected = np.einsum("fd,fd->f", forces[:, j] - forces[:, i], vector / distance[:, None])
    residual = projected + 4.0 * kT(temperature) / distance
    blocks = np.array([block.mean() for block in np.array_split(residual, n_blocks)])
    return float(blocks.mean()), float(blocks.std(ddof=1) / np.sqrt(n_blocks))
