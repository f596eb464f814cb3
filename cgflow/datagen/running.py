"""Running a recipe: OpenMM systems, equilibration, and resumable replica-exchange chunks.

Every trajectory runs in chunks; each chunk is written atomically (compressed) to a work
folder together with the OpenMM states it ended in and the walkers of the ladder, and a
later run continues after the last complete chunk, exactly as an uninterrupted run would
(integrator and exchange seeds depend only on the recipe, trajectory, chunk and rung).

Units: nm, ps, amu, kJ/mol, K (OpenMM's).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import mdtraj
import numpy as np
import openmm
import openmm.app as app
import openmm.unit as unit

from ..cgmap import force_map_matrix
from ..units import ns_per_day
from .building import BUILDERS, bead_atoms
from .exchange import ReplicaExchange
from .recipes import Recipe, _whole


class RecipeRunner:
    """Builds the system of a recipe and runs its trajectories chunk by chunk."""

    def __init__(self, recipe: Recipe):
        self.recipe = recipe
        self.forcefield = app.ForceField(*recipe.forcefield)
        self.topology, self.initial_positions = BUILDERS[recipe.builder](self.forcefield)
        self.md_topology = mdtraj.Topology.from_openmm(self.topology)
        self.bead_atoms = bead_atoms(recipe, self.md_topology)
        self.force_map = force_map_matrix(self.md_topology, self.bead_atoms)

    def system(self) -> openmm.System:
        """A fresh OpenMM system of the recipe's force field: no cutoff, bonds to hydrogen
        constrained, hydrogen masses repartitioned when the recipe asks (amu)."""
        extra = {} if self.recipe.hydrogen_mass is None else {"hydrogenMass": self.recipe.hydrogen_mass * unit.amu}
        return self.forcefield.createSystem(
            self.topology, nonbondedMethod=app.NoCutoff, constraints=app.HBonds, **extra
        )

    def simulation(self, seed: int, temperature: float | None = None) -> app.Simulation:
        """A simulation of the recipe's system at ``temperature`` (K; default the recipe's)."""
        recipe = self.recipe
        integrator = openmm.LangevinMiddleIntegrator(
            (temperature or recipe.temperature) * unit.kelvin, recipe.friction / unit.picosecond, recipe.time_step * unit.picosecond
        )
        integrator.setRandomNumberSeed(seed)
        platform = openmm.Platform.getPlatformByName(recipe.platform)
        properties = {"Threads": "1"} if recipe.platform == "CPU" else {}  # one process per core instead
        return app.Simulation(self.topology, self.system(), integrator, platform, properties)

    def _thermalised(self, seed: int, velocity_seed: int, temperature: float | None = None, positions: np.ndarray | None = None) -> app.Simulation:
        """A simulation with Maxwell-Boltzmann velocities at ``positions`` (nm, used as they
        are) or, by default, at the minimised built structure."""
        simulation = self.simulation(seed, temperature)
        if positions is None:
            simulation.context.setPositions(self.initial_positions)
            simulation.minimizeEnergy()
        else:
            simulation.context.setPositions(positions)
        simulation.context.setVelocitiesToTemperature((temperature or self.recipe.temperature) * unit.kelvin, velocity_seed)
        return simulation

    def equilibrated_states(self, trajectory: int, start: np.ndarray | None = None) -> list[openmm.State]:
        """One state per rung of the ladder: the minimised structure (or the positions
        ``start``, nm), Maxwell-Boltzmann velocities and ``recipe.equilibration`` ps of MD at
        the rung's temperature."""
        recipe = self.recipe
        states = []
        for rung, temperature in enumerate(recipe.temperatures):
            seeds = _seed(recipe, trajectory, -1, rung), _seed(recipe, trajectory, -2, rung)
            simulation = self._thermalised(*seeds, temperature, start)
            simulation.step(_whole(recipe.equilibration / recipe.time_step, "equilibration / time step"))
            states.append(simulation.context.getState(getPositions=True, getVelocities=True))
        return states

    def speed(self, picoseconds: float = 20.0) -> float:
        """Measured speed of this recipe in ns/day (one process), from the minimised structure."""
        simulation = self._thermalised(seed=1, velocity_seed=1)
        simulation.step(100)
        steps = _whole(picoseconds / self.recipe.time_step, "picoseconds / time step")
        start = time.perf_counter()
        simulation.step(steps)
        return ns_per_day(picoseconds, time.perf_counter() - start)

    def run_chunk(self, starts: list[openmm.State], walkers: np.ndarray, trajectory: int, chunk: int) -> dict[str, np.ndarray]:
        """One chunk from the states ``starts`` (one per rung) with ``walkers`` (walker index
        per rung): CG positions (nm), aggregated CG forces (kJ/mol/nm), potential energies
        (kJ/mol) and all-atom positions (nm) of the first rung; the final states as XML, the
        walkers per rung at every saved frame, exchange attempts and acceptances; and, when the
        recipe asks for them, every rung's bead positions (nm) and potential energies (kJ/mol)
        every ``rung_record_stride`` frames (``rung_positions`` ``[records, rungs, beads, 3]``)."""
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
        stride = recipe.rung_record_stride
        records = 0 if stride is None else _whole(n / stride, "frames per chunk / rung record stride")
        rung_positions = np.empty((records, len(contexts), len(self.bead_atoms), 3), dtype=np.float32)
        rung_energies = np.empty((records, len(contexts)), dtype=np.float64)
        for frame in range(n):
            for exchange in range(recipe.exchanges_per_save):
                ladder.step(recipe.steps_per_exchange)
                ladder.attempt(parity=frame * recipe.exchanges_per_save + exchange)
            occupancy[frame] = ladder.walkers
            if stride is not None and frame % stride == 0:
                for rung, context in enumerate(contexts):
                    state = context.getState(getPositions=True, getEnergy=True)
                    rung_positions[frame // stride, rung] = state.getPositions(asNumpy=True).value_in_unit(unit.nanometer)[self.bead_atoms]
                    rung_energies[frame // stride, rung] = state.getPotentialEnergy().value_in_unit(unit.kilojoule_per_mole)
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
            "rung_positions": rung_positions,
            "rung_energies": rung_energies,
        }


def _seed(recipe: Recipe, trajectory: int, chunk: int, rung: int = 0) -> int:
    """Distinct, reproducible integrator seeds per trajectory, chunk and rung (OpenMM needs
    positive 32-bit seeds)."""
    return recipe.seed * 100_003 + trajectory * 1_009 + chunk + 3 + rung * 10_000_019


def chunk_path(workdir: Path, trajectory: int, chunk: int) -> Path:
    """Where chunk ``chunk`` of trajectory ``trajectory`` lives under ``workdir``."""
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
        np.savez_compressed(handle, **arrays)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(partial, path)


def run_trajectory(recipe: Recipe, workdir: Path, trajectory: int, deadline: float | None = None,
                   data_dir: Path = Path("data")) -> float:
    """Run (or continue) one trajectory to its full length; returns the speed in ns/day. With
    a ``deadline`` (``time.time()``, s) it starts no chunk that would end after it, judging
    by the previous chunk of this run (the first always starts): a session of limited length
    then stops between chunks and loses nothing. A recipe with ``start_from`` starts from
    that dataset's frames in ``data_dir`` (:mod:`.starting`)."""
    runner = RecipeRunner(recipe)
    done = completed_chunks(recipe, workdir, trajectory)
    if done == recipe.chunks_per_trajectory:
        return float("nan")
    if done == 0:
        start = None
        if recipe.start_from is not None:
            from .starting import start_positions  # here: starting reads chunks with this module

            start = start_positions(recipe, data_dir, trajectory, runner.md_topology)
        states, walkers = runner.equilibrated_states(trajectory, start), np.arange(len(recipe.temperatures))
    else:
        with np.load(chunk_path(workdir, trajectory, done - 1)) as previous:
            states, walkers = _final_states(previous), previous["walkers"][-1]
    speeds = []
    drop_resume_states(recipe, workdir, trajectory)
    for chunk in range(done, recipe.chunks_per_trajectory):
        if deadline is not None and speeds and time.time() + elapsed > deadline:
            print(f"[{recipe.name}] trajectory {trajectory}: chunk {chunk + 1} would end after the deadline; stopped after {chunk}", flush=True)
            break
        start = time.perf_counter()
        arrays = runner.run_chunk(states, walkers, trajectory, chunk)
        elapsed = time.perf_counter() - start
        _write_atomically(chunk_path(workdir, trajectory, chunk), arrays)
        drop_resume_states(recipe, workdir, trajectory)
        states, walkers = _final_states(arrays), arrays["walkers"][-1]
        # simulated time of every replica together, per wall-clock day
        speeds.append(ns_per_day(recipe.chunk_length * len(recipe.temperatures), elapsed))
        print(
            f"[{recipe.name}] trajectory {trajectory} chunk {chunk + 1}/{recipe.chunks_per_trajectory}"
            f" done at {speeds[-1]:.0f} ns/day",
            flush=True,
        )
    return float(np.mean(speeds)) if speeds else float("nan")


def drop_resume_states(recipe: Recipe, workdir: Path, trajectory: int) -> int:
    """Removes the OpenMM states (positions and velocities of every replica, needed only to
    resume) from every complete chunk of a trajectory but its last, so that the committed
    chunks stay small (about 13 % of a chunk); returns how many chunks it rewrote."""
    rewritten = 0
    for chunk in range(completed_chunks(recipe, workdir, trajectory) - 1):
        path = chunk_path(workdir, trajectory, chunk)
        with np.load(path) as stored:
            if "states" not in stored.files:
                continue
            arrays = {key: stored[key] for key in stored.files if key != "states"}
        _write_atomically(path, arrays)
        rewritten += 1
    return rewritten


def _final_states(arrays) -> list[openmm.State]:
    return [openmm.XmlSerializer.deserialize(str(xml)) for xml in arrays["states"]]
