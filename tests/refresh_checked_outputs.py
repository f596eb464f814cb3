"""Store the fast-mode outputs of the cells marked ``# NBVAL_CHECK_OUTPUT`` in the notebooks.

``make notebooks`` (nbval) compares what these cells print in fast mode with the outputs stored
in the notebook, so a change that moves a key result fails the tests. After a change that moves
one on purpose (new data, a new recipe, a re-run benchmark), refresh them:

    make checked-outputs                      # every chapter
    CGFLOW_FAST=1 .venv/bin/python tests/refresh_checked_outputs.py book/04_force_matching.ipynb

Each notebook runs in fast mode from ``book/`` (as under nbval, so chapters find the models that
earlier chapters saved: run them in reading order); the outputs of the checked cells are copied
into it and every other cell is left without outputs, as the repository keeps them.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import nbformat
from nbclient import NotebookClient

MARK = "# NBVAL_CHECK_OUTPUT"


def refresh(path: Path) -> int:
    """Run ``path`` in fast mode and store its checked cells' outputs; returns how many."""
    notebook = nbformat.read(path, as_version=4)
    executed = NotebookClient(notebook, timeout=1800, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}})
    executed.execute()
    original = json.loads(path.read_text())
    checked = 0
    for cell, run in zip(original["cells"], notebook.cells):
        if cell["cell_type"] != "code":
            continue
        if "".join(cell["source"]).startswith(MARK):
            cell["outputs"] = [dict(output) for output in run.outputs]
            for output in cell["outputs"]:
                if "execution_count" in output:
                    output["execution_count"] = checked + 1
            checked += 1
            cell["execution_count"] = checked   # nbval skips a stored output without a count as "unrun"
        else:
            cell["outputs"] = []
            cell["execution_count"] = None
    path.write_text(json.dumps(original, indent=1, ensure_ascii=False) + "\n")
    return checked


def main() -> None:
    if os.environ.get("CGFLOW_FAST") != "1":
        sys.exit("run with CGFLOW_FAST=1: nbval checks the outputs of the fast mode")
    for name in sys.argv[1:] or sorted(str(p) for p in Path("book").glob("*.ipynb")):
        print(f"{name}: {refresh(Path(name))} checked cells stored", flush=True)


if __name__ == "__main__":
    main()
