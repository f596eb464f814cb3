"""Comparing ensembles: Ramachandran angles, histogram free energies, KL divergence, MSE.

Conventions (section 3 of the flow-matching paper):

- Free energies are ``F = -kT ln p`` of normalised histograms, in kJ/mol, shifted so that the
  lowest populated bin is 0. **Empty bins** have no finite free energy and are returned as
  ``+inf``; plots leave them blank.
- The KL divergence ``KL(p || q) = sum_i p_i ln(p_i / q_i)`` (in nats) compares a reference
  histogram ``p`` with a model histogram ``q`` on the same bins (60 x 60 on the Ramachandran
  plane). With ``pseudocount=None`` bins that are empty in either histogram are **masked**
  (left out of the sum), as in the paper's evaluation, and both histograms are renormalised
  over the bins they share, so that the value is a true KL divergence (never negative, never
  infinite); it ignores the mass that one ensemble puts where the other has none. With
  ``pseudocount=a`` every bin count is raised by ``a`` before normalising, which penalises
  such mass instead.
- The free-energy MSE averages ``(F_model - F_reference - c)^2`` over bins populated in both,
  with the constant ``c`` (the free energies are defined up to one) chosen to minimise it.
- Error bars come from a bootstrap over contiguous blocks of frames, so that correlated
  neighbouring frames are resampled together.

Every function that averages takes optional frame weights (non-negative, any normalisation).

Structural measures for proteins (C-alpha beads): RMSD to a reference after optimal
superposition, the fraction of native contacts Q (Best, Hummer and Eaton, PNAS 2013), and
TICA (deeptime) for the slowest collective coordinates.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import mdtraj
import numpy as np

from .data import checked_weights
from .geometry import dihedrals, distances
from .units import kT

#: Periodic range of an angle in radians, per dimension of the Ramachandran plane.
RAMACHANDRAN_RANGE = ((-np.pi, np.pi), (-np.pi, np.pi))
#: Bead quadruples of phi (C-N-CA-C) and psi (N-CA-C-N) in the 5-bead alanine dipeptide map.
ALA2_PHI_PSI = np.array([[0, 1, 2, 3], [1, 2, 3, 4]])


@dataclass(frozen=True)
class Estimate:
    """A value with its bootstrap standard error (same unit as the value)."""

    value: float
    error: float

    def __str__(self) -> str:
        return f"{self.value:.4g} ± {self.error:.2g}"


def phi_psi(positions) -> np.ndarray:
    """Backbone dihedrals phi and psi in radians ``[frames, 2]`` of alanine-dipeptide CG
    positions ``[frames, 5, 3]`` in nm (beads C, N, CA, C, N), or of an ``mdtraj.Trajectory``."""
    xyz = getattr(positions, "xyz", positions)
    if np.shape(xyz)[-2:] != (5, 3):
        raise ValueError(f"alanine-dipeptide CG positions must have shape [frames, 5, 3], got {np.shape(xyz)}")
    return dihedrals(np.asarray(xyz, dtype=np.float64), ALA2_PHI_PSI).numpy()


def _samples(samples) -> np.ndarray:
    array = np.asarray(samples, dtype=np.float64)
    array = array[:, None] if array.ndim == 1 else array
    if array.ndim != 2 or len(array) == 0:
        raise ValueError(f"samples must have shape [frames] or [frames, dims] and at least one frame, got {np.shape(samples)}")
    if not np.isfinite(array).all():
        raise ValueError("samples contain NaN or infinite values")
    return array


def histogram(samples, bins=60, range=None, weights=None) -> tuple[np.ndarray, list[np.ndarray]]:
    """Normalised histogram (probabilities summing to 1 over the range) and bin edges of
    ``samples`` ``[frames]`` or ``[frames, dims]``; samples outside ``range`` are dropped."""
    array = _samples(samples)
    counts, edges = np.histogramdd(array, bins=bins, range=range, weights=checked_weights(weights, len(array)))
    total = counts.sum()
    if total <= 0:
        raise ValueError("no samples fall inside the histogram range")
    return counts / total, edges


def free_energy(samples, temperature: float, bins=60, range=None, weights=None) -> tuple[np.ndarray, list[np.ndarray]]:
    """Free energy ``-kT ln p`` in kJ/mol per bin (minimum 0, ``+inf`` where empty) and the
    bin edges; temperature in K. Divide by ``kT(temperature)`` for units of kT."""
    probability, edges = histogram(samples, bins, range, weights)
    with np.errstate(divide="ignore"):
        energy = -kT(temperature) * np.log(probability)
    return energy - energy[np.isfinite(energy)].min(), edges


def _pair(reference, model, bins, range, reference_weights, model_weights, pseudocount):
    p, edges = histogram(reference, bins, range, reference_weights)
    q, _ = histogram(model, edges, None, model_weights)
    if pseudocount is not None:
        if pseudocount <= 0:
            raise ValueError(f"pseudocount must be positive, got {pseudocount}")
        # Re-express the pseudo-count in units of one (weighted) sample of each ensemble.
        p = p + pseudocount / len(_samples(reference))
        q = q + pseudocount / len(_samples(model))
        p, q = p / p.sum(), q / q.sum()
    return p, q


def _shared_bins(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Mask of the bins populated in both histograms; an error if there is none."""
    both = (p > 0) & (q > 0)
    if not both.any():
        raise ValueError("the two ensembles share no populated bin")
    return both


