"""Assembling complete chunks into the dataset files of ``data/`` and their manifest entry.

Units: nm, ps, kJ/mol, K (OpenMM's).
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import mdtraj
import numpy as np
import openmm

from .._version import __version__
from ..cgmap import cg_topology
from ..analysis import medoid_near, rmsd
from ..data import centred_float16, save_npz
from ..manifest import update_manifest
from .exchange import round_trips
from .recipes import Recipe
from .running import RecipeRunner, chunk_path, completed_chunks
from .starting import source_time


def assemble(recipe: Recipe, workdir: Path, data_dir: Path, generation: dict) -> list[Path]:
    """Concatenate complete chunks into the dataset files and record them in the manifest."""
    missing = [
        (t, completed_chunks(recipe, workdir, t))
        for t in range(recipe.n_trajectories)
        if completed_chunks(recipe, workdir, t) < recipe.chunks_per_trajectory
    ]
    if missing:
        raise RuntimeError(f"{recipe.name}: incomplete trajectories (index, chunks done): {missing}; run again to resume")
    runner = RecipeRunner(recipe)
    out = data_dir / recipe.name
    out.mkdir(parents=True, exist_ok=True)
    per_trajectory = []
    records = recipe.rung_record_stride
    for t in range(recipe.n_trajectories):
        chunks = [np.load(chunk_path(workdir, t, c)) for c in range(recipe.chunks_per_trajectory)]
        arrays = {key: np.concatenate([c[key] for c in chunks]) for key in ("positions", "forces", "allatom_positions", "walkers")}
        arrays.update({key: np.stack([c[key] for c in chunks]) for key in ("exchange_attempts", "exchange_accepted")})
        if records:  # every rung's beads, and the walkers at those records (taken chunk by chunk)
            arrays["rung_positions"] = np.concatenate([c["rung_positions"] for c in chunks])
            arrays["record_walkers"] = np.concatenate([c["walkers"][::records] for c in chunks])
        per_trajectory.append(arrays)
    stride = recipe.shipped_frame_stride
    lengths = np.array([len(p["positions"][::stride]) for p in per_trajectory], dtype=np.int64)
    cg_file = save_npz(
        out / f"{recipe.name}_cg.npz",
        positions=np.concatenate([p["positions"][::stride] for p in per_trajectory]),
        forces=np.concatenate([p["forces"][::stride] for p in per_trajectory]),
        trajectory_lengths=lengths,
        temperature=np.array(recipe.temperature),
        time_step=np.array(recipe.save_interval * stride),
        units=np.array(json.dumps({"positions": "nm", "forces": "kJ/mol/nm", "temperature": "K", "time_step": "ps"})),
    )
    cg_pdb = out / f"{recipe.name}_cg.pdb"
    first = per_trajectory[0]
    mdtraj.Trajectory(first["positions"][:1], cg_topology(runner.md_topology, runner.bead_atoms)).save_pdb(str(cg_pdb))
    aa_pdb = out / f"{recipe.name}_allatom.pdb"
    aa_dcd = out / f"{recipe.name}_allatom.dcd"
    allatom = mdtraj.Trajectory(first["allatom_positions"][:: recipe.shipped_allatom_stride], runner.md_topology)
    allatom[0].save_pdb(str(aa_pdb))
    allatom.save_dcd(str(aa_dcd))
    files = [cg_file, cg_pdb, aa_pdb, aa_dcd]
    if recipe.exchange_temperatures:
        files.append(_save_ladders(recipe, out / f"{recipe.name}_ladders.npz", per_trajectory))
    native = {}
    if recipe.native_cutoff is not None:
        native_file, native = _save_native(recipe, runner, out / f"{recipe.name}_native.pdb", per_trajectory)
        files.append(native_file)
    provenance = {
        "description": recipe.description,
        "recipe": dataclasses.asdict(recipe),
        "force_field": list(recipe.forcefield),
        "solvent": recipe.solvent,
        "temperature_K": recipe.temperature,
        "integrator": f"LangevinMiddleIntegrator, friction {recipe.friction} 1/ps",
        "constraints": "HBonds",
        "time_step_ps": recipe.time_step,
        "stride_ps": recipe.save_interval * stride,
        "frames": int(lengths.sum()),
        "trajectory_lengths": lengths.tolist(),
        "allatom_frames": len(allatom),
        "allatom_stride_ps": recipe.allatom_interval * recipe.shipped_allatom_stride,
        "total_simulated_ns": recipe.n_trajectories * recipe.trajectory_length * len(recipe.temperatures) / 1000.0,
        "sampling": _sampling(recipe, per_trajectory),
        **({"native": native} if native else {}),
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


def _save_ladders(recipe: Recipe, path: Path, per_trajectory: list[dict[str, np.ndarray]]) -> Path:
    """The replica-exchange records of every trajectory, for round trips and for following
    configurations through the ladder: ``walkers`` (which walker sits at each rung at every
    saved frame, ``[frames, rungs]``), ``rung_positions`` (every rung's beads every
    ``rung_record_interval`` ps, float16 with each centroid at the origin, nm; none when the
    recipe keeps no records), ``record_walkers`` (the walkers at those records), the exchange
    ``attempts`` and ``accepted`` per chunk and neighbour pair, and the lengths that split them
    by trajectory."""
    n_rungs, n_beads = len(recipe.temperatures), per_trajectory[0]["positions"].shape[1]
    records = [p.get("rung_positions", np.zeros((0, n_rungs, n_beads, 3))) for p in per_trajectory]
    record_walkers = [p.get("record_walkers", p["walkers"][:0]) for p in per_trajectory]
    return save_npz(
        path,
        walkers=np.concatenate([p["walkers"] for p in per_trajectory]).astype(np.int16),
        walker_lengths=np.array([len(p["walkers"]) for p in per_trajectory]),
        rung_positions=centred_float16(np.concatenate(records)),
        record_walkers=np.concatenate(record_walkers).astype(np.int16),
        record_lengths=np.array([len(r) for r in records]),
        attempts=np.array([p["exchange_attempts"] for p in per_trajectory]),
        accepted=np.array([p["exchange_accepted"] for p in per_trajectory]),
        temperatures=np.array(recipe.temperatures),
        intervals=np.array(json.dumps({"walkers": recipe.save_interval, "rung_positions": recipe.rung_record_interval, "unit": "ps"})),
    )


def _save_native(recipe: Recipe, runner: RecipeRunner, path: Path, per_trajectory: list[dict]) -> tuple[Path, dict]:
    """The native structure read off the data: the medoid of the saved frames (every frame of
    every trajectory) within ``recipe.native_cutoff`` nm bead RMSD of the built structure, and
    the stored all-atom frame whose beads lie closest to it, written as a PDB; with its
    provenance."""
    built = np.array(runner.initial_positions.value_in_unit(openmm.unit.nanometer))[runner.bead_atoms]
    positions = np.concatenate([p["positions"] for p in per_trajectory])
    medoid = medoid_near(positions, built, recipe.native_cutoff)
    allatom = np.concatenate([p["allatom_positions"] for p in per_trajectory])
    distance = rmsd(allatom[:, runner.bead_atoms], medoid)
    chosen = int(np.argmin(distance))
    mdtraj.Trajectory(allatom[chosen : chosen + 1], runner.md_topology).save_pdb(str(path))
    return path, {
        "definition": f"the stored all-atom frame whose beads lie closest to the medoid of the saved frames within"
                      f" {recipe.native_cutoff} nm bead RMSD of the built structure",
        "frames_near_built": int(np.sum(rmsd(positions, built) < recipe.native_cutoff)),
        "medoid_rmsd_to_built_nm": round(float(rmsd(medoid[None], built)[0]), 4),
        "chosen_frame_rmsd_to_medoid_nm": round(float(distance[chosen]), 4),
    }


def _sampling(recipe: Recipe, per_trajectory: list[dict[str, np.ndarray]]) -> dict:
    """How the saved frames were sampled: plain MD, or replica exchange with its ladder,
    acceptance per neighbour pair and round trips per trajectory."""
    if not recipe.exchange_temperatures:
        if recipe.start_from is None:
            return {"method": "molecular dynamics at the recipe's temperature"}
        return {
            "method": f"molecular dynamics at the recipe's temperature, each trajectory from a frame of {recipe.start_from}'s first ladder",
            "start_times_ps": [source_time(recipe, t) for t in range(recipe.n_trajectories)],
        }
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
