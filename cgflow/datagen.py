"""OpenMM recipes that produced the reference data in ``data/``.

Run ``python -m cgflow.datagen ala2`` (or ``make data``) to regenerate a dataset from
nothing. Generation is resumable: every trajectory runs in chunks, each chunk is written
atomically to a work folder together with the OpenMM state it ended in, and a later run
continues after the last complete chunk. When all chunks exist the chunks are assembled
into the files in ``data/`` and ``data/MANIFEST.json`` records their checksums and
provenance.

A recipe with ``exchange_temperatures`` runs every trajectory as temperature replica exchange
(``cgflow.replica_exchange``): one replica at the recipe's temperature, whose frames are
saved, and one at each higher temperature, which carry it over barriers. The saved frames are
then equilibrium samples at the recipe's temperature but not a continuous dynamics.

Units: nm, ps, amu, kJ/mol, K (OpenMM's).
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import io
import json
import multiprocessing
import os
import random
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import mdtraj
import numpy as np
import torch

from . import __version__
from .cgmap import cg_topology, force_map_matrix
from .geometry import place
from .manifest import update_manifest
from .units import ns_per_day

try:
    import openmm
    import openmm.app as app
    import openmm.unit as unit
except ImportError as error:  # pragma: no cover - exercised only without the [data] extra
    raise ImportError("cgflow.datagen needs OpenMM: pip install 'cgflow[data]'") from error

from .replica_exchange import ReplicaExchange, round_trips  # noqa: E402  (needs OpenMM)


@dataclass(frozen=True)
class Recipe:
    """How one dataset is simulated and saved. Times in ps, temperature in K, masses in amu."""

    name: str
    description: str
    forcefield: tuple[str, ...]
    solvent: str
    bead_selection: str  # mdtraj selection of the bead atoms; beads follow atom order along the chain
    temperature: float = 300.0
    friction: float = 1.0  # 1/ps
    timestep: float = 0.002
    hydrogen_mass: float | None = None
    platform: str = "Reference"
    n_trajectories: int = 4
    trajectory_length: float = 100_000.0
    chunk_length: float = 5_000.0
    save_interval: float = 2.0
    allatom_interval: float = 50.0
    equilibration: float = 100.0
    seed: int = 2023
    exchange_temperatures: tuple[float, ...] = ()  # K, above `temperature`; () = plain MD
    exchange_interval: float = 0.5  # ps between exchange attempts

    @property
    def temperatures(self) -> tuple[float, ...]:
        """The temperature ladder in K; the first rung is the one whose frames are saved."""
        return (self.temperature, *self.exchange_temperatures)

    @property
    def steps_per_exchange(self) -> int:
        """Integrator steps between exchange attempts (between saves for plain MD)."""
        if not self.exchange_temperatures:
            return self.steps_per_save
        return _whole(self.exchange_interval / self.timestep, "exchange interval / time step")

    @property
    def exchanges_per_save(self) -> int:
        return _whole(self.steps_per_save / self.steps_per_exchange, "save interval / exchange interval")

    @property
    def steps_per_save(self) -> int:
        return _whole(self.save_interval / self.timestep, "save interval / time step")

    @property
    def frames_per_chunk(self) -> int:
        return _whole(self.chunk_length / self.save_interval, "chunk length / save interval")

    @property
    def chunks_per_trajectory(self) -> int:
        return _whole(self.trajectory_length / self.chunk_length, "trajectory length / chunk length")

    @property
    def allatom_stride(self) -> int:
        return _whole(self.allatom_interval / self.save_interval, "all-atom interval / save interval")


def _whole(ratio: float, what: str) -> int:
    rounded = round(ratio)
    if rounded < 1 or abs(ratio - rounded) > 1e-6:
        raise ValueError(f"{what} must be a positive whole number, got {ratio}")
    return rounded


#: AMBER ff99SB-ILDN with OpenMM's native OBC implicit solvent (the fast ``GBSAOBCForce``).
AMBER_OBC = ("amber99sbildn.xml", "amber99_obc.xml")
OBC_SOLVENT = "OBC generalized Born (amber99_obc.xml, OpenMM GBSAOBCForce), no cutoff"

#: Alanine dipeptide at 300 K by replica exchange over a geometric ladder to 550 K (about 45%
#: of the exchanges accepted; hot enough that the alpha_L basin, visited a few times per
#: 100 ns of plain MD at 300 K, is crossed about twice per ns, and cool enough that no peptide
#: bond flips to cis). Four independent ladders of 25 ns per replica, frames every ps.
ALA2 = Recipe(
    name="ala2",
    description="Capped alanine dipeptide (ACE-ALA-NME), AMBER ff99SB-ILDN, OBC implicit solvent, 300 K",
    forcefield=AMBER_OBC,
    solvent=OBC_SOLVENT,
    bead_selection="(resname ACE and name C) or (resname ALA and name N CA C) or (resname NME and name N)",
    trajectory_length=25_000.0,
    chunk_length=2_500.0,
    save_interval=1.0,
    allatom_interval=10.0,
    exchange_temperatures=(367.2, 449.4, 550.0),
)

#: The chignolin variant CLN025 at 340 K, the temperature of the reference simulations of
#: Lindorff-Larsen et al. 2011; HMR (hydrogens 3 amu) allows 4 fs steps on the CPU platform.
#: The equilibrium ensemble it must reach is the subject of its own issue.
CLN025 = Recipe(
    name="cln025",
    description="CLN025 (YYDPETGTWY), AMBER ff99SB-ILDN, OBC implicit solvent, 340 K",
    forcefield=AMBER_OBC,
    solvent=OBC_SOLVENT,
    bead_selection="name CA",
    temperature=340.0,
    timestep=0.004,
    hydrogen_mass=3.0,
    platform="CPU",
)

RECIPES = {recipe.name: recipe for recipe in (ALA2, CLN025)}


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
    import io

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


class Generator:
    """Builds the system of a recipe and runs its trajectories chunk by chunk."""

    def __init__(self, recipe: Recipe):
        self.recipe = recipe
        self.forcefield = app.ForceField(*recipe.forcefield)
        self.topology, self.initial_positions = BUILDERS[recipe.name](self.forcefield)
        self.md_topology = mdtraj.Topology.from_openmm(self.topology)
        self.bead_atoms = bead_atoms(recipe, self.md_topology)
        self.force_map = force_map_matrix(self.md_topology, self.bead_atoms)

    def system(self) -> openmm.System:
        extra = {} if self.recipe.hydrogen_mass is None else {"hydrogenMass": self.recipe.hydrogen_mass * unit.amu}
        return self.forcefield.createSystem(
            self.topology, nonbondedMethod=app.NoCutoff, constraints=app.HBonds, **extra
        )

    def simulation(self, seed: int, temperature: float | None = None) -> app.Simulation:
        """A simulation of the recipe's system at ``temperature`` (K; default the recipe's)."""
        recipe = self.recipe
        integrator = openmm.LangevinMiddleIntegrator(
            (temperature or recipe.temperature) * unit.kelvin, recipe.friction / unit.picosecond, recipe.timestep * unit.picosecond
        )
        integrator.setRandomNumberSeed(seed)
        platform = openmm.Platform.getPlatformByName(recipe.platform)
        properties = {"Threads": str(min(2, os.cpu_count() or 1))} if recipe.platform == "CPU" else {}
        return app.Simulation(self.topology, self.system(), integrator, platform, properties)

    def _thermalised(self, seed: int, velocity_seed: int, temperature: float | None = None) -> app.Simulation:
        """A simulation at the minimised structure with Maxwell-Boltzmann velocities."""
        simulation = self.simulation(seed, temperature)
        simulation.context.setPositions(self.initial_positions)
        simulation.minimizeEnergy()
        simulation.context.setVelocitiesToTemperature((temperature or self.recipe.temperature) * unit.kelvin, velocity_seed)
        return simulation

    def equilibrated_states(self, trajectory: int) -> list[openmm.State]:
        """One state per rung of the ladder: the minimised structure, Maxwell-Boltzmann
        velocities and ``recipe.equilibration`` ps of MD at the rung's temperature."""
        recipe = self.recipe
        states = []
        for rung, temperature in enumerate(recipe.temperatures):
            seeds = _seed(recipe, trajectory, -1, rung), _seed(recipe, trajectory, -2, rung)
            simulation = self._thermalised(*seeds, temperature)
            simulation.step(_whole(recipe.equilibration / recipe.timestep, "equilibration / time step"))
            states.append(simulation.context.getState(getPositions=True, getVelocities=True))
        return states

    def speed(self, picoseconds: float = 20.0) -> float:
        """Measured speed of this recipe in ns/day (one process), from the minimised structure."""
        simulation = self._thermalised(seed=1, velocity_seed=1)
        simulation.step(100)
        steps = _whole(picoseconds / self.recipe.timestep, "picoseconds / time step")
        start = time.perf_counter()
        simulation.step(steps)
        return ns_per_day(picoseconds, time.perf_counter() - start)

    def run_chunk(self, starts: list[openmm.State], walkers: np.ndarray, trajectory: int, chunk: int) -> dict[str, np.ndarray]:
        """One chunk from the states ``starts`` (one per rung) with ``walkers`` (walker index
        per rung): CG positions (nm), aggregated CG forces (kJ/mol/nm), potential energies
        (kJ/mol) and all-atom positions (nm) of the first rung; the final states as XML, the
        walkers per rung at every saved frame, and exchange attempts and acceptances."""
        recipe = self.recipe
        contexts = []
        for rung, (temperature, start) in enumerate(zip(recipe.temperatures, starts)):
            simulation = self.simulation(_seed(recipe, trajectory, chunk, rung), temperature)
            simulation.context.setState(start)
            contexts.append(simulation.context)
        ladder = ReplicaExchange(contexts, recipe.temperatures, np.random.default_rng([recipe.seed, trajectory, chunk]), walkers)
        n = recipe.frames_per_chunk
        positions = np.empty((n, self.md_topology.n_atoms, 3), dtype=np.float32)
        forces = np.empty_like(positions)
        energies = np.empty(n, dtype=np.float64)
        occupancy = np.empty((n, len(contexts)), dtype=np.int16)
        for frame in range(n):
            for exchange in range(recipe.exchanges_per_save):
                ladder.step(recipe.steps_per_exchange)
                ladder.attempt(parity=frame * recipe.exchanges_per_save + exchange)
            occupancy[frame] = ladder.walkers
            state = contexts[0].getState(getPositions=True, getForces=True, getEnergy=True)
            positions[frame] = state.getPositions(asNumpy=True).value_in_unit(unit.nanometer)
            forces[frame] = state.getForces(asNumpy=True).value_in_unit(unit.kilojoule_per_mole / unit.nanometer)
            energies[frame] = state.getPotentialEnergy().value_in_unit(unit.kilojoule_per_mole)
        if not (np.isfinite(positions).all() and np.isfinite(forces).all()):
            raise FloatingPointError(f"{recipe.name}: trajectory {trajectory} chunk {chunk} produced non-finite values")
        finals = [c.getState(getPositions=True, getVelocities=True) for c in contexts]
        return {
            "positions": positions[:, self.bead_atoms],
            "forces": np.einsum("ba,fad->fbd", self.force_map, forces).astype(np.float32),
            "potential_energy": energies,
            "allatom_positions": positions[:: recipe.allatom_stride],
            "states": np.array([openmm.XmlSerializer.serialize(s) for s in finals]),
            "walkers": occupancy,
            "exchange_attempts": ladder.attempts,
            "exchange_accepted": ladder.accepted,
        }