def kl_divergence(
    reference, model, bins=60, range=None, reference_weights=None, model_weights=None, pseudocount: float | None = None
) -> float:
    """``KL(reference || model)`` in nats between histograms of two sample sets on the bins
    of the reference (see the module docstring for empty bins)."""
    p, q = _pair(reference, model, bins, range, reference_weights, model_weights, pseudocount)
    both = _shared_bins(p, q)
    p, q = p[both] / p[both].sum(), q[both] / q[both].sum()
    return float(np.sum(p * np.log(p / q)))


def free_energy_mse(
    reference, model, temperature: float, bins=60, range=None, reference_weights=None, model_weights=None
) -> float:
    """Mean squared free-energy difference in (kJ/mol)^2 over bins populated in both, after
    removing the best constant offset; temperature in K."""
    p, q = _pair(reference, model, bins, range, reference_weights, model_weights, None)
    both = _shared_bins(p, q)
    difference = -kT(temperature) * (np.log(q[both]) - np.log(p[both]))
    return float(np.mean((difference - difference.mean()) ** 2))


def block_bootstrap(
    statistic: Callable[..., float],
    reference,
    model,
    reference_weights=None,
    model_weights=None,
    n_blocks: int = 10,
    n_resamples: int = 100,
    seed: int = 0,
    **keywords,
) -> Estimate:
    """``statistic(reference, model, reference_weights=..., model_weights=..., **keywords)``
    with a standard error from resampling ``n_blocks`` contiguous blocks of each sample set
    with replacement ``n_resamples`` times."""
    reference, model = _samples(reference), _samples(model)
    reference_weights = checked_weights(reference_weights, len(reference))
    model_weights = checked_weights(model_weights, len(model))
    value = statistic(reference, model, reference_weights=reference_weights, model_weights=model_weights, **keywords)
    rng = np.random.default_rng(seed)

    def resample(samples, weights):
        blocks = np.array_split(np.arange(len(samples)), n_blocks)
        chosen = np.concatenate([blocks[i] for i in rng.integers(0, n_blocks, n_blocks)])
        return samples[chosen], None if weights is None else weights[chosen]

    values = []
    for _ in range(n_resamples):
        ref, ref_w = resample(reference, reference_weights)
        mod, mod_w = resample(model, model_weights)
        values.append(statistic(ref, mod, reference_weights=ref_w, model_weights=mod_w, **keywords))
    return Estimate(float(value), float(np.std(values, ddof=1)))


def block_mean(values, n_blocks: int) -> Estimate:
    """Mean of ``values`` ``[frames]`` with the standard error of ``n_blocks`` contiguous
    blocks: the standard deviation of the block means over ``sqrt(n_blocks)``. Blocks must be
    longer than the correlation time; for independent walkers stored one after another, one
    block per walker makes the error exact. Same unit as the values."""
    values = np.asarray(values, dtype=np.float64).ravel()
    if n_blocks < 2 or len(values) < n_blocks:
        raise ValueError(f"need at least 2 blocks and one value per block, got {n_blocks} blocks of {len(values)} values")
    means = np.array([block.mean() for block in np.array_split(values, n_blocks)])
    return Estimate(float(values.mean()), float(means.std(ddof=1) / np.sqrt(n_blocks)))


