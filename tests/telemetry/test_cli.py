"""``podium run --trace`` and ``podium resume --trace``, and ``PODIUM_TRACE``."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from tests.cli.helpers import invoke

DATA = Path(__file__).parent / "data"
FLOW = DATA / "traced.yaml"


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "path", list(sys.path))  # the CLI adds the file's folder
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("PODIUM_STORE", raising=False)


def console_spans(stderr: str) -> list[dict[str, object]]:
    """The spans the console exporter wrote (JSON objects, one after another)."""
    decoder = json.JSONDecoder()
    spans, at = [], stderr.find("{")
    while at != -1:
        value, end = decoder.raw_decode(stderr, at)
        if isinstance(value, dict) and "context" in value:
            spans.append(value)
        at = stderr.find("{", end)
    return spans


def test_run_with_trace_console_writes_every_span_to_stderr(tmp_path: Path) -> None:
    store = f"sqlite:///{tmp_path / 'runs.db'}"
    result = invoke("run", FLOW, "--store", store, "--trace", "console", "--json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["status"] == "succeeded"  # stdout stays the result
    names = sorted(str(s["name"]) for s in console_spans(result.stderr))
    assert names == [
        "chat test",
        "chat test",
        "execute_tool lookup",
        "invoke_agent researcher",
        "invoke_agent writer",
        "invoke_workflow traced",
    ]


def test_podium_trace_switches_it_on_and_resume_reports_a_finished_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = f"sqlite:///{tmp_path / 'runs.db'}"
    monkeypatch.setenv("PODIUM_TRACE", "console")
    result = invoke("run", FLOW, "--store", store, "--run-id", "r7", "--json")
    assert result.exit_code == 0, result.stderr
    runs = [s for s in console_spans(result.stderr) if s["name"] == "invoke_workflow traced"]
    assert [s["attributes"]["podium.run_id"] for s in runs] == ["r7"]  # type: ignore[index]
    again = invoke("resume", "r7", "--store", store, "--json", "--trace", "off")
    assert again.exit_code == 0, again.stderr
    assert console_spans(again.stderr) == []


def test_a_bad_trace_value_is_a_usage_error(tmp_path: Path) -> None:
    result = invoke("run", FLOW, "--trace", "jaeger")
    assert result.exit_code != 0
    assert "give one of otlp, console, off" in result.stderr
