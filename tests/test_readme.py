"""The README's examples run as written (docs that are not executed drift)."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from podium.plan import load_workflow

README = Path(__file__).parent.parent / "README.md"
PODIUM = str(Path(sys.executable).parent / "podium")


def blocks(language: str) -> list[str]:
    text = README.read_text(encoding="utf-8")
    return re.findall(rf"```{language}\n(.*?)```", text, flags=re.S)


def python_blocks() -> list[str]:
    return blocks("python")


def test_the_30_second_example_runs(tmp_path: Path) -> None:
    example = next(b for b in python_blocks() if "asyncio.run(main())" in b)
    script = tmp_path / "example.py"
    script.write_text(example, encoding="utf-8")
    proc = subprocess.run(
        [sys.executable, str(script)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, "PYTHONPATH": str(README.parent)},
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "succeeded ['notes on tides', 'notes on volcanoes']"
    assert (tmp_path / "podium.db").exists()


@pytest.mark.slow
def test_the_workflow_file_and_commands_run_as_written(tmp_path: Path) -> None:
    """The 30-second example as a file: the YAML next to the Python saved as mymodule.py, and
    every command of the block after it, exactly as the README gives them."""
    python = next(b for b in python_blocks() if "asyncio.run(main())" in b)
    (tmp_path / "mymodule.py").write_text(python, encoding="utf-8")
    yaml = next(b for b in blocks("yaml") if "mymodule:fetch" in b)
    (tmp_path / "notes.yaml").write_text(yaml, encoding="utf-8")
    commands = next(b for b in blocks("bash") if "podium validate notes.yaml" in b)
    env = {**os.environ, "PODIUM_STORE": str(tmp_path / "podium.db")}
    run_id = ""
    for line in commands.strip().splitlines():
        argv = shlex.split(line.replace("RUN_ID", run_id))
        assert argv[0] == "podium"
        proc = subprocess.run(
            [PODIUM, *argv[1:]],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
            env=env,
        )
        assert proc.returncode == 0, (line, proc.stdout, proc.stderr)
        if argv[1] == "run":
            result = json.loads(proc.stdout)
            assert result["status"] == "succeeded"
            assert result["output"] == ["notes on tides", "notes on volcanoes"]
            run_id = result["run_id"]


def test_the_docs_stand_on_their_own() -> None:
    """The README and docs/ point at nothing outside the repository."""
    for path in [README, *sorted((README.parent / "docs").glob("*.md"))]:
        assert "../" not in path.read_text(encoding="utf-8"), path


def test_the_standard_tools_block_loads(tmp_path: Path) -> None:
    """The README's `tools:` example is a valid section: every kind and option exists."""
    block = next(b for b in blocks("yaml") if "use: calculator" in b)
    data = Path(__file__).parent / "tools" / "data" / "openapi" / "orders.yaml"
    (tmp_path / "orders.yaml").write_text(data.read_text(encoding="utf-8"), encoding="utf-8")
    (tmp_path / "handbook").mkdir()
    names = ["calc", "shop", "docs_search", "docs_get", "page", "code", "mail"]
    agents = f"agents:\n  a: {{model: test, tools: {names}}}\n"
    text = f"name: t\n{block}\n{agents}tasks:\n  - id: x\n    agent: a\n"
    flow = tmp_path / "flow.yaml"
    flow.write_text(text, encoding="utf-8")
    workflow = load_workflow(str(flow))
    [agent] = workflow.agents
    assert [t.name for t in agent.tools] == names
