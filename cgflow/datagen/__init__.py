"""OpenMM recipes that produced the reference data in ``data/`` (needs the ``[data]`` extra).

Run ``python -m cgflow.datagen NAME`` (or ``make data``) to regenerate a dataset from nothing.
Generation is resumable: trajectories run in chunks written atomically to a work folder, the
last chunk of each trajectory with the OpenMM states it ended in (earlier chunks drop theirs to
stay small), and a later run continues after the last complete chunk.
When all chunks exist they are assembled into the files in ``data/`` and
``data/MANIFEST.json`` records their checksums and provenance.

A recipe with ``exchange_temperatures`` runs every trajectory as temperature replica exchange:
one replica at the recipe's temperature, whose frames are saved, and one at each higher
temperature, which carry it over barriers. The saved frames are then equilibrium samples at
the recipe's temperature but not a continuous dynamics.

Modules: ``recipes`` (what is simulated), ``building`` (structures from sequence or
Z-matrix), ``exchange`` (replica exchange over OpenMM contexts), ``running`` (systems and
resumable chunks), ``assembling`` (dataset files and manifest), ``pipeline`` (all of it).
Units: nm, ps, amu, kJ/mol, K (OpenMM's).
"""

try:
    import openmm  # noqa: F401
except ImportError as error:  # pragma: no cover - exercised only without the [data] extra
    raise ImportError("cgflow.datagen needs OpenMM: pip install 'cgflow[data]'") from error

from .assembling import assemble
from .building import BUILDERS, bead_atoms, build_alanine_dipeptide, build_cln025
from .exchange import ReplicaExchange, round_trips, walker_paths
from .pipeline import generate
from .recipes import ALA2, CLN025, CLN025_MD, RECIPES, Recipe
from .running import RecipeRunner, chunk_path, completed_chunks, drop_resume_states, run_trajectory

__all__ = [
    "ALA2",
    "BUILDERS",
    "CLN025",
    "CLN025_MD",
    "RECIPES",
    "Recipe",
    "RecipeRunner",
    "ReplicaExchange",
    "assemble",
    "bead_atoms",
    "build_alanine_dipeptide",
    "build_cln025",
    "chunk_path",
    "completed_chunks",
    "drop_resume_states",
    "generate",
    "round_trips",
    "run_trajectory",
    "walker_paths",
]
