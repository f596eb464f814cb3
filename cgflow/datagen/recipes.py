"""Recipes: how each dataset in ``data/`` is simulated and saved.

Units: nm, ps, amu, kJ/mol, K (OpenMM's).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from ..tempering import geometric_ladder


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
    time_step: float = 0.002
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
    rung_record_interval: float | None = None  # ps between records of every rung's beads; None = none
    molecule: str | None = None  # which builder makes the structure (``building.BUILDERS``); None = ``name``
    shipped_frame_stride: int = 1  # the dataset keeps every k-th saved CG frame (the chunks keep all)
    shipped_allatom_stride: int = 1  # and every k-th stored all-atom frame (of the first trajectory)
    native_cutoff: float | None = None  # nm: ship the native structure read off the data (see assembling)
    start_from: str | None = None  # plain MD from this exchange dataset's frames (see starting); None = built structure

    @property
    def builder(self) -> str:
        """The ``building.BUILDERS`` entry that builds this recipe's molecule."""
        return self.molecule or self.name

    @property
    def temperatures(self) -> tuple[float, ...]:
        """The temperature ladder in K; the first rung is the one whose frames are saved."""
        return (self.temperature, *self.exchange_temperatures)

    @property
    def steps_per_exchange(self) -> int:
        """Integrator steps between exchange attempts (between saves for plain MD)."""
        if not self.exchange_temperatures:
            return self.steps_per_save
        return _whole(self.exchange_interval / self.time_step, "exchange interval / time step")

    @property
    def exchanges_per_save(self) -> int:
        """Exchange attempts between saved frames."""
        return _whole(self.steps_per_save / self.steps_per_exchange, "save interval / exchange interval")

    @property
    def steps_per_save(self) -> int:
        """Integrator steps between saved frames."""
        return _whole(self.save_interval / self.time_step, "save interval / time step")

    @property
    def frames_per_chunk(self) -> int:
        """Saved frames in one chunk file."""
        return _whole(self.chunk_length / self.save_interval, "chunk length / save interval")

    @property
    def chunks_per_trajectory(self) -> int:
        """Chunk files that make one trajectory (or replica ladder)."""
        return _whole(self.trajectory_length / self.chunk_length, "trajectory length / chunk length")

    @property
    def rung_record_stride(self) -> int | None:
        """Saved frames between records of every rung (None when the recipe keeps none)."""
        if self.rung_record_interval is None:
            return None
        return _whole(self.rung_record_interval / self.save_interval, "rung record interval / save interval")

    @property
    def allatom_stride(self) -> int:
        """Saved CG frames between stored all-atom frames."""
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

#: The chignolin variant CLN025 at 340 K (near its experimental melting temperature; the
#: temperature of the reference simulations of Lindorff-Larsen et al. 2011). HMR (hydrogens
#: 3 amu) allows 4 fs steps on the CPU platform, one thread per process (a second thread adds
#: almost nothing). Two independent ladders of six rungs, geometric from 340 to 480 K (ratio
#: 1.071; the potential energy fluctuates by ~47 kJ/mol at 340 K and rises ~1.9 kJ/mol/K,
#: hence ~0.45 acceptance between neighbours; at 480 K the hairpin unfolds within ~1 ns).
#: Chunks of 1 ns per replica (about 20 minutes on one core) are committed as they finish. At 20
#: ns per replica the two ladders disagreed (folded at 340 K 0.60 ± 0.11 against 0.21 ± 0.06):
#: both spend stretches of several ns at 340 K in a compact non-native state (C-alpha RMSD
#: 0.3-0.4 nm), which the exchanges do not shorten, hence 40 ns per replica. The dataset ships
#: every second 340 K frame (frames 1 ps apart are correlated over nanoseconds anyway) and
#: every fifth all-atom frame, so that data/ stays under 60 MB.
CLN025 = Recipe(
    name="cln025",
    description="CLN025 (YYDPETGTWY), AMBER ff99SB-ILDN, OBC implicit solvent, 340 K",
    forcefield=AMBER_OBC,
    solvent=OBC_SOLVENT,
    bead_selection="name CA",
    temperature=340.0,
    time_step=0.004,
    hydrogen_mass=3.0,
    platform="CPU",
    n_trajectories=2,
    trajectory_length=40_000.0,
    chunk_length=1_000.0,
    save_interval=1.0,
    allatom_interval=10.0,
    exchange_temperatures=tuple(round(float(t), 1) for t in geometric_ladder(340.0, 480.0, 6)[1:]),
    rung_record_interval=5.0,
    shipped_frame_stride=2,
    shipped_allatom_stride=5,
    native_cutoff=0.2,
)

#: Continuous dynamics of CLN025 for TICA (chapter 8): replica-exchange frames are no time
#: series. Forty plain trajectories of 1 ns at 340 K, each from a 340 K frame of the first
#: ladder of ``cln025`` (one per ns of it, so they start in the folded, non-native and unfolded
#: states in their equilibrium proportions; velocities Maxwell-Boltzmann, 10 ps discarded): short
#: trajectories from equilibrium estimate TICA's covariances without bias (``starting``), and a
#: first recipe of two 40 ns trajectories from the built hairpin spent 21 of its first 24 ns in the
#: non-native basin. CG frames every 2 ps, all-atom frames every 100 ps. One chunk per trajectory
#: (4-7 minutes on one core: 370 ns/day on earlier days, 210 measured on 2026-12-08).
CLN025_MD = replace(
    CLN025,
    name="cln025_md",
    molecule="cln025",
    description="CLN025 (YYDPETGTWY), AMBER ff99SB-ILDN, OBC implicit solvent, 340 K, plain MD from the cln025 ladders' frames",
    n_trajectories=40,
    trajectory_length=1_000.0,
    chunk_length=1_000.0,
    save_interval=2.0,
    allatom_interval=100.0,
    equilibration=10.0,
    exchange_temperatures=(),
    rung_record_interval=None,
    shipped_frame_stride=1,
    shipped_allatom_stride=1,
    native_cutoff=None,
    start_from="cln025",
)

RECIPES = {recipe.name: recipe for recipe in (ALA2, CLN025, CLN025_MD)}
