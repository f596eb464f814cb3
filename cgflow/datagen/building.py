"""Building the all-atom structures of the recipes from nothing (no file is downloaded).

Units: nm (OpenMM positions); the Z-matrix below is in angstrom and degrees.
"""

from __future__ import annotations

import contextlib
import io
import random

import mdtraj
import numpy as np
import openmm
import openmm.app as app
import openmm.unit as unit
import torch

from ..geometry import place
from .recipes import Recipe


def build_alanine_dipeptide(forcefield: app.ForceField) -> tuple[app.Topology, unit.Quantity]:
    """ACE-ALA-NME built from a Z-matrix of standard peptide geometry (bonds in angstrom).

    The heavy atoms start in the C7eq basin (phi = -80, psi = 75 degrees) with trans peptide
    bonds and L-chirality (improper N-C-CA-CB = +122.5 degrees); OpenMM adds the hydrogens.
    """
    x = {"CH3": np.zeros(3), "C0": np.array([1.52, 0.0, 0.0])}
    x["N"] = x["C0"] + 1.335 * np.array([np.cos(np.radians(63.8)), np.sin(np.radians(63.8)), 0.0])
    x = {key: torch.tensor(value) for key, value in x.items()}
    for key, (a, b, c, bond, angle, torsion) in {
        "CA": ("CH3", "C0", "N", 1.458, 121.7, 180.0),
        "C": ("C0", "N", "CA", 1.525, 111.2, -80.0),
        "N2": ("N", "CA", "C", 1.335, 116.2, 75.0),
        "C2": ("CA", "C", "N2", 1.449, 121.7, 180.0),
        "O0": ("CA", "N", "C0", 1.229, 122.7, 0.0),
        "O": ("C2", "N2", "C", 1.229, 122.7, 0.0),
        "CB": ("N", "C", "CA", 1.530, 110.5, 122.5),
    }.items():
        values = torch.tensor([bond, np.radians(angle), np.radians(torsion)], dtype=torch.float64)
        x[key] = place(x[a], x[b], x[c], *values)
    residues = [
        ("ACE", [("CH3", "CH3"), ("C", "C0"), ("O", "O0")]),
        ("ALA", [("N", "N"), ("CA", "CA"), ("C", "C"), ("O", "O"), ("CB", "CB")]),
        ("NME", [("N", "N2"), ("C", "C2")]),
    ]
    topology = app.Topology()
    chain = topology.addChain()
    positions = []
    for residue_name, atoms in residues:
        residue = topology.addResidue(residue_name, chain)
        for atom_name, key in atoms:
            topology.addAtom(atom_name, app.Element.getBySymbol(atom_name[0]), residue)
            positions.append(openmm.Vec3(*(x[key].numpy() / 10.0)))
    topology.createStandardBonds()
    modeller = app.Modeller(topology, unit.Quantity(positions, unit.nanometer))
    with _seeded_random():
        modeller.addHydrogens(forcefield, platform=openmm.Platform.getPlatformByName("Reference"))
    return modeller.topology, modeller.positions


@contextlib.contextmanager
def _seeded_random(seed: int = 0):
    """OpenMM's Modeller and PDBFixer start added atoms at positions from Python's global
    ``random``: seed it (and restore it afterwards) so that a built structure is the same on
    every run."""
    state = random.getstate()
    random.seed(seed)
    try:
        yield
    finally:
        random.setstate(state)


#: CLN025 (Honda et al. 2008) and backbone angles (degrees) of a beta hairpin to build it in:
#: strands Y1-D3 and T8-Y10, turn P4-G7 (G7 in the left-handed region).
CLN025_SEQUENCE = "YYDPETGTWY"
CLN025_PHI_PSI = [(-120, 130), (-120, 130), (-120, 130), (-60, -30), (-90, 0), (-90, 0), (90, 0), (-120, 130), (-120, 130), (-120, 130)]


def build_cln025(forcefield: app.ForceField) -> tuple[app.Topology, unit.Quantity]:
    """CLN025 from its sequence: PeptideBuilder backbone and side chains in hairpin angles,
    PDBFixer for the C-terminal oxygen and the hydrogens at pH 7 (166 atoms, charge -2)."""
    import pdbfixer
    from Bio.PDB import PDBIO
    from PeptideBuilder import make_structure

    phi = [angles[0] for angles in CLN025_PHI_PSI[1:]]
    psi_previous = [angles[1] for angles in CLN025_PHI_PSI[:-1]]
    structure = make_structure(CLN025_SEQUENCE, phi, psi_previous)
    writer, text = PDBIO(), io.StringIO()
    writer.set_structure(structure)
    writer.save(text)
    with _seeded_random():
        fixer = pdbfixer.PDBFixer(pdbfile=io.StringIO(text.getvalue()), platform=openmm.Platform.getPlatformByName("Reference"))
        fixer.findMissingResidues()
        fixer.findMissingAtoms()
        fixer.addMissingAtoms()
        modeller = app.Modeller(fixer.topology, fixer.positions)
        modeller.addHydrogens(forcefield, pH=7.0, platform=openmm.Platform.getPlatformByName("Reference"))
    return modeller.topology, modeller.positions


def bead_atoms(recipe: Recipe, topology: mdtraj.Topology) -> list[int]:
    """Atom indices of the beads selected by ``recipe.bead_selection``, in chain order."""
    indices = topology.select(recipe.bead_selection).tolist()
    if len(indices) < 2:
        raise ValueError(f"{recipe.name}: the bead selection {recipe.bead_selection!r} picks {len(indices)} atoms")
    return indices


BUILDERS = {"ala2": build_alanine_dipeptide, "cln025": build_cln025}
