# cgflow: the two commands of the README are `make book` and `make test`.
# Every target creates the virtual environment .venv itself and installs the pinned set.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.cgflow-installed
export CGFLOW_DEVICE ?= cpu
export PYDEVD_DISABLE_FILE_VALIDATION := 1

.PHONY: book test unit notebooks pages live chromium checked-outputs lab data bench lock clean distclean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# torch first, from the CPU build on disk, so that nothing can pull a CUDA build;
# then the lock (which pins torch==2.13.0 again), then the package itself.
$(STAMP): requirements.lock pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $@

# MathJax served by the book itself (from the npm registry), so that math is typeset offline too.
MATHJAX_VERSION := 3.2.2
MATHJAX := _static/mathjax/tex-mml-chtml.js
$(MATHJAX):
	@command -v npm >/dev/null || { echo "installing npm (Debian package) for MathJax"; \
	  $$( [ "$$(id -u)" = 0 ] || echo sudo ) apt-get update -qq && \
	  $$( [ "$$(id -u)" = 0 ] || echo sudo ) apt-get install -y -qq --no-install-recommends npm >/dev/null; }
	npm install --silent --no-save --no-audit --no-fund --prefix _build/npm mathjax@$(MATHJAX_VERSION)
	mkdir -p _static/mathjax
	cd _build/npm/node_modules/mathjax/es5 && cp -r tex-mml-chtml.js input output ui a11y adaptors $(CURDIR)/_static/mathjax/

## make book: execute every chapter and render the book to _build/html (warnings are errors);
## without progress bars, which a static page would show frozen at their first state
## The execution cache knows the notebooks' code only: when the package, the shipped data or a
## benchmark record that a chapter reads changes, a build folder's cached outputs go (and the
## models that chapters saved in book/_results), so that no page shows results of older code.
INPUTS_HASH = $(shell cat $(sort $(wildcard cgflow/*.py cgflow/*/*.py benchmarks/results/*.json)) data/MANIFEST.json | sha256sum | cut -c1-16)
define fresh_cache
	@if [ "$$(cat $(1)/.book-inputs 2>/dev/null)" != "$(INPUTS_HASH)" ]; then \
	  echo "cgflow, data or benchmark records changed: every chapter in $(1) runs afresh"; \
	  rm -rf $(1)/.jupyter_cache book/_results; mkdir -p $(1); echo $(INPUTS_HASH) > $(1)/.book-inputs; fi
endef

book: $(STAMP) $(MATHJAX)
	$(call fresh_cache,_build)
	CGFLOW_PROGRESS=0 $(BIN)/jupyter-book build . --warningiserror --keep-going
	@echo "Open _build/html/index.html in a browser."

## make test: unit tests, every notebook in fast mode under nbval, the rendered pages, the chapters live in JupyterLab
test: unit notebooks pages live

unit: $(STAMP)
	CGFLOW_FAST=1 MPLBACKEND=Agg $(BIN)/python -m pytest tests --ignore=tests/pages --ignore=tests/live

notebooks: $(STAMP)
	CGFLOW_FAST=1 $(BIN)/python -m pytest --nbval-lax --nbval-sanitize-with tests/sanitize.cfg -p no:cacheprovider book

# The book built in fast mode into its own folder (its execution cache must never mix with the
# teaching build's), opened page by page in headless Chromium.
pages: $(STAMP) chromium $(MATHJAX)
	$(call fresh_cache,_build/fast/_build)
	CGFLOW_FAST=1 CGFLOW_PROGRESS=0 $(BIN)/jupyter-book build . --path-output _build/fast --warningiserror --keep-going --quiet
	CGFLOW_BOOK_HTML=_build/fast/_build/html $(BIN)/python -m pytest tests/pages

# Every chapter run in JupyterLab (fast mode) through headless Chromium: no errors, widgets and
# 3D views render. Screenshots of failures land in _build/live/.
live: $(STAMP) chromium
	$(BIN)/python -m pytest tests/live

# Debian's chromium package, installed when missing (needs root or sudo).
chromium:
	@command -v chromium >/dev/null || { echo "installing chromium (Debian package) for the page tests"; \
	  $$( [ "$$(id -u)" = 0 ] || echo sudo ) apt-get update -qq && \
	  $$( [ "$$(id -u)" = 0 ] || echo sudo ) apt-get install -y -qq --no-install-recommends chromium >/dev/null; }

## make checked-outputs: store the fast-mode outputs of the cells that nbval checks (after a change that moves them)
checked-outputs: $(STAMP)
	CGFLOW_FAST=1 MPLBACKEND=Agg $(BIN)/python tests/refresh_checked_outputs.py

## make lab: JupyterLab on the book's notebooks
lab: $(STAMP)
	$(BIN)/jupyter lab book

## make data [DATASET=ala2|cln025|cln025_md]: regenerate reference data in data/ with OpenMM (resumable)
DATASET ?= ala2
data: $(STAMP)
	$(BIN)/python -m cgflow.datagen $(DATASET)

## make bench: print measured speed, memory and accuracy figures
bench: $(STAMP)
	@for script in benchmarks/*.py; do echo "== $$script"; $(BIN)/python $$script || exit 1; done

## make lock: re-pin the environment from the current .venv
lock: $(STAMP)
	{ grep '^#' requirements.lock; echo "torch==2.13.0"; \
	  $(BIN)/python -m pip freeze --all --exclude-editable | grep -v -i -E '^(torch|cgflow|pip)=='; } > requirements.lock.new
	mv requirements.lock.new requirements.lock

## make clean: remove the built book, caches and the models the chapters saved in book/_results
clean:
	rm -rf _build .pytest_cache book/_results _static/mathjax
	find . -name __pycache__ -not -path './$(VENV)/*' -prune -exec rm -rf {} +

distclean: clean
	rm -rf $(VENV)
