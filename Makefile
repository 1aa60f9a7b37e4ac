# Two commands on a fresh machine:
#   make demo   - set up, then run the demo of a whole province on the embedded SQLite database
#   make test   - set up, then run the whole suite (SQLite and PostgreSQL)
# and, before a commit:
#   make lint   - ruff (lint and format check), mypy, and the import contracts of docs/architecture.md
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
# pytest-xdist workers; the machine has 2 cores
WORKERS ?= 2

.PHONY: install demo test lint format bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip==25.3
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

demo: install
	$(BIN)/equicover demo

test: install
	$(BIN)/python -m pytest -n $(WORKERS) -p no:cacheprovider

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: install
	$(BIN)/python bench/generate_bench.py
	$(BIN)/python bench/settle_bench.py
	$(BIN)/python bench/dedupe_bench.py
	$(BIN)/python bench/anomaly_eval.py
	$(BIN)/python bench/api_load.py

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache .hypothesis .ruff_cache .mypy_cache .import_linter_cache demo-output equicover.db equicover.db-* test-artifacts
