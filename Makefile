# The README's two commands (and the manual's build). Each creates .venv and installs the suite on first use.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cksum < pyproject.toml | cut -d' ' -f1)
ARGS   ?=
# test workers (pytest-xdist): one a core, at most 4 (each holds TensorFlow and a JAX process);
# JOBS=0 runs the tests in this one process
JOBS   ?= $(shell n=$$(nproc 2>/dev/null || echo 2); [ $$n -gt 4 ] && n=4; echo $$n)

.PHONY: bench test test-fast docs lint install clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[jax,dev,ray,mlflow]'
	rm -f $(VENV)/.installed-* && touch $@

install: $(STAMP)

bench: $(STAMP)  ## train and compare dcgan, gan, ae; writes runs/<time>-<dataset>/report.md
	$(BIN)/python -m benchmarks run $(ARGS)

test: $(STAMP)   ## the test suite, both tiers (real-data tests run when BENCHMARKS_DATA_DIR is set)
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -q --benchmark-disable --durations=25 -n $(JOBS) --dist loadgroup $(ARGS)  # benchmarks: once, untimed

test-fast: $(STAMP)  ## while developing: the tests not marked slow (no training, no real data)
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -q --benchmark-disable -m "not slow" -n $(JOBS) --dist loadgroup $(ARGS)

docs: $(STAMP)   ## the manual: the metrics table from metrics/info.py, then the site in site/
	$(BIN)/python -m metrics.docs docs/metrics.md
	$(BIN)/mkdocs build --strict --quiet

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache site
