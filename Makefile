# evalsuite: every user-facing job is one make target. `make help` lists them.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export HF_HUB_OFFLINE ?= 1
export PYTHONHASHSEED := 0

.DEFAULT_GOAL := help
.PHONY: help install test test-slow lint all site bench clean lock

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-10s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml constraints.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[dev]"
	@touch $(STAMP)

install: $(STAMP) ## create .venv with the pinned dependencies (idempotent)

test: $(STAMP) ## run the test suite (no network, no GPU, no dataset needed)
	$(BIN)/python -m pytest -q -m "not slow"

test-slow: $(STAMP) ## run the slow tests too
	$(BIN)/python -m pytest -q

lint: $(STAMP) ## ruff + mypy
	$(BIN)/ruff check evalsuite tests benchmarks
	$(BIN)/mypy

all: $(STAMP) ## the demo study end to end on the synthetic data (results/demo)
	EVALSUITE_CACHE=$(CURDIR)/.cache $(BIN)/evalsuite run --preset demo --out results/demo

bench: $(STAMP) ## benchmarks (speed, memory) — not tests
	$(BIN)/python benchmarks/patchcore_vs_anomalib.py

lock: ## re-resolve and rewrite constraints.txt (needs the package registry)
	rm -rf /tmp/evalsuite-lock && $(PYTHON) -m venv /tmp/evalsuite-lock
	/tmp/evalsuite-lock/bin/pip install --quiet ".[dev]"
	{ echo "# Full lock of the resolved environment (pip constraints). Regenerate with: make lock"; \
	  /tmp/evalsuite-lock/bin/pip freeze --exclude evalsuite; } > constraints.txt

clean: ## remove caches and generated output (keeps .venv)
	rm -rf .cache results site/*.html site/assets .pytest_cache .mypy_cache .ruff_cache
