"""The simulator benchmark runs on the book's CGnet (it broke silently once when the CGnet
became an ensemble): a tiny run, checked for its table, not for its timings."""

import subprocess
import sys
from pathlib import Path

from cgflow import presets

SCRIPT = Path(__file__).resolve().parent.parent / "benchmarks" / "simulate.py"


def test_the_simulator_benchmark_measures_the_books_cgnet():
    run = subprocess.run([sys.executable, str(SCRIPT), "--skip-openmm", "--max-replicas", "4", "--seconds", "0.05"],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    config = presets.cgnet_config(5, 300.0)
    assert f"{config.members} networks of {config.depth} x {config.width} tanh" in run.stdout
    rows = [line.split() for line in run.stdout.splitlines() if line.split() and line.split()[0] in ("1", "4")]
    assert len(rows) == 2 and all(float(row[1]) > 0 and float(row[2]) > 0 for row in rows)  # replica-steps/s, bare frames/s
