"""examples/mcp_tools.yaml through the command line: MCP tools in a workflow, end to end."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "mcp_tools.yaml"
PODIUM = str(Path(sys.executable).with_name("podium"))


def podium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [PODIUM, *args],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_the_example_reads_tides_and_logs_through_its_mcp_server(tmp_path: Path) -> None:
    run = podium(tmp_path, "run", str(EXAMPLE), "--store", "memory://", "--json")
    assert run.returncode == 0, run.stderr
    result = json.loads(run.stdout)
    assert result["status"] == "succeeded"
    said = json.loads(result["output"])
    assert json.loads(said["tide_table"])["range_m"] == 6.1
    assert said["log_observation"] == '{"result": "logged to tide-log.txt"}'
    assert (tmp_path / "tide-log.txt").read_text(encoding="utf-8").strip()  # in the cwd


def test_the_example_validates_without_running(tmp_path: Path) -> None:
    run = podium(tmp_path, "validate", str(EXAMPLE))
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith("ok: 1 tasks, 1 agent")