@dataclass(frozen=True)
class RamachandranScores:
    """A model's Ramachandran ensemble against the ground truth: KL(ground truth || model) in
    nats (60 x 60 bins, empty bins masked) and the population at phi > 0 (alpha_L and its
    neighbours) in percent, both with block errors, and the free-energy MSE in (kJ/mol)^2."""

    kl: Estimate
    alpha_l_percent: Estimate
    free_energy_mse: float

    def fields(self) -> dict[str, float]:
        """The scores as a benchmark row stores them: KL and its error to 4 decimals (nats), the
        phi > 0 population and its error to 3 (percentage points)."""
        return {"kl": round(self.kl.value, 4), "kl_error": round(self.kl.error, 4),
                "alpha_l_percent": round(self.alpha_l_percent.value, 3), "alpha_l_error": round(self.alpha_l_percent.error, 3)}


def ramachandran_scores(reference, model, temperature: float, n_blocks: int) -> RamachandranScores:
    """Scores of ``model`` (phi, psi) ``[frames, 2]`` in rad against ``reference`` (same), at
    ``temperature`` (K). ``n_blocks`` contiguous blocks of the model's frames carry its errors
    (use the number of walkers when the frames are stored walker after walker)."""
    model = _samples(model)
    grid = dict(bins=60, range=RAMACHANDRAN_RANGE)
    kl = block_bootstrap(kl_divergence, reference, model, n_blocks=n_blocks, **grid)
    return RamachandranScores(
        kl=kl,
        alpha_l_percent=block_mean(100.0 * (model[:, 0] > 0), n_blocks),
        free_energy_mse=free_energy_mse(reference, model, temperature, **grid),
    )


def exact_sample_scores(reference, pool, frames_per_walker: int, walkers: int, temperature: float, seed: int) -> RamachandranScores:
    """Scores of exact samples cut like a simulation: ``walkers`` contiguous blocks of
    ``frames_per_walker`` frames of ``pool`` ((phi, psi) ``[frames, 2]`` in rad, e.g. the
    training block's), from distinct random starts (``seed``), against ``reference`` at
    ``temperature`` (K). What a perfect CG model would score with a simulation of that size:
    the floor of the estimators."""
    pool = _samples(pool)
    if frames_per_walker < 1 or walkers < 1 or len(pool) - frames_per_walker < walkers:
        raise ValueError(f"cannot cut {walkers} blocks of {frames_per_walker} frames from {len(pool)} frames")
    starts = np.random.default_rng(seed).choice(len(pool) - frames_per_walker, walkers, replace=False)
    exact = np.concatenate([pool[start : start + frames_per_walker] for start in starts])
    return ramachandran_scores(reference, exact, temperature, walkers)


def empty_arcs(angles, count: int = 2) -> list[tuple[float, float]]:
    """The ``count`` widest arcs of the circle that hold none of ``angles`` (rad), widest
    first, each as (start, end) in (-pi, pi]; an arc across +-pi has end < start. Forces are
    gradients: across an arc without frames, force labels say nothing about the free energy."""
    sorted_angles = np.sort(np.asarray(angles, dtype=float).ravel())
    if sorted_angles.size < count:
        raise ValueError(f"{sorted_angles.size} angles have fewer than {count} gaps")
    following = np.roll(sorted_angles, -1)
    widths = (following - sorted_angles) % (2 * np.pi) if sorted_angles.size > 1 else np.array([2 * np.pi])
    widest = np.argsort(widths, kind="stable")[::-1][:count]
    return [(float(sorted_angles[i]), float(following[i])) for i in widest]


def in_arc(angles, arc: tuple[float, float]) -> np.ndarray:
    """Boolean mask of the ``angles`` (rad) strictly inside ``arc`` = (start, end), taken
    counter-clockwise from start to end (an arc across +-pi has end < start)."""
    start, end = arc
    offset = (np.asarray(angles, dtype=float) - start) % (2 * np.pi)
    return (offset > 0) & (offset < (end - start) % (2 * np.pi))


