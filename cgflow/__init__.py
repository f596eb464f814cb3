"""cgflow: machine-learned coarse-graining of proteins by flow-matching.

The companion package of the cgflow book, after Koehler, Chen, Kraemer, Clementi and Noe,
"Flow-matching: efficient coarse-graining of molecular dynamics without forces",
J. Chem. Theory Comput. 2023, 19, 942. Units everywhere: nm, ps, amu, kJ/mol, K.
"""

__version__ = "0.1.0"

from .runtime import default_device, fast_mode, pick, seed_everything
from .units import KB, beta, kT

__all__ = ["KB", "beta", "default_device", "fast_mode", "kT", "pick", "seed_everything"]
