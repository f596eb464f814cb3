"""The CG map of alanine dipeptide: beads, hydrogen groups, and the force-map identity."""

import dataclasses

import numpy as np
import pytest

from cgflow import cgmap

openmm = pytest.importorskip("openmm")
unit = pytest.importorskip("openmm.unit")
datagen = pytest.importorskip("cgflow.datagen")


@pytest.fixture(scope="module")
def generator():
    recipe = dataclasses.replace(
        datagen.ALA2, save_interval=0.02, chunk_length=200.0, allatom_interval=0.02, equilibration=10.0, exchange_temperatures=()
    )
    return datagen.RecipeRunner(recipe)


def test_beads_are_the_backbone_heavy_atoms(generator):
    atoms = list(generator.md_topology.atoms)
    names = [(atoms[i].residue.name, atoms[i].name) for i in generator.bead_atoms]
    assert names == [("ACE", "C"), ("ALA", "N"), ("ALA", "CA"), ("ALA", "C"), ("NME", "N")]


def test_groups_are_exactly_the_hydrogens_constrained_to_each_bead(generator):
    system = generator.system()
    constrained = {}
    for k in range(system.getNumConstraints()):
        a, b, _ = system.getConstraintParameters(k)
        constrained.setdefault(a, set()).add(b)
        constrained.setdefault(b, set()).add(a)
    groups = cgmap.bead_groups(generator.md_topology, generator.bead_atoms)
    for bead, group in zip(generator.bead_atoms, groups):
        assert group[0] == bead
        assert set(group[1:]) == constrained.get(bead, set())
    # C(ACE) and C carry no hydrogen; N, CA and N(NME) carry one each.
    assert [len(g) for g in groups] == [1, 2, 2, 1, 2]
    matrix = cgmap.force_map_matrix(generator.md_topology, generator.bead_atoms)
    assert matrix.sum() == 8 and set(np.unique(matrix)) == {0.0, 1.0}
    assert (matrix.sum(axis=0) <= 1).all()  # no atom counted twice


def test_aggregated_forces_obey_the_mean_force_identity_and_the_slice_does_not(generator):
    """200 ps of all-atom MD sampled every 20 fs: the residual of the mean-force identity
    along N-CA is zero within 3 block standard errors for the aggregated map, and more than
    3 errors away for the plain slice (which misses the N-H and CA-HA constraint forces;
    measured: about -69 +- 11 kJ/mol/nm)."""
    simulation = generator.simulation(seed=11)
    (start,) = generator.equilibrated_states(0)  # plain MD: a ladder of one
    simulation.context.setState(start)
    positions, forces = [], []
    for _ in range(10_000):
        simulation.step(10)
        state = simulation.context.getState(getPositions=True, getForces=True)
        positions.append(state.getPositions(asNumpy=True).value_in_unit(unit.nanometer))
        forces.append(state.getForces(asNumpy=True).value_in_unit(unit.kilojoule_per_mole / unit.nanometer))
    positions, forces = np.array(positions), np.array(forces)
    cg_positions = positions[:, generator.bead_atoms]
    aggregated = np.einsum("ba,fad->fbd", generator.force_map, forces)
    sliced = forces[:, generator.bead_atoms]
    mean, error = cgmap.bond_force_residual(cg_positions, aggregated, 1, 2, 300.0)
    assert abs(mean) < 3 * error, (mean, error)
    mean, error = cgmap.bond_force_residual(cg_positions, sliced, 1, 2, 300.0)
    assert abs(mean) > 3 * error, (mean, error)


def test_bad_bead_choices_are_rejected(generator):
    topology = generator.md_topology
    hydrogen = next(a.index for a in topology.atoms if a.element.symbol == "H")
    with pytest.raises(ValueError, match="hydrogen"):
        cgmap.bead_groups(topology, [hydrogen])
    with pytest.raises(ValueError, match="repeat"):
        cgmap.bead_groups(topology, [0, 0])
    with pytest.raises(ValueError, match="out of range"):
        cgmap.bead_groups(topology, [topology.n_atoms])


def test_cg_topology_bonds_consecutive_beads(generator):
    cg = cgmap.cg_topology(generator.md_topology, generator.bead_atoms)
    assert cg.n_atoms == 5
    assert sorted(tuple(sorted((a.index, b.index))) for a, b in cg.bonds) == [(0, 1), (1, 2), (2, 3), (3, 4)]