def _seed(recipe: Recipe, trajectory: int, chunk: int, rung: int = 0) -> int:
    """Distinct, reproducible integrator seeds per trajectory, chunk and rung (OpenMM needs
    positive 32-bit seeds)."""
    return recipe.seed * 100_003 + trajectory * 1_009 + chunk + 3 + rung * 10_000_019


def chunk_path(workdir: Path, trajectory: int, chunk: int) -> Path:
    return workdir / f"traj{trajectory:02d}" / f"chunk{chunk:04d}.npz"


def completed_chunks(recipe: Recipe, workdir: Path, trajectory: int) -> int:
    """Number of consecutive complete chunks of a trajectory; partial files never count."""
    count = 0
    while count < recipe.chunks_per_trajectory and chunk_path(workdir, trajectory, count).exists():
        count += 1
    return count


def _write_atomically(path: Path, arrays: dict[str, np.ndarray]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    with open(partial, "wb") as handle:
        np.savez(handle, **arrays)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(partial, path)


def run_trajectory(recipe: Recipe, workdir: Path, trajectory: int) -> float:
    """Run (or continue) one trajectory to its full length; returns the speed in ns/day."""
    generator = Generator(recipe)
    done = completed_chunks(recipe, workdir, trajectory)
    if done == recipe.chunks_per_trajectory:
        return float("nan")
    if done == 0:
        states, walkers = generator.equilibrated_states(trajectory), np.arange(len(recipe.temperatures))
    else:
        with np.load(chunk_path(workdir, trajectory, done - 1)) as previous:
            states, walkers = _final_states(previous), previous["walkers"][-1]
    speeds = []
    for chunk in range(done, recipe.chunks_per_trajectory):
        start = time.perf_counter()
        arrays = generator.run_chunk(states, walkers, trajectory, chunk)
        elapsed = time.perf_counter() - start
        _write_atomically(chunk_path(workdir, trajectory, chunk), arrays)
        states, walkers = _final_states(arrays), arrays["walkers"][-1]
        # simulated time of every replica together, per wall-clock day
        speeds.append(ns_per_day(recipe.chunk_length * len(recipe.temperatures), elapsed))
        print(
            f"[{recipe.name}] trajectory {trajectory} chunk {chunk + 1}/{recipe.chunks_per_trajectory}"
            f" done at {speeds[-1]:.0f} ns/day",
            flush=True,
        )
    return float(np.mean(speeds))


def _final_states(arrays) -> list[openmm.State]:
    return [openmm.XmlSerializer.deserialize(str(xml)) for xml in arrays["states"]]


def assemble(recipe: Recipe, workdir: Path, data_dir: Path, generation: dict) -> list[Path]:
    """Concatenate complete chunks into the dataset files and record them in the manifest."""
    missing = [
        (t, completed_chunks(recipe, workdir, t))
        for t in range(recipe.n_trajectories)
        if completed_chunks(recipe, workdir, t) < recipe.chunks_per_trajectory
    ]
    if missing:
        raise RuntimeError(f"{recipe.name}: incomplete trajectories (index, chunks done): {missing}; run again to resume")
    generator = Generator(recipe)
    out = data_dir / recipe.name
    out.mkdir(parents=True, exist_ok=True)
    per_trajectory = []
    for t in range(recipe.n_trajectories):
        chunks = [np.load(chunk_path(workdir, t, c)) for c in range(recipe.chunks_per_trajectory)]
        arrays = {key: np.concatenate([c[key] for c in chunks]) for key in ("positions", "forces", "allatom_positions", "walkers")}
        arrays.update({key: np.stack([c[key] for c in chunks]) for key in ("exchange_attempts", "exchange_accepted")})
        per_trajectory.append(arrays)
    lengths = np.array([len(p["positions"]) for p in per_trajectory], dtype=np.int64)
    cg_file = out / f"{recipe.name}_cg.npz"
    buffer = io.BytesIO()
    np.savez_compressed(
        buffer,
        positions=np.concatenate([p["positions"] for p in per_trajectory]),
        forces=np.concatenate([p["forces"] for p in per_trajectory]),
        trajectory_lengths=lengths,
        temperature=np.array(recipe.temperature),
        time_step=np.array(recipe.save_interval),
        units=np.array(json.dumps({"positions": "nm", "forces": "kJ/mol/nm", "temperature": "K", "time_step": "ps"})),
    )
    cg_file.write_bytes(buffer.getvalue())
    cg_pdb = out / f"{recipe.name}_cg.pdb"
    first = per_trajectory[0]
    mdtraj.Trajectory(first["positions"][:1], cg_topology(generator.md_topology, generator.bead_atoms)).save_pdb(str(cg_pdb))
    aa_pdb = out / f"{recipe.name}_allatom.pdb"
    aa_dcd = out / f"{recipe.name}_allatom.dcd"
    allatom = mdtraj.Trajectory(first["allatom_positions"], generator.md_topology)
    allatom[0].save_pdb(str(aa_pdb))
    allatom.save_dcd(str(aa_dcd))
    files = [cg_file, cg_pdb, aa_pdb, aa_dcd]
    provenance = {
        "description": recipe.description,
        "recipe": dataclasses.asdict(recipe),
        "force_field": list(recipe.forcefield),
        "solvent": recipe.solvent,
        "temperature_K": recipe.temperature,
        "integrator": f"LangevinMiddleIntegrator, friction {recipe.friction} 1/ps",
        "constraints": "HBonds",
        "time_step_ps": recipe.timestep,
        "stride_ps": recipe.save_interval,
        "frames": int(lengths.sum()),
        "trajectory_lengths": lengths.tolist(),
        "allatom_frames": len(first["allatom_positions"]),
        "allatom_stride_ps": recipe.allatom_interval,
        "total_simulated_ns": recipe.n_trajectories * recipe.trajectory_length * len(recipe.temperatures) / 1000.0,
        "sampling": _sampling(recipe, per_trajectory),
        "cg_map": f"slice map on the atoms selected by {recipe.bead_selection!r}",
        "force_map": "aggregated: bead atom + the hydrogens bonded (HBonds-constrained) to it",
        "generator": f"python -m cgflow.datagen {recipe.name}",
        "cgflow_version": __version__,
        "openmm_version": openmm.version.version,
        "openmm_platform": recipe.platform,
        **generation,
    }
    update_manifest(data_dir, recipe.name, files, provenance)
    return files


def _sampling(recipe: Recipe, per_trajectory: list[dict[str, np.ndarray]]) -> dict:
    """How the saved frames were sampled: plain MD, or replica exchange with its ladder,
    acceptance per neighbour pair and round trips per trajectory."""
    if not recipe.exchange_temperatures:
        return {"method": "molecular dynamics at the recipe's temperature"}
    attempts = sum(p["exchange_attempts"].sum(0) for p in per_trajectory)
    accepted = sum(p["exchange_accepted"].sum(0) for p in per_trajectory)
    return {
        "method": "temperature replica exchange; frames of the lowest rung are saved",
        "temperatures_K": list(recipe.temperatures),
        "exchange_interval_ps": recipe.exchange_interval,
        "acceptance_per_pair": np.round(accepted / np.maximum(attempts, 1), 4).tolist(),
        "round_trips_per_trajectory": [round_trips(p["walkers"]) for p in per_trajectory],
        "ns_per_replica": recipe.trajectory_length / 1000.0,
    }


def generate(recipe: Recipe, workdir: Path, data_dir: Path, processes: int) -> list[Path]:
    """Run all trajectories (resuming), ``processes`` at a time, then assemble the dataset."""
    start = time.perf_counter()
    jobs = [(recipe, workdir, t) for t in range(recipe.n_trajectories)]
    if processes > 1:
        with multiprocessing.get_context("spawn").Pool(processes) as pool:
            speeds = pool.starmap(run_trajectory, jobs)
    else:
        speeds = [run_trajectory(*job) for job in jobs]
    measured = [s for s in speeds if np.isfinite(s)]
    generation = {"processes": processes, "wall_time_s_last_session": round(time.perf_counter() - start, 1)}
    if measured:
        generation["ns_per_day_per_process"] = round(float(np.mean(measured)), 1)
    return assemble(recipe, workdir, data_dir, generation)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m cgflow.datagen", description=__doc__.splitlines()[0])
    parser.add_argument("name", choices=sorted(RECIPES), help="dataset to generate")
    parser.add_argument("--data-dir", type=Path, default=Path("data"), help="where the dataset files go (default: data)")
    parser.add_argument("--workdir", type=Path, default=None, help="chunk folder (default: DATA_DIR/_work/NAME)")
    parser.add_argument("--processes", type=int, default=min(2, os.cpu_count() or 1), help="parallel trajectories")
    parser.add_argument("--trajectories", type=int, default=None, help="override the number of trajectories")
    parser.add_argument("--length-ps", type=float, default=None, help="override the trajectory length (ps)")
    parser.add_argument("--chunk-ps", type=float, default=None, help="override the chunk length (ps)")
    args = parser.parse_args(argv)
    overrides = {
        key: value
        for key, value in (
            ("n_trajectories", args.trajectories),
            ("trajectory_length", args.length_ps),
            ("chunk_length", args.chunk_ps),
        )
        if value is not None
    }
    recipe = dataclasses.replace(RECIPES[args.name], **overrides)
    workdir = args.workdir or args.data_dir / "_work" / recipe.name
    for path in generate(recipe, workdir, args.data_dir, args.processes):
        print(f"wrote {path} ({path.stat().st_size / 1e6:.2f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
