# Two commands for a fresh machine: `make demo` and `make test`.
# Both create .venv when missing and install Modelyard with all extras,
# pinned by constraints.txt; nothing else needs installing by hand.

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.modelyard-installed
PYTEST_ARGS ?=
# make demo DEMO_ARGS=--keep-serving ends by serving the web UI and printing its URL.
DEMO_ARGS ?=

.PHONY: install demo test lint format bench bench-serving clean

$(STAMP): pyproject.toml constraints.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Modelyard needs Python 3.11 or newer; set PYTHON=python3.11")'
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c constraints.txt -e '.[all]'
	@touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/modelyard quickstart $(DEMO_ARGS)

test: $(STAMP) lint
	$(PY) -m pytest -n 2 --dist loadgroup $(PYTEST_ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests benchmarks examples
	$(VENV)/bin/ruff format --check src tests benchmarks examples

format: $(STAMP)
	$(VENV)/bin/ruff format src tests benchmarks
	$(VENV)/bin/ruff check --fix src tests benchmarks

bench: $(STAMP)
	$(PY) benchmarks/tracking.py

# About 12 minutes: four servers, 1- and 100-row bodies, concurrency 1/8/32, 20 s a point.
bench-serving: $(STAMP)
	$(PY) benchmarks/serving.py

clean:
	rm -rf $(VENV) .modelyard build src/*.egg-info .pytest_cache .ruff_cache
