"""``python -m cgflow``: coarse-grain your own molecule from files, without a notebook.

    python -m cgflow --trajectory run1.dcd run2.dcd --topology system.pdb --selection "name CA" \\
        --temperature 300 [--forces run1_forces.npy run2_forces.npy --force-unit kJ/mol/nm] \\
        --output my_cg_model [--fast] [--seed 0] [--stride 1]

Maps the all-atom trajectories to beads (``cgflow.mapping``), then runs the book's
flow-matching recipe and writes models, report and figures (``cgflow.coarse_grain``).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path


def parser() -> argparse.ArgumentParser:
    """The command line of ``python -m cgflow``."""
    from .data import FORCE_UNITS

    p = argparse.ArgumentParser(prog="python -m cgflow", description="Coarse-grain your own molecule from files, without a notebook.",
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog="Units: positions as in the trajectory files (mdtraj reads them in nm), forces in --force-unit, temperature in K.")
    p.add_argument("--trajectory", nargs="+", required=True, type=Path, help="all-atom trajectories (any format mdtraj reads), one per independent run")
    p.add_argument("--topology", required=True, type=Path, help="topology of the trajectories (e.g. a PDB)")
    p.add_argument("--selection", required=True, help="mdtraj selection of the bead atoms, e.g. \"name CA\"")
    p.add_argument("--temperature", required=True, type=float, help="temperature of the simulations (K)")
    p.add_argument("--forces", nargs="+", type=Path, help="all-atom forces, one .npy [frames, atoms, 3] per trajectory (optional: without them no force-matching baseline)")
    p.add_argument("--force-unit", default="kJ/mol/nm", choices=sorted(FORCE_UNITS))
    p.add_argument("--stride", type=int, default=1, help="use every n-th frame")
    p.add_argument("--output", required=True, type=Path, help="folder for the models, report and figures (must not exist unless --overwrite)")
    p.add_argument("--overwrite", action="store_true")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--fast", action="store_true", help="the book's fast (test) settings: minutes, not a usable model")
    return p


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit status (errors in the input: 2, with the reason)."""
    args = parser().parse_args(argv)
    if args.fast:
        os.environ["CGFLOW_FAST"] = "1"
    from .coarse_grain import coarse_grain
    from .mapping import map_allatom

    try:
        dataset = map_allatom(args.trajectory, args.topology, args.selection, args.temperature, forces=args.forces,
                              force_unit=args.force_unit, stride=args.stride)
        print(f"{dataset.name}: {len(dataset)} frames, {dataset.n_beads} beads, forces: {'yes' if dataset.forces is not None else 'no'}")
        report = coarse_grain(dataset, args.output, seed=args.seed, overwrite=args.overwrite)
    except (ValueError, FileNotFoundError, FileExistsError) as error:
        print(f"python -m cgflow: error: {error}", file=sys.stderr)
        return 2
    print((args.output / "report.md").read_text())
    print(f"models, report and figures in {args.output}")
    return 0 if report else 1


if __name__ == "__main__":
    sys.exit(main())