def count_transitions(in_a, in_b) -> tuple[int, int]:
    """Transitions ``(a_to_b, b_to_a)`` between two core states of one trajectory, with
    hysteresis: a transition is counted when the trajectory enters one core after it last
    visited the other; excursions into neither core (the transition region) do not count.
    ``in_a`` and ``in_b`` are boolean arrays ``[frames]`` (a frame may not be in both)."""
    in_a, in_b = np.asarray(in_a, dtype=bool), np.asarray(in_b, dtype=bool)
    if in_a.shape != in_b.shape or in_a.ndim != 1:
        raise ValueError(f"state masks must be 1D arrays of equal length, got {in_a.shape} and {in_b.shape}")
    if (in_a & in_b).any():
        raise ValueError(f"{int((in_a & in_b).sum())} frames are in both core states; the cores must not overlap")
    labels = np.where(in_a, 1, np.where(in_b, 2, 0))
    visits = labels[labels > 0]
    switches = visits[1:][visits[1:] != visits[:-1]]
    return int((switches == 2).sum()), int((switches == 1).sum())


def as_trajectory(positions, topology: mdtraj.Topology | None = None) -> mdtraj.Trajectory:
    """An ``mdtraj.Trajectory`` from positions ``[frames, beads, 3]`` in nm (a generic chain
    of C-alpha beads if no topology is given), or the trajectory itself."""
    if isinstance(positions, mdtraj.Trajectory):
        return positions
    xyz = np.asarray(positions, dtype=np.float32)
    xyz = xyz[None] if xyz.ndim == 2 else xyz
    if xyz.ndim != 3 or xyz.shape[-1] != 3:
        raise ValueError(f"positions must have shape [frames, beads, 3], got {np.shape(positions)}")
    if topology is None:
        topology = mdtraj.Topology()
        chain = topology.add_chain()
        for _ in range(xyz.shape[1]):
            topology.add_atom("CA", mdtraj.element.carbon, topology.add_residue("ALA", chain))
    if topology.n_atoms != xyz.shape[1]:
        raise ValueError(f"positions have {xyz.shape[1]} beads but the topology has {topology.n_atoms} atoms")
    return mdtraj.Trajectory(xyz, topology)


def rmsd(positions, reference) -> np.ndarray:
    """RMSD in nm ``[frames]`` of every frame to ``reference`` (one frame) after optimal
    translation and rotation (mdtraj's QCP superposition); all beads count equally. The inputs
    are left as they are (mdtraj centres what it is given in place, so it is given copies)."""
    copies = [np.array(x.xyz if isinstance(x, mdtraj.Trajectory) else x, dtype=np.float32) for x in (positions, reference)]
    trajectory, target = (as_trajectory(xyz) for xyz in copies)
    if trajectory.n_atoms != target.n_atoms:
        raise ValueError(f"positions have {trajectory.n_atoms} beads, the reference {target.n_atoms}")
    return mdtraj.rmsd(trajectory, target, 0).astype(np.float64)


