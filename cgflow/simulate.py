"""Batched Langevin dynamics of CG models, with parallel tempering.

:class:`LangevinSimulation` integrates a batch of independent replicas ``[replicas, beads, 3]``
with BAOAB (Leimkuhler and Matthews 2013), the splitting whose configurational distribution is
most accurate at large time steps. Units: positions nm, velocities nm/ps, masses amu, time ps,
friction 1/ps, temperatures K, energies kJ/mol, forces kJ/mol/nm (so F/m is in nm/ps^2).

:class:`ParallelTempering` runs replicas on a ladder of temperatures and swaps neighbours with
the Metropolis criterion, so that the cold replicas cross barriers through the hot ones.

A run that blows up (non-finite positions or forces, or a force above ``max_force``) stops
with :class:`SimulationBlowUp`, which names the step and replica and carries every frame
saved before it.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import mdtraj
import numpy as np
import torch
from tqdm.auto import tqdm

from .runtime import progress_bars
from .tempering import geometric_ladder, lower_rungs, swap_accepted  # noqa: F401  (geometric_ladder: public here too)
from .units import KB, ns_per_day

#: ``force_field(x) -> (energy [replicas] kJ/mol, forces [replicas, beads, 3] kJ/mol/nm)``
ForceField = Callable[[torch.Tensor], tuple[torch.Tensor, torch.Tensor]]


@dataclass
class SimulationResult:
    """Saved frames: positions ``[frames, replicas, beads, 3]`` (nm), potential energies
    ``[frames, replicas]`` (kJ/mol), the time between frames (ps) and replica temperatures (K)."""

    positions: np.ndarray
    energies: np.ndarray
    save_interval: float
    temperatures: np.ndarray
    swap_acceptance: np.ndarray | None = None  # per neighbour pair of the temperature ladder
    speed_ns_per_day: float = float("nan")  # simulated time per replica

    @property
    def n_frames(self) -> int:
        """Saved frames."""
        return len(self.positions)

    def trajectories(self, topology: mdtraj.Topology, replicas=None) -> list[mdtraj.Trajectory]:
        """One ``mdtraj.Trajectory`` per replica (all, or the indices in ``replicas``)."""
        replicas = range(self.positions.shape[1]) if replicas is None else replicas
        time = np.arange(self.n_frames) * self.save_interval
        return [mdtraj.Trajectory(self.positions[:, r], topology, time=time) for r in replicas]

    def save(self, directory: Path | str, topology: mdtraj.Topology, fmt: str = "dcd") -> list[Path]:
        """Write ``replicaNNN.dcd`` (or xtc) per replica and ``topology.pdb`` (for VMD, PyMOL)."""
        if fmt not in ("dcd", "xtc"):
            raise ValueError(f"format must be 'dcd' or 'xtc', got {fmt!r}")
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        trajectories = self.trajectories(topology)
        paths = [directory / "topology.pdb"]
        trajectories[0][0].save_pdb(str(paths[0]))
        for index, trajectory in enumerate(trajectories):
            paths.append(directory / f"replica{index:03d}.{fmt}")
            trajectory.save(str(paths[-1]))
        return paths


class SimulationBlowUp(RuntimeError):
    """A simulation left the physical regime; ``result`` holds the frames saved before."""

    def __init__(self, message: str, step: int, replica: int, result: SimulationResult):
        super().__init__(message)
        self.step, self.replica, self.result = step, replica, result


@dataclass
class LangevinSimulation:
    """BAOAB Langevin dynamics of a batch of replicas.

    force_field: energies and forces of positions ``[replicas, beads, 3]``.
    masses: ``[beads]`` in amu. temperature: K, one value or one per replica.
    time_step: ps. friction: 1/ps. max_force: kJ/mol/nm above which a run counts as blown up.
    """

    force_field: ForceField
    masses: np.ndarray | torch.Tensor
    temperature: float | np.ndarray = 300.0
    time_step: float = 0.002
    friction: float = 1.0
    max_force: float = 1.0e5
    seed: int = 0
    device: str | torch.device = "cpu"
    progress: bool | None = None
    _generator: torch.Generator = field(init=False, repr=False)

    def __post_init__(self):
        self.device = torch.device(self.device)
        self._generator = torch.Generator(device=self.device).manual_seed(self.seed)
        self.masses = torch.as_tensor(np.asarray(self.masses), dtype=torch.get_default_dtype(), device=self.device)
        if (self.masses <= 0).any():
            raise ValueError("masses must be positive, in amu")
        if self.time_step <= 0 or self.friction < 0:
            raise ValueError(f"time step must be positive (ps) and friction non-negative (1/ps); got {self.time_step}, {self.friction}")

    def _kT(self, n_replicas: int) -> torch.Tensor:
        temperature = torch.as_tensor(np.asarray(self.temperature, dtype=np.float64), device=self.device)
        temperature = temperature.expand(n_replicas) if temperature.ndim == 0 else temperature
        if temperature.shape != (n_replicas,) or (temperature <= 0).any():
            raise ValueError(f"temperature must be positive (K), one value or one per replica ({n_replicas})")
        return (KB * temperature).to(self.masses.dtype)[:, None, None]

    def maxwell_boltzmann(self, n_replicas: int) -> torch.Tensor:
        """Velocities in nm/ps drawn from the Maxwell-Boltzmann distribution."""
        sigma = torch.sqrt(self._kT(n_replicas) / self.masses[:, None])
        return sigma * torch.randn((n_replicas, len(self.masses), 3), generator=self._generator, device=self.device, dtype=self.masses.dtype)

    def run(
        self,
        positions,
        n_steps: int,
        save_every: int = 100,
        velocities: torch.Tensor | None = None,
        after_step: Callable[[int, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor], None] | None = None,
        description: str = "Langevin",
    ) -> SimulationResult:
        """Integrate ``n_steps`` from ``positions`` ``[replicas, beads, 3]`` (nm), saving every
        ``save_every`` steps. ``after_step(step, x, v, energy, forces)`` may permute replicas
        in place, keeping the four consistent (parallel tempering swaps there)."""
        x = torch.as_tensor(np.asarray(positions) if not isinstance(positions, torch.Tensor) else positions)
        x = x.to(device=self.device, dtype=self.masses.dtype).clone()
        if x.ndim != 3 or x.shape[1:] != (len(self.masses), 3):
            raise ValueError(f"positions must have shape [replicas, {len(self.masses)}, 3], got {tuple(x.shape)}")
        n_replicas = len(x)
        kT = self._kT(n_replicas)
        v = self.maxwell_boltzmann(n_replicas) if velocities is None else velocities.to(x).clone()
        inverse_mass = (1.0 / self.masses)[:, None]
        dt = self.time_step
        half_kick = 0.5 * dt * inverse_mass  # ps/amu: v += half_kick * F is half a B step
        c1 = math.exp(-self.friction * dt)
        noise_scale = torch.sqrt((1.0 - c1**2) * kT * inverse_mass)
        saved_x, saved_e = [], []
        energy, forces = self._evaluate(x, 0)
        show = progress_bars() if self.progress is None else self.progress
        bar = tqdm(total=n_steps, desc=description, disable=not show, unit="step", mininterval=0.5)
        start = time.perf_counter()
        try:
            for step in range(1, n_steps + 1):
                v.addcmul_(forces, half_kick)  # B
                x.add_(v, alpha=0.5 * dt)  # A
                v.mul_(c1).addcmul_(noise_scale, torch.randn(x.shape, generator=self._generator, device=self.device, dtype=x.dtype))  # O
                x.add_(v, alpha=0.5 * dt)  # A
                energy, forces = self._evaluate(x, step, saved_x, saved_e, save_every)
                v.addcmul_(forces, half_kick)  # B
                if after_step is not None:
                    after_step(step, x, v, energy, forces)
                if step % save_every == 0:
                    saved_x.append(x.detach().cpu().numpy().copy())
                    saved_e.append(energy.detach().cpu().numpy().copy())
                    elapsed = time.perf_counter() - start
                    bar.update(save_every)
                    bar.set_postfix_str(f"{ns_per_day(step * dt, elapsed):.0f} ns/day per replica", refresh=False)
        finally:
            bar.close()
        result = self._result(saved_x, saved_e, save_every, n_replicas)
        result.speed_ns_per_day = ns_per_day(n_steps * dt, time.perf_counter() - start)
        return result

    def _evaluate(self, x, step, saved_x=(), saved_e=(), save_every=1):
        energy, forces = self.force_field(x)
        energy, forces = energy.detach(), forces.detach()
        magnitude = torch.linalg.vector_norm(forces, dim=-1).amax(dim=-1)
        finite = torch.isfinite(x).all(dim=(1, 2)) & torch.isfinite(magnitude)
        bad = ~finite | (magnitude > self.max_force)
        if bad.any():
            replica = int(torch.nonzero(bad)[0])
            if finite[replica]:
                what = f"a force of {float(magnitude[replica]):.3g} kJ/mol/nm (above max_force = {self.max_force:g})"
            else:
                what = "non-finite positions or forces"
            result = self._result(list(saved_x), list(saved_e), save_every, len(x))
            raise SimulationBlowUp(
                f"simulation blew up at step {step} in replica {replica}: {what}; the {result.n_frames} frames saved before are kept in .result",
                step,
                replica,
                result,
            )
        return energy, forces

    def _result(self, saved_x, saved_e, save_every, n_replicas) -> SimulationResult:
        temperature = np.broadcast_to(np.asarray(self.temperature, dtype=np.float64), (n_replicas,)).copy()
        shape = (0, n_replicas, len(self.masses), 3)
        return SimulationResult(
            positions=np.stack(saved_x) if saved_x else np.zeros(shape, dtype=np.float32),
            energies=np.stack(saved_e) if saved_e else np.zeros((0, n_replicas)),
            save_interval=save_every * self.time_step,
            temperatures=temperature,
        )


@dataclass
class ParallelTempering:
    """Replica exchange over a temperature ladder for ``n_walkers`` independent ladders.

    Replica ``w * n_temperatures + k`` sits at ``temperatures[k]``. Every ``swap_every``
    steps the pairs (0,1), (2,3), ... or (1,2), (3,4), ... (alternating) attempt to exchange
    configurations with probability ``min(1, exp((beta_k - beta_l)(U_k - U_l)))``; on
    acceptance velocities are rescaled by ``sqrt(T_new / T_old)``.
    """

    force_field: ForceField
    masses: np.ndarray
    temperatures: np.ndarray
    n_walkers: int = 1
    time_step: float = 0.002
    friction: float = 1.0
    swap_every: int = 100
    max_force: float = 1.0e5
    seed: int = 0
    device: str | torch.device = "cpu"
    progress: bool | None = None

    def run(self, positions, n_steps: int, save_every: int = 100) -> SimulationResult:
        """Run from ``positions`` ``[n_walkers * n_temperatures, beads, 3]`` (nm). The result
        holds all replicas ordered by temperature slot; use :meth:`coldest` for the target."""
        ladder = np.asarray(self.temperatures, dtype=np.float64)
        if ladder.ndim != 1 or len(ladder) < 2 or (np.diff(ladder) <= 0).any():
            raise ValueError("temperatures must be an increasing ladder of at least two values (K)")
        n_temperatures = len(ladder)
        slot_temperatures = np.tile(ladder, self.n_walkers)
        simulation = LangevinSimulation(
            self.force_field, self.masses, slot_temperatures, self.time_step, self.friction, self.max_force, self.seed, self.device, self.progress
        )
        beta = torch.as_tensor(1.0 / (KB * ladder), device=simulation.device)
        attempts = np.zeros(n_temperatures - 1)
        accepted = np.zeros(n_temperatures - 1)
        generator = torch.Generator(device=simulation.device).manual_seed(self.seed + 1)
        scale_up = torch.as_tensor(np.sqrt(ladder[1:] / ladder[:-1]), device=simulation.device, dtype=simulation.masses.dtype)

        def swap(step: int, x: torch.Tensor, v: torch.Tensor, energy: torch.Tensor, forces: torch.Tensor) -> None:
            if step % self.swap_every:
                return
            lower_np = lower_rungs(step // self.swap_every, n_temperatures)
            if len(lower_np) == 0:
                return
            lower = torch.as_tensor(lower_np, device=x.device)
            u = energy.view(self.n_walkers, n_temperatures).to(beta.dtype)
            log_uniform = torch.rand((self.n_walkers, len(lower)), generator=generator, device=x.device, dtype=beta.dtype).log()
            accept = swap_accepted(beta, u, lower, log_uniform)
            attempts[lower_np] += self.n_walkers
            accepted[lower_np] += accept.sum(0).cpu().numpy()
            walkers, pairs = torch.nonzero(accept, as_tuple=True)
            if len(walkers) == 0:
                return
            cold = walkers * n_temperatures + lower[pairs]
            hot = cold + 1
            for tensor in (x, v, energy, forces):
                tensor[cold], tensor[hot] = tensor[hot].clone(), tensor[cold].clone()
            factor = scale_up[lower[pairs]][:, None, None]
            v[cold] /= factor  # arrived from the hotter slot
            v[hot] *= factor

        result = simulation.run(positions, n_steps, save_every, after_step=swap, description="parallel tempering")
        result.swap_acceptance = np.divide(accepted, attempts, out=np.full_like(accepted, np.nan), where=attempts > 0)
        return result

    def coldest(self, result: SimulationResult) -> np.ndarray:
        """Positions at the lowest temperature ``[frames, n_walkers, beads, 3]`` (nm)."""
        return result.positions[:, :: len(self.temperatures)]
