# evalsuite: every user-facing job is one make target. `make help` lists them.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export HF_HUB_OFFLINE ?= 1
export PYTHONHASHSEED := 0
IMAGE ?= evalsuite
TORCH_VARIANT ?= cpu

.DEFAULT_GOAL := help
.PHONY: help install browser test test-e2e test-slow lint all paper site bench bench-paper docker clean lock

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-10s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml constraints.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[dev]"
	@touch $(STAMP)

install: $(STAMP) ## create .venv with the pinned dependencies (idempotent)

browser: ## Debian's Chromium for the browser tests (apt-get, as root); without it they skip
	@if command -v chromium >/dev/null || command -v chromium-browser >/dev/null; then :; \
	elif [ "$$(id -u 2>/dev/null)" = 0 ] && command -v apt-get >/dev/null; then \
	  export DEBIAN_FRONTEND=noninteractive; \
	  echo "apt-get install chromium (for the browser tests)"; \
	  apt-get install -y -qq chromium >/dev/null 2>&1 \
	    || { apt-get update -qq && apt-get install -y -qq chromium >/dev/null; } \
	    || echo "make browser: apt-get could not install chromium; the browser tests will skip"; \
	else echo "make browser: no chromium, and installing it needs root and apt-get; the browser tests will skip"; fi

PYTEST := $(BIN)/python -m pytest -q --numprocesses auto --dist loadfile --no-loadscope-reorder --durations=25

test: $(STAMP) browser ## run the test suite on every core (no network, no GPU, no dataset needed)
	$(PYTEST) -m "not slow and not e2e"

test-e2e: $(STAMP) ## the end-to-end tests (whole runs killed, interrupted, resumed; the tutorial): CI runs them after make test
	$(PYTEST) -m "e2e and not slow"

test-slow: $(STAMP) browser ## every test, slow ones too (the container install test: minutes, ~7 GB in /tmp)
	$(PYTEST)

lint: $(STAMP) ## ruff + mypy, hadolint (Dockerfile), actionlint + shellcheck (workflows)
	$(BIN)/ruff check evalsuite tests benchmarks docker
	$(BIN)/mypy
	$(BIN)/mypy docker
	$(BIN)/hadolint Dockerfile
	$(BIN)/actionlint -shellcheck=$(BIN)/shellcheck .github/workflows/*.yml

all: $(STAMP) ## the demo study end to end on the synthetic data (results/demo) and its site (site/)
	EVALSUITE_CACHE=$(CURDIR)/.cache $(BIN)/evalsuite all --preset demo --out results/demo --site site

paper: $(STAMP) ## the paper study on MVTec AD in data/mvtec (downloaded if absent), and its site
	HF_HUB_OFFLINE=0 $(BIN)/python docker/fetch_weights.py
	EVALSUITE_CACHE=$(CURDIR)/.cache $(BIN)/evalsuite run --preset paper --out results/paper
	$(BIN)/evalsuite site --results results/paper --out site

site: $(STAMP) ## the results site of the demo study (results/demo) in site/
	$(BIN)/evalsuite site --results results/demo --out site

bench: $(STAMP) ## benchmarks (speed, memory) — not tests
	$(BIN)/python benchmarks/patchcore_vs_anomalib.py
	$(BIN)/python benchmarks/approximations.py
	$(BIN)/python benchmarks/padim_memory.py

bench-paper: $(STAMP) ## the paper preset at MVTec AD scale: fits, cost-model error, projections, pruned greedy (~25 min)
	$(BIN)/python benchmarks/paper_scale.py
	$(BIN)/python benchmarks/greedy_pruning.py

docker: ## build the container image (IMAGE=evalsuite, TORCH_VARIANT=cpu or e.g. cu130)
	docker build --build-arg TORCH_VARIANT=$(TORCH_VARIANT) -t $(IMAGE) .

lock: ## re-resolve and rewrite constraints.txt (needs the package registry)
	rm -rf /tmp/evalsuite-lock && $(PYTHON) -m venv /tmp/evalsuite-lock
	/tmp/evalsuite-lock/bin/pip install --quiet ".[dev]"
	{ echo "# Full lock of the resolved environment (pip constraints). Regenerate with: make lock"; \
	  /tmp/evalsuite-lock/bin/pip freeze --exclude evalsuite; } > constraints.txt

clean: ## remove caches and generated output (keeps .venv and data/; in site/ only what a build wrote)
	rm -rf .cache results out build dist .pytest_cache .mypy_cache .ruff_cache
	@if [ -e site ] && [ -x $(BIN)/evalsuite ]; then $(BIN)/evalsuite site --clean --out site || true ; fi
