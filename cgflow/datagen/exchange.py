"""Temperature replica exchange (parallel tempering) over OpenMM contexts.

One context per rung of an ascending temperature ladder; each keeps its temperature (its
Langevin integrator's). Pairing and the Metropolis decision are :mod:`cgflow.tempering`'s,
shared with the CG simulator. The configurations seen at the lowest rung are equilibrium
samples at its temperature, while the hot rungs carry them over barriers that the cold one
would rarely cross.

Units: K, kJ/mol, nm, nm/ps (OpenMM's).
"""

from __future__ import annotations

import numpy as np
import openmm
import openmm.unit as unit

from ..tempering import lower_rungs, swap_accepted
from ..units import kT


class ReplicaExchange:
    """Exchanges between ``contexts`` at ``temperatures`` (K, strictly increasing).

    ``walkers[k]`` is the index of the configuration (walker) that sits at rung ``k`` now;
    walkers start at their own rung. ``attempts`` and ``accepted`` count exchanges per pair of
    neighbouring rungs.
    """

    def __init__(self, contexts: list[openmm.Context], temperatures, rng: np.random.Generator, walkers=None):
        temperatures = np.asarray(temperatures, dtype=np.float64)
        if len(contexts) != len(temperatures) or len(contexts) < 1:
            raise ValueError(f"one context per temperature: {len(contexts)} contexts, {len(temperatures)} temperatures")
        if (np.diff(temperatures) <= 0).any() or (temperatures <= 0).any():
            raise ValueError(f"temperatures must be positive and increasing (K), got {temperatures.tolist()}")
        self.contexts, self.temperatures, self.rng = contexts, temperatures, rng
        self.beta = 1.0 / np.array([kT(t) for t in temperatures])  # mol/kJ
        self.walkers = np.arange(len(contexts)) if walkers is None else np.array(walkers, dtype=np.int64)
        self.attempts = np.zeros(len(contexts) - 1, dtype=np.int64)
        self.accepted = np.zeros(len(contexts) - 1, dtype=np.int64)

    def step(self, n_steps: int) -> None:
        """Advance every rung by ``n_steps`` integrator steps."""
        for context in self.contexts:
            context.getIntegrator().step(n_steps)

    def attempt(self, parity: int) -> np.ndarray:
        """Attempt the exchanges of the pairs ``(k, k + 1)`` with ``k % 2 == parity``; returns
        the lower rungs of the accepted pairs."""
        pairs = lower_rungs(parity, len(self.contexts))
        if len(pairs) == 0:
            return pairs
        states = [c.getState(getPositions=True, getVelocities=True, getEnergy=True) for c in self.contexts]
        energy = np.array([s.getPotentialEnergy().value_in_unit(unit.kilojoule_per_mole) for s in states])
        accept = swap_accepted(self.beta, energy, pairs, np.log(self.rng.random(len(pairs))))
        self.attempts[pairs] += 1
        self.accepted[pairs[accept]] += 1
        for k in pairs[accept]:
            for target, source in ((k, k + 1), (k + 1, k)):
                scale = np.sqrt(self.temperatures[target] / self.temperatures[source])
                self.contexts[target].setPositions(states[source].getPositions(asNumpy=True))
                self.contexts[target].setVelocities(states[source].getVelocities(asNumpy=True) * scale)
            self.walkers[[k, k + 1]] = self.walkers[[k + 1, k]]
        return pairs[accept]

    @property
    def acceptance(self) -> np.ndarray:
        """Fraction of accepted exchanges per neighbour pair (NaN where none was attempted)."""
        return np.divide(self.accepted, self.attempts, out=np.full(len(self.attempts), np.nan), where=self.attempts > 0)


def round_trips(walkers: np.ndarray) -> int:
    """Completed round trips bottom -> top -> bottom of all walkers, from the rung occupancy
    ``walkers`` ``[times, rungs]`` (walker index at each rung, in time order): the standard
    measure of how well a temperature ladder mixes."""
    walkers = np.asarray(walkers)
    if walkers.ndim != 2 or walkers.shape[1] < 2:
        return 0
    # Per walker: 0 = not yet at the bottom, 1 = came from the bottom, 2 = bottom then top.
    phase = np.zeros(walkers.max() + 1, dtype=np.int64)
    trips = 0
    for row in walkers:
        bottom, top = row[0], row[-1]
        if phase[bottom] == 2:
            trips += 1
        phase[bottom] = 1
        if phase[top] == 1:
            phase[top] = 2
    return trips


def walker_paths(rung_values: np.ndarray, walkers: np.ndarray) -> np.ndarray:
    """Per-rung records ``rung_values`` ``[times, rungs, ...]`` (e.g. bead positions in nm)
    regrouped along the walkers' paths through the ladder, ``[walkers, times, ...]``, given the
    rung occupancy ``walkers`` ``[times, rungs]`` at the same times (walker index at each rung):
    each walker's own continuous trajectory, which visits every temperature."""
    rung_values, walkers = np.asarray(rung_values), np.asarray(walkers)
    if walkers.ndim != 2 or rung_values.shape[:2] != walkers.shape:
        raise ValueError(f"records {rung_values.shape} and occupancy {walkers.shape} must agree in [times, rungs]")
    if (np.sort(walkers, axis=1) != np.arange(walkers.shape[1])).any():
        raise ValueError("every row of the occupancy must be a permutation of the walker indices")
    rung_of_walker = np.argsort(walkers, axis=1)  # [times, walkers]: the rung each walker sits at
    times = np.arange(len(walkers))[:, None]
    return np.swapaxes(rung_values[times, rung_of_walker], 0, 1)
