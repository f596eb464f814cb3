"""Every chapter follows the template of DESIGN.md: learning goals, how to run it, a seed,
exercises each with a solution, a summary, references, and two checked outputs for nbval."""

import json
import re
from pathlib import Path

import pytest

CHAPTERS = sorted((Path(__file__).parents[1] / "book").glob("[0-9][0-9]_*.ipynb"))


def cells(path: Path) -> list[dict]:
    return json.loads(path.read_text())["cells"]


def text(cell: dict) -> str:
    return "".join(cell["source"])


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_chapter_follows_the_template(path):
    notebook = cells(path)
    markdown = "\n".join(text(c) for c in notebook if c["cell_type"] == "markdown")
    code = [text(c) for c in notebook if c["cell_type"] == "code"]
    number = int(path.stem[:2])
    assert text(notebook[0]).startswith(f"# {number}. "), "the first cell is the numbered title"
    for part in (":::{admonition} Learning goals", ":::{dropdown} Running this notebook", "## Exercises", "## Summary",
                 "**What's next.**", "## References", "```{footbibliography}"):
        assert part in markdown, f"{path.name} lacks {part!r}"
    assert any("seed_everything(" in source for source in code), f"{path.name} never seeds"
    exercises = re.findall(r":::\{exercise\}[^\n]*\n:label: (\S+)", markdown)
    assert exercises, f"{path.name} has no exercise"
    for label in exercises:
        assert re.search(r"(\{solution-start\}|:::\{solution\}) " + re.escape(label) + r"\b", markdown), f"{label} has no solution"
    checked = [cell for cell in notebook if cell["cell_type"] == "code" and text(cell).startswith("# NBVAL_CHECK_OUTPUT")]
    assert len(checked) >= 2, f"{path.name} has {len(checked)} checked output cells; nbval wants two key results"
    for cell in checked:
        # A progress bar or widget has a new model id on every run: nbval could never match it.
        kinds = {kind for output in cell["outputs"] for kind in output.get("data", {})}
        assert "application/vnd.jupyter.widget-view+json" not in kinds, f"a checked cell of {path.name} shows a widget"
        assert cell["outputs"] and cell["execution_count"], f"a checked cell of {path.name} has no stored output (make checked-outputs)"


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_every_cell_has_a_unique_id(path):
    # nbformat 4.5 cells carry ids (missing ones are a warning today, an error in future nbformat).
    ids = [cell.get("id") for cell in cells(path)]
    assert None not in ids and len(set(ids)) == len(ids)
