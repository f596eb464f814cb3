"""cgflow: machine-learned coarse-graining of proteins by flow-matching.

The companion package of the cgflow book, after Koehler, Chen, Kraemer, Clementi and Noe,
"Flow-matching: efficient coarse-graining of molecular dynamics without forces",
J. Chem. Theory Comput. 2023, 19, 942. Units everywhere: nm, ps, amu, kJ/mol, K.

Modules: ``units``, ``runtime``, ``geometry``, ``generalised``, ``cgmap``, ``manifest``, ``data``,
``toy``, ``scaling``, ``transforms``, ``flows``, ``training``, ``cgnet``, ``tempering``,
``simulate``, ``analysis``, ``viz``, ``presets``, ``mapping`` and ``coarse_grain`` (your own
molecule; ``python -m cgflow``), ``distributed`` (``torchrun``); ``datagen`` needs OpenMM. The book's appendix "API reference" lists them all.
"""

from ._version import __version__

from . import analysis, viz
from .cgnet import CGNet, CGNetConfig
from .data import CGDataset, load, load_allatom
from .geometry import ChainIC
from .runtime import default_device, fast_mode, pick, seed_everything
from .simulate import LangevinSimulation, ParallelTempering, SimulationBlowUp
from .toy import DoubleWellToy
from .training import TrainingConfig
from .units import KB, beta, kT

__all__ = [
    "KB",
    "CGDataset",
    "CGNet",
    "CGNetConfig",
    "ChainIC",
    "DoubleWellToy",
    "LangevinSimulation",
    "ParallelTempering",
    "SimulationBlowUp",
    "TrainingConfig",
    "analysis",
    "beta",
    "default_device",
    "fast_mode",
    "kT",
    "load",
    "load_allatom",
    "pick",
    "seed_everything",
    "viz",
]
