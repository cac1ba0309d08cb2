"""`podium runs`, `show`, `validate`, `schema` and `--version`, in-process."""

from __future__ import annotations

import json
from typing import get_args

import msgspec
import pytest

import podium
from podium.events import AnyEvent
from tests.cli.helpers import DATA, invoke, invoke_json

REPORT = DATA / "report.yaml"
EVENT_KINDS = {cls.__name__ for cls in get_args(AnyEvent)}


def _run(store: str, run_id: str, file: str = "report.yaml") -> None:
    inputs = ["-i", "topic=tides"] if file == "report.yaml" else []
    invoke("run", DATA / file, "--store", store, "--run-id", run_id, "--json", *inputs)


def test_runs_lists_the_most_recent_first(store: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "200")  # one line a run, to read the columns back
    _run(store, "first")
    _run(store, "second", "failing.yaml")
    code, runs = invoke_json("runs", "--store", store)
    assert code == 0
    assert [(r["run_id"], r["name"], r["status"]) for r in runs] == [
        ("second", "failing", "failed"),
        ("first", "report", "succeeded"),
    ]
    assert runs[1]["events"] == 7
    assert runs[1]["created_at"] <= runs[0]["created_at"]
    _, limited = invoke_json("runs", "--store", store, "--limit", "1")
    assert [r["run_id"] for r in limited] == ["second"]
    table = invoke("runs", "--store", store)
    assert table.exit_code == 0
    header, *rows = table.stdout.splitlines()
    assert header.split() == [
        "run", "name", "status", "created", "duration", "tokens", "cost", "driven", "by",
    ]  # fmt: skip
    assert rows[0].split()[:3] == ["second", "failing", "failed"]
    assert rows[1].split()[-3:] == ["-", "-", "-"]  # no model: no tokens, no cost; finished


def test_runs_of_an_empty_store(store: str) -> None:
    assert invoke_json("runs", "--store", store) == (0, [])
    assert invoke("runs", "--store", store).stdout.strip() == "no runs yet"


def test_show_json_is_the_journal(store: str) -> None:
    _run(store, "shown")
    code, shown = invoke_json("show", "shown", "--store", store)
    assert code == 0
    assert set(shown) == {"run_id", "status", "usage", "events"}
    assert (shown["run_id"], shown["status"]) == ("shown", "succeeded")
    kinds = [(e["kind"], e.get("task")) for e in shown["events"]]
    assert kinds == [
        ("RunSubmitted", None),
        ("PlanAccepted", None),
        ("TaskStarted", "outline"),
        ("TaskSucceeded", "outline"),
        ("TaskStarted", "write"),
        ("TaskSucceeded", "write"),
        ("RunSucceeded", None),
    ]
    assert [e["seq"] for e in shown["events"]] == list(range(7))
    assert shown["events"][0]["inputs"] == {"topic": "tides", "count": 2}


def test_show_prints_a_timeline_and_the_status(store: str) -> None:
    _run(store, "broken", "failing.yaml")
    result = invoke("show", "broken", "--store", store)
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["seq", "time", "kind", "task", "agent", "details"]
    assert lines[1].split()[:3] == ["0", "+0.000s", "RunSubmitted"]
    failed = next(line for line in lines if "TaskFailed" in line)
    assert failed.split()[2:6] == ["TaskFailed", "explode", "breaker", "RuntimeError:"]
    words = " ".join(result.stdout.split())  # details wrap at the console's width
    assert "RuntimeError: the boom agent always fails" in words
    assert "TaskSkipped after reason=needs 'explode', which did not succeed" in words
    why = "error: task 'explode' failed: RuntimeError: the boom agent always fails"
    assert words.endswith(f"run broken failed ({why})")


def test_show_of_an_unknown_run_is_a_usage_error(store: str) -> None:
    result = invoke("show", "ghost", "--store", store)
    assert result.exit_code == 2
    assert result.stderr.startswith("error: no run 'ghost' in ")


def test_validate_counts_tasks_and_agents() -> None:
    result = invoke("validate", REPORT)
    assert (result.exit_code, result.stdout) == (0, "ok: 2 tasks, 2 agents\n")


def test_validate_lists_every_problem() -> None:
    result = invoke("validate", DATA / "invalid.yaml")
    assert result.exit_code == 2
    assert result.stdout == ""
    problems = [line.strip() for line in result.stderr.splitlines()[1:]]
    assert len(problems) == 2
    assert problems[0].endswith(
        "invalid.yaml:7: tasks.outline.agent: unknown agent 'planer' (known: planner)"
    )
    assert problems[1].endswith("invalid.yaml:10: tasks.write.needs: needs unknown task 'missing'")


def test_validate_of_a_file_that_is_not_yaml() -> None:
    result = invoke("validate", DATA / "cli_test_agents.py")
    assert result.exit_code == 2
    assert "cli_test_agents.py" in result.stderr
    assert "Traceback" not in result.stderr


def test_schema_events_is_the_event_json_schema() -> None:
    result = invoke("schema", "events")
    assert result.exit_code == 0
    schema = json.loads(result.stdout)
    assert set(schema["$defs"]) >= EVENT_KINDS
    tags = {
        d["properties"]["kind"]["enum"][0]
        for d in schema["$defs"].values()
        if "kind" in d.get("properties", {})
    }
    assert tags == EVENT_KINDS
    assert msgspec.json.decode(result.stdout) == schema


def test_version_and_help() -> None:
    assert invoke("--version").stdout == f"podium {podium.__version__}\n"
    helped = invoke("--help")
    assert helped.exit_code == 0
    for command in ("run", "resume", "runs", "show", "validate", "schema"):
        assert command in helped.stdout