def medoid_near(positions, structure, cutoff: float, most: int = 5_000) -> np.ndarray:
    """The :func:`representative_structure` ``[beads, 3]`` (nm) of the frames ``positions``
    (nm) within ``cutoff`` nm RMSD of ``structure`` (at most ``most`` of them, evenly spread):
    the centre of the state around a structure, read off the data."""
    near = np.asarray(positions)[rmsd(positions, structure) < cutoff]
    if len(near) == 0:
        raise RuntimeError(f"no frame lies within {cutoff} nm of the given structure")
    return representative_structure(near[:: max(1, len(near) // most)])


def representative_structure(positions) -> np.ndarray:
    """The frame of ``positions`` ``[frames, beads, 3]`` (nm) closest, by RMSD after
    superposition, to their mean structure (a medoid): a reference structure read off the
    data, e.g. of a folded state where no experimental structure is at hand. ``[beads, 3]`` nm."""
    if isinstance(positions, mdtraj.Trajectory):
        positions = positions.xyz
    trajectory = as_trajectory(np.array(positions, dtype=np.float32))  # a copy: superpose works in place
    trajectory.superpose(trajectory, 0)
    mean = trajectory.xyz.mean(axis=0)
    return trajectory.xyz[int(np.argmin(rmsd(trajectory, mean)))].astype(np.float64)


@dataclass(frozen=True)
class NativeContacts:
    """Native contacts of a reference structure and the smooth Q of Best, Hummer and Eaton.

    ``Q(X) = mean over native pairs (i, j) of 1 / (1 + exp(beta (r_ij(X) - lam r0_ij)))``.
    All-atom Q uses heavy atoms within 0.45 nm, beta = 50/nm and lam = 1.8. For C-alpha beads
    (the C-alpha adaptation used here) a pair is native when its distance in the reference is
    below ``cutoff`` = 1.0 nm and the beads are at least ``min_separation`` = 3 residues apart;
    lam = 1.5 because C-alpha distances are longer and fluctuate less relative to their length
    than heavy-atom contacts, so 1.8 would count clearly broken contacts as formed.
    """

    pairs: np.ndarray  # [n_contacts, 2] bead indices
    reference_distances: np.ndarray  # [n_contacts] in nm
    beta: float = 50.0  # 1/nm
    lam: float = 1.5

    @classmethod
    def from_reference(
        cls, reference, cutoff: float = 1.0, min_separation: int = 3, beta: float = 50.0, lam: float = 1.5
    ) -> NativeContacts:
        """Contacts of ``reference`` (one frame, nm): bead pairs closer than ``cutoff`` nm
        and at least ``min_separation`` apart along the chain."""
        xyz = as_trajectory(reference).xyz[0]
        i, j = np.triu_indices(len(xyz), k=min_separation)
        pairs = np.stack([i, j], axis=1)
        r0 = distances(xyz.astype(np.float64), pairs).numpy()
        native = r0 < cutoff
        if not native.any():
            raise ValueError(f"the reference has no bead pairs closer than {cutoff} nm at separation >= {min_separation}")
        return cls(pairs[native], r0[native], beta, lam)

    def q(self, positions, groups: np.ndarray | None = None) -> np.ndarray:
        """Q in [0, 1] per frame ``[frames]``; with a boolean ``groups`` array ``[n_groups,
        n_contacts]``, Q of each group of contacts ``[frames, n_groups]``."""
        xyz = as_trajectory(positions).xyz.astype(np.float64)
        r = distances(xyz, self.pairs).numpy()
        formed = 1.0 / (1.0 + np.exp(self.beta * (r - self.lam * self.reference_distances)))
        if groups is None:
            return formed.mean(axis=1)
        groups = np.asarray(groups, dtype=bool)
        if groups.ndim != 2 or groups.shape[1] != len(self.pairs) or not groups.any(axis=1).all():
            raise ValueError(f"groups must be a boolean array [n_groups, {len(self.pairs)}] with no empty group")
        return formed @ groups.T / groups.sum(axis=1)

    def groups_by_separation(self, edges: list[int]) -> np.ndarray:
        """Boolean groups of contacts by chain separation ``|i - j|`` in ``[edges[k], edges[k+1])``.
        In a hairpin, small separations are the contacts next to the turn and large ones the
        contacts between the termini: Q of each group shows the order of folding."""
        separation = self.pairs[:, 1] - self.pairs[:, 0]
        return np.array([(separation >= lo) & (separation < hi) for lo, hi in zip(edges[:-1], edges[1:])])


def pairwise_distance_features(positions, min_separation: int = 2) -> np.ndarray:
    """Bead-pair distances in nm ``[frames, n_pairs]`` for pairs at least ``min_separation``
    apart along the chain: the standard TICA features of C-alpha models."""
    xyz = as_trajectory(positions).xyz.astype(np.float64)
    i, j = np.triu_indices(xyz.shape[1], k=min_separation)
    return distances(xyz, np.stack([i, j], axis=1)).numpy()


def fit_tica(features: list[np.ndarray], lagtime: int, dim: int = 2):
    """TICA model (deeptime) fitted on per-trajectory feature arrays ``[frames, features]`` at
    ``lagtime`` frames, keeping ``dim`` components, kinetic-map scaled. Fit it on the all-atom
    reference and apply ``model.transform`` to CG data so both share one projection."""
    from deeptime.decomposition import TICA

    if isinstance(features, np.ndarray):
        features = [features]
    short = [len(f) for f in features if len(f) <= lagtime]
    if short:
        raise ValueError(f"trajectories of {short} frames are not longer than the lag time of {lagtime} frames")
    return TICA(lagtime=lagtime, dim=dim).fit([np.asarray(f, dtype=np.float64) for f in features]).fetch_model()
