# The two set-up commands of the README: `make run` (install, then run the main job) and
# `make test` (install with the test tools, then every gate). Both work on a fresh machine.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: run test install install-dev lint typecheck pytest bench clean

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade pip

install: $(BIN)/python
	$(BIN)/pip install -e '.[local]'

# The tests cover every relevance the product offers, so `make test` installs the `embeddings`
# extra too. It brings torch: pinned to the CPU build (a 190 MB wheel, in the local wheel
# directory here; about a minute to install), because an unpinned torch resolves to the CUDA
# build and its multi-GB NVIDIA libraries. Elsewhere, point pip at PyTorch's CPU wheel index, or
# pass TORCH=... to choose.
TORCH ?= torch==2.13.0+cpu

install-dev: $(BIN)/python
	$(BIN)/pip install -e '.[dev,local,embeddings]' '$(TORCH)'

run: install
	$(BIN)/podium run examples/research_report.yaml

lint:
	$(BIN)/ruff check podium tests bench examples
	$(BIN)/ruff format --check podium tests bench examples

typecheck:
	$(BIN)/mypy

pytest:
	$(BIN)/pytest

test: install-dev lint typecheck pytest

bench: install-dev
	$(BIN)/pip install -e '.[bench]'
	$(BIN)/python bench/run.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache podium.db*
