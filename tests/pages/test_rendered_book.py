"""The rendered book, opened in headless Chromium: every chapter page shows its figures and
its math, and no cell output is an error.

Run by ``make pages`` (part of ``make test``), which first builds the book in fast mode into
``_build/fast`` and points ``CGFLOW_BOOK_HTML`` at the HTML. Chromium executes the page's
scripts; ``--dump-dom`` returns the document after they ran. MathJax is served by the book
itself, so every math element Sphinx writes must come back typeset (an ``mjx-container``) even
without internet, and no progress bar may be left frozen on a page.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from html.parser import HTMLParser
from pathlib import Path

import pytest

HTML = os.environ.get("CGFLOW_BOOK_HTML")
pytestmark = pytest.mark.skipif(HTML is None, reason="set CGFLOW_BOOK_HTML to a built book (make pages does)")

#: chapter page -> (number of figures it makes, whether it has math)
CHAPTERS = {
    "book/01_coarse_graining.html": (4, True),
    "book/02_normalizing_flows.html": (4, True),
    "book/03_alanine_dipeptide.html": (4, True),
    "book/04_force_matching.html": (3, True),
    "book/05_teacher.html": (3, True),
    "book/06_flow_matching.html": (2, True),
    "book/07_data_efficiency.html": (2, True),
    "book/09_your_molecule.html": (1, True),
}
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
#: The text of a tqdm bar ("  0%|          | 0/20000 [00:00<?, ?step/s]"), which a static page
#: would show frozen at its first state.
PROGRESS_BAR = re.compile(r"\d+%\|.*?\| *\d+/\d+ \[")


class PageContents(HTMLParser):
    """Collects images, math elements and error outputs of a rendered page."""

    def __init__(self):
        super().__init__()
        self.images: list[str] = []
        self.math = 0
        self.typeset = 0
        self.errors = 0

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        classes = (attributes.get("class") or "").split()
        if tag == "img" and attributes.get("src"):
            self.images.append(attributes["src"])
        if "math" in classes:
            self.math += 1
        if tag == "mjx-container":
            self.typeset += 1
        if ("output" in classes and "error" in classes) or "traceback" in classes:
            self.errors += 1


def rendered(page: Path) -> str:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.fail("Chromium is not installed (Debian: apt-get install chromium); make pages installs it")
    with tempfile.TemporaryDirectory() as profile:
        completed = subprocess.run(
            [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={profile}", "--virtual-time-budget=5000", "--dump-dom", page.resolve().as_uri()],
            capture_output=True, text=True, timeout=120,
        )
    assert completed.returncode == 0, completed.stderr[-2000:]
    return completed.stdout


@pytest.mark.parametrize("name", sorted(CHAPTERS))
def test_chapter_page_shows_figures_and_math(name):
    page = Path(HTML) / name
    assert page.exists(), f"{page} was not built; is the chapter in _toc.yml?"
    dom = rendered(page)
    contents = PageContents()
    contents.feed(dom)
    minimum_figures, has_math = CHAPTERS[name]
    figures = [src for src in contents.images if "_images/" in src]
    assert len(figures) >= minimum_figures, f"{name}: {len(figures)} figures, expected at least {minimum_figures}"
    for src in figures:
        image = (page.parent / src).resolve()
        assert image.exists(), f"{name}: figure {src} is missing"
        header = image.read_bytes()[:8]
        assert header == PNG_SIGNATURE or image.suffix == ".svg", f"{name}: {src} is not a PNG"
    if has_math:
        assert contents.math > 0, f"{name}: no math elements"
        assert contents.typeset >= contents.math, f"{name}: {contents.typeset} of {contents.math} math elements typeset"
    assert contents.errors == 0, f"{name}: {contents.errors} error outputs"
    assert "Traceback (most recent call last)" not in dom, f"{name}: a traceback is shown"
    frozen = PROGRESS_BAR.search(dom)
    assert frozen is None, f"{name}: a progress bar is shown frozen: {frozen.group(0)!r}"


def test_api_reference_lists_the_public_api():
    page = Path(HTML) / "book/A2_api.html"
    assert page.exists(), f"{page} was not built; is the appendix in _toc.yml?"
    dom = rendered(page)
    for target in ("cgflow.cgnet.CGNet", "cgflow.cgnet.CGNet.fit", "cgflow.flows.AugmentedFlow", "cgflow.generalised.internal_projection",
                   "cgflow.simulate.ParallelTempering", "cgflow.analysis.ramachandran_scores", "cgflow.data.load", "cgflow.presets.cold_frames"):
        assert f'id="{target}"' in dom, f"the API reference lacks {target}"
    assert dom.count('class="sig-name descname"') > 150
