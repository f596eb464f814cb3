# cgflow: the two commands of the README are `make book` and `make test`.
# Every target creates the virtual environment .venv itself and installs the pinned set.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.cgflow-installed
export CGFLOW_DEVICE ?= cpu
export MPLBACKEND := Agg
export PYDEVD_DISABLE_FILE_VALIDATION := 1

.PHONY: book test unit notebooks lab data bench lock clean distclean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# torch first, from the CPU build on disk, so that nothing can pull a CUDA build;
# then the lock (which pins torch==2.13.0 again), then the package itself.
$(STAMP): requirements.lock pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $@

## make book: execute every chapter and render the book to _build/html (warnings are errors)
book: $(STAMP)
	$(BIN)/jupyter-book build . --warningiserror --keep-going
	@echo "Open _build/html/index.html in a browser."

## make test: unit tests, then every notebook in fast mode under nbval
test: unit notebooks

unit: $(STAMP)
	CGFLOW_FAST=1 $(BIN)/python -m pytest tests

notebooks: $(STAMP)
	CGFLOW_FAST=1 $(BIN)/python -m pytest --nbval-lax --nbval-sanitize-with tests/sanitize.cfg -p no:cacheprovider book

## make lab: JupyterLab on the book's notebooks
lab: $(STAMP)
	$(BIN)/jupyter lab book

## make data: regenerate the reference data in data/ with OpenMM (resumable)
data: $(STAMP)
	$(BIN)/python -m cgflow.datagen ala2

## make bench: print measured speed, memory and accuracy figures
bench: $(STAMP)
	@for script in benchmarks/*.py; do echo "== $$script"; $(BIN)/python $$script || exit 1; done

## make lock: re-pin the environment from the current .venv
lock: $(STAMP)
	{ sed -n '1,3p' requirements.lock; echo "torch==2.13.0"; \
	  $(BIN)/python -m pip freeze --exclude-editable | grep -v -i -E '^(torch|cgflow)=='; } > requirements.lock.new
	mv requirements.lock.new requirements.lock

clean:
	rm -rf _build .pytest_cache
	find . -name __pycache__ -not -path './$(VENV)/*' -prune -exec rm -rf {} +

distclean: clean
	rm -rf $(VENV)
