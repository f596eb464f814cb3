"""Chignolin (CLN025) reference data: how far the replica-exchange ladders have come.

Reads the committed chunks (``data/_work/cln025``, or ``--workdir``) and prints, per ladder:
nanoseconds per replica, exchange acceptance per neighbour pair, round trips of the walkers,
the population of the folded state at 340 K with its standard error over blocks of chunks,
and the folding and unfolding events along the walkers' paths through the ladder (every
rung's C-alpha positions are recorded every 5 ps), and the folded and non-native (RMSD above
0.3 nm) fractions at 340 K per nanosecond, where long-lived states show. Then the data issue's
completion criteria, each with its measured value.

Folded, the folded reference and the events are defined in :mod:`cgflow.chignolin` (the
built hairpin's ideal angles are themselves ~0.16 nm from the reference). Per rung and
per walker it prints the folded fractions, which show whether the folded state at 340 K is
carried by many walkers or by one.

    python benchmarks/cln025_data.py [--workdir data/_work/cln025] [--blocks 5]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from cgflow import analysis
from cgflow.chignolin import FOLDED, FOLDED_CORE, UNFOLDED_CORE, folded_fraction, folded_reference, folding_events, ladder_chunks
from cgflow.datagen import CLN025, round_trips, walker_paths

#: Completion criteria of the data issue.
TARGETS = {"ns per replica": 40, "round trips": 10, "folding events": 10, "unfolding events": 10, "frames at 340 K": 40_000}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, default=Path("data/_work/cln025"))
    parser.add_argument("--blocks", type=int, default=5, help="blocks of each ladder's 340 K frames for the standard error")
    args = parser.parse_args()
    ladders = ladder_chunks(args.workdir)
    if not ladders:
        raise SystemExit(f"no committed chunks in {args.workdir}")
    reference = folded_reference(np.concatenate([ladder["positions"] for ladder in ladders]))
    print(f"ladders of {len(CLN025.temperatures)} rungs {CLN025.temperatures} K; folded: C-alpha RMSD < {FOLDED} nm"
          f" from the folded reference; events between < {FOLDED_CORE} and > {UNFOLDED_CORE} nm")
    measured = {key: [] for key in TARGETS}
    fractions = []
    for index, ladder in enumerate(ladders):
        distance = analysis.rmsd(ladder["positions"], reference)
        folded = folded_fraction(distance, min(args.blocks, ladder["chunks"]))
        paths = walker_paths(ladder["rung_positions"], ladder["record_walkers"])
        events = folding_events(paths, reference)
        ns = ladder["chunks"] * CLN025.chunk_length / 1000
        trips = round_trips(ladder["walkers"])
        acceptance = ladder["accepted"] / np.maximum(ladder["attempts"], 1)
        print(f"ladder {index}: {ns:g} ns per replica ({len(distance):,} frames at 340 K), acceptance {np.round(acceptance, 2).tolist()},"
              f" {trips} round trips; folded at 340 K {folded.value:.3f} ± {folded.error:.3f};"
              f" RMSD > {UNFOLDED_CORE} nm {np.mean(distance > UNFOLDED_CORE):.3f}, > 0.4 nm {np.mean(distance > 0.4):.3f};"
              f" along the walks {events[0]} folding and {events[1]} unfolding events")
        for key, value in zip(TARGETS, (ns, trips, events[0], events[1], len(distance))):
            measured[key].append(value)
        fractions.append(folded)
        rungs = [analysis.rmsd(ladder["rung_positions"][:, r], reference) for r in range(ladder["rung_positions"].shape[1])]
        print(f"  per rung, folded:   {' '.join(f'{np.mean(d < FOLDED):.2f}' for d in rungs)}"
              f"   RMSD > 0.4 nm: {' '.join(f'{np.mean(d > 0.4):.2f}' for d in rungs)}")
        walker_folded = [np.mean(analysis.rmsd(path, reference) < FOLDED) for path in paths]
        print(f"  per walker, folded: {' '.join(f'{v:.2f}' for v in walker_folded)} (of its recorded frames, at every rung)")
        per_ns = distance.reshape(ladder["chunks"], -1)
        print(f"  per ns, folded:     {' '.join(f'{v:.2f}' for v in (per_ns < FOLDED).mean(1))}")
        print(f"  per ns, non-native: {' '.join(f'{v:.2f}' for v in (per_ns > UNFOLDED_CORE).mean(1))}")
    print("criteria (each ladder):")
    for key, target in TARGETS.items():
        values = measured[key] if key != "frames at 340 K" else [sum(measured[key])]
        print(f"  {key:>17s} >= {target:,}: {values} {'met' if min(values) >= target and len(ladders) == CLN025.n_trajectories else 'not yet'}")
    if len(fractions) == 2:
        gap, error = abs(fractions[0].value - fractions[1].value), float(np.hypot(fractions[0].error, fractions[1].error))
        print(f"  folded fractions agree within 2 standard errors: |{fractions[0].value:.3f} - {fractions[1].value:.3f}| = {gap:.3f}"
              f" vs 2 x {error:.3f}: {'met' if gap <= 2 * error else 'not yet'}")


if __name__ == "__main__":
    main()
