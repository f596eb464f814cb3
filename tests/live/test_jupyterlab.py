"""The chapters as a student runs them: JupyterLab in headless Chromium, every cell executed.

Run by ``make live`` (part of ``make test``). A JupyterLab server from the book's environment
starts on a free local port over a temporary copy of ``book/`` (so autosave never touches the
sources), in fast mode; Playwright drives Debian's ``chromium`` (no browser is downloaded) with
WebGL on SwiftShader. For every chapter: open it, run all cells through JupyterLab's own
command, wait for the kernel, then check that no cell has an error output, no widget failed to
render ("Error displaying widget", the nglview version mismatch), the kernel is alive, and the
3D views draw a molecule (a non-blank WebGL canvas), and each explorer redraws its picture when
a slider moves. Screenshots of failing pages go to
``_build/live/``. The server is shut down whatever happens.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest

playwright = pytest.importorskip("playwright.sync_api")

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "_build" / "live"
TOKEN = "cgflow-live-test"
#: chapter -> number of 3D views (WebGL canvases) it must draw
CHAPTERS = {
    "01_coarse_graining.ipynb": 0,
    "02_normalizing_flows.ipynb": 0,
    "03_alanine_dipeptide.ipynb": 1,
    "04_force_matching.ipynb": 0,
    "05_teacher.ipynb": 0,
    "06_flow_matching.ipynb": 0,
    "07_data_efficiency.ipynb": 0,
    "09_your_molecule.ipynb": 0,
    "A1_installation.ipynb": 1,
}
#: chapter -> number of explorers (cgflow.explore: sliders over a redrawn picture) it shows
EXPLORERS = {"01_coarse_graining.ipynb": 1, "02_normalizing_flows.ipynb": 1, "03_alanine_dipeptide.ipynb": 1, "06_flow_matching.ipynb": 1}
RUN_TIMEOUT_MS = 900_000  # one chapter in fast mode, with room for a loaded 2-core machine


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def lab():
    """Base URL of a JupyterLab server over a copy of the book; stopped on teardown."""
    workdir = Path(tempfile.mkdtemp(prefix="cgflow-live-"))
    shutil.copytree(ROOT / "book", workdir / "book", ignore=shutil.ignore_patterns("_results", ".ipynb_checkpoints"))
    settings = workdir / "settings" / "@jupyterlab" / "apputils-extension"
    settings.mkdir(parents=True)
    # no "get notified about news?" toast over the outputs
    (settings / "notification.jupyterlab-settings").write_text(json.dumps({"fetchNews": "false", "checkForUpdates": False}))
    port = free_port()
    log = open(workdir / "lab.log", "w")
    server = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--no-browser", "--allow-root", "--ServerApp.ip=127.0.0.1",
         f"--ServerApp.port={port}", "--ServerApp.port_retries=0", f"--IdentityProvider.token={TOKEN}",
         f"--ServerApp.root_dir={workdir / 'book'}", f"--LabApp.user_settings_dir={workdir / 'settings'}",
         "--LabApp.expose_app_in_browser=True"],
        env=dict(os.environ, CGFLOW_FAST="1", MPLBACKEND="module://matplotlib_inline.backend_inline"),
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                urllib.request.urlopen(f"{url}/api/status?token={TOKEN}", timeout=2)
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"JupyterLab did not start:\n{(workdir / 'lab.log').read_text()[-3000:]}")
                time.sleep(0.5)
        yield url
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
        log.close()
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture(scope="module")
def browser():
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.fail("Chromium is not installed (Debian: apt-get install chromium); make test installs it")
    with playwright.sync_playwright() as driver:
        launched = driver.chromium.launch(
            executable_path=chromium, args=["--no-sandbox", "--use-angle=swiftshader", "--enable-unsafe-swiftshader"]
        )
        yield launched
        launched.close()


ERROR_OUTPUTS = """() => {
    const model = window.jupyterapp.shell.currentWidget.content.model;
    const errors = [];
    for (let i = 0; i < model.cells.length; i++) {
        const cell = model.cells.get(i);
        if (cell.type !== 'code') continue;
        for (let j = 0; j < cell.outputs.length; j++) {
            const output = cell.outputs.get(j).toJSON();
            if (output.output_type === 'error') errors.push(`cell ${i}: ${output.ename}: ${output.evalue}`);
        }
    }
    return errors;
}"""

RUN_ALL = """async () => {
    const panel = window.jupyterapp.shell.currentWidget;
    await panel.context.ready;
    await panel.sessionContext.ready;
    return await window.jupyterapp.commands.execute('notebook:run-all-cells');
}"""


def drawn_pixels(png: bytes) -> tuple[int, float]:
    """Distinct colours and the fraction of pixels that differ from the most common colour."""
    import matplotlib.image

    pixels = matplotlib.image.imread(io.BytesIO(png), format="png")[..., :3].reshape(-1, 3)
    colours, counts = np.unique((pixels * 255).round().astype(np.uint8), axis=0, return_counts=True)
    return len(colours), 1.0 - counts.max() / counts.sum()


@pytest.mark.parametrize("chapter", sorted(CHAPTERS))
def test_chapter_runs_in_jupyterlab(lab, browser, chapter):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})  # no tabs restored from another chapter
    page = context.new_page()
    console_errors = []
    page.on("console", lambda message: console_errors.append(message.text) if message.type == "error" else None)
    try:
        page.goto(f"{lab}/lab/tree/{chapter}?reset&token={TOKEN}")
        page.wait_for_function(
            "() => window.jupyterapp && window.jupyterapp.shell.currentWidget"
            " && window.jupyterapp.shell.currentWidget.sessionContext", timeout=120_000,
        )
        page.set_default_timeout(RUN_TIMEOUT_MS)
        assert page.evaluate(RUN_ALL), f"{chapter}: JupyterLab reports that running all cells failed"
        page.wait_for_function("() => window.jupyterapp.shell.currentWidget.sessionContext.session.kernel.status === 'idle'")
        assert page.evaluate(ERROR_OUTPUTS) == [], f"{chapter}: cells with errors"
        kernel = page.evaluate("() => window.jupyterapp.shell.currentWidget.sessionContext.session.kernel.connectionStatus")
        assert kernel == "connected", f"{chapter}: the kernel is {kernel}"
        text = "\n".join(page.locator(".jp-OutputArea").all_inner_texts())  # outputs only, not the prose
        for failure in ("Error displaying widget", "Click to show javascript error", "is not registered"):
            assert failure not in text, f"{chapter}: a widget did not render ({failure!r})"
        assert not [e for e in console_errors if "nglview-js-widgets" in e or "Failed to load model class" in e], console_errors
        canvases = page.locator(".jp-OutputArea canvas")
        assert canvases.count() >= CHAPTERS[chapter], f"{chapter}: {canvases.count()} 3D views, expected {CHAPTERS[chapter]}"
        for index in range(CHAPTERS[chapter]):
            canvas = canvases.nth(index)
            canvas.scroll_into_view_if_needed()
            page.wait_for_timeout(1500)  # let NGL draw after scrolling
            colours, drawn = drawn_pixels(canvas.screenshot())
            assert colours > 20 and drawn > 0.002, f"{chapter}: 3D view {index} is blank ({colours} colours, {drawn:.2%} drawn)"
        explorers = page.locator(".jp-OutputArea .widget-vbox:has(img.widget-image)")
        assert explorers.count() >= EXPLORERS.get(chapter, 0), f"{chapter}: {explorers.count()} explorers"
        for index in range(EXPLORERS.get(chapter, 0)):
            explorer = explorers.nth(index)
            explorer.scroll_into_view_if_needed()
            picture = explorer.locator("img.widget-image").first
            before = picture.get_attribute("src")
            handle = explorer.locator(".noUi-handle").first
            handle.focus()
            page.keyboard.press("ArrowRight")   # moves the slider one step, as a student's arrow key does
            try:
                page.wait_for_function("([image, old]) => image.getAttribute('src') !== old",
                                       arg=[picture.element_handle(), before], timeout=120_000)
            except playwright.TimeoutError:
                pytest.fail(f"{chapter}: explorer {index} did not redraw its picture within 120 s of a slider move")
    except Exception:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"{Path(chapter).stem}.png"), full_page=True)
        (ARTIFACTS / f"{Path(chapter).stem}.console.txt").write_text("\n".join(console_errors))
        raise
    finally:
        context.close()
        shut_down_kernels(lab)


def shut_down_kernels(lab: str) -> None:
    """End the chapter's kernel so that the next chapter has the machine to itself."""
    sessions = json.load(urllib.request.urlopen(f"{lab}/api/sessions?token={TOKEN}", timeout=30))
    for session in sessions:
        request = urllib.request.Request(f"{lab}/api/sessions/{session['id']}?token={TOKEN}", method="DELETE")
        urllib.request.urlopen(request, timeout=60)
