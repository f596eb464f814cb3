"""Assembling complete chunks into the dataset files of ``data/`` and their manifest entry.

Units: nm, ps, kJ/mol, K (OpenMM's).
"""

from __future__ import annotations

import dataclasses
import io
import json
from pathlib import Path

import mdtraj
import numpy as np
import openmm

from .._version import __version__
from ..cgmap import cg_topology
from ..manifest import update_manifest
from .exchange import round_trips
from .recipes import Recipe
from .running import RecipeRunner, chunk_path, completed_chunks


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
    mdtraj.Trajectory(first["positions"][:1], cg_topology(runner.md_topology, runner.bead_atoms)).save_pdb(str(cg_pdb))
    aa_pdb = out / f"{recipe.name}_allatom.pdb"
    aa_dcd = out / f"{recipe.name}_allatom.dcd"
    allatom = mdtraj.Trajectory(first["allatom_positions"], runner.md_topology)
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
        "time_step_ps": recipe.time_step,
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
