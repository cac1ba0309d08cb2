"""`podium fork` and `podium compare` on a real SQLite file."""

from __future__ import annotations

from collections.abc import Callable

from tests.cli.helpers import DATA, invoke, invoke_json


def _parent(store: str) -> None:
    code, _ = invoke_json(
        "run", DATA / "report.yaml", "-i", "topic=tides", "--run-id", "p", "--store", store
    )
    assert code == 0


def test_fork_runs_the_task_again_with_a_changed_input(
    store: str, ledger: Callable[[], list[str]]
) -> None:
    _parent(store)
    code, fork = invoke_json(
        "fork", "p", "--from", "write", "-i", "count=3", "--run-id", "f", "--store", store
    )
    assert code == 0
    assert fork["run_id"] == "f"
    # outline was copied, only write ran again; it read the copied outline (2 points, not 3)
    assert ledger() == ["outline", "write", "write"]
    assert fork["output"] == "TIDES POINT 1 / TIDES POINT 2"

    code, shown = invoke_json("show", "f", "--store", store)
    kinds = [e["kind"] for e in shown["events"]]
    assert kinds[:2] == ["RunSubmitted", "RunForked"]
    assert shown["events"][0]["inputs"]["count"] == 3
    forked = shown["events"][1]
    assert (forked["parent"], forked["task"], forked["changes"]) == (
        "p",
        "write",
        {"inputs": {"count": "3"}},
    )


def test_fork_from_the_first_task_runs_everything_again(
    store: str, ledger: Callable[[], list[str]]
) -> None:
    _parent(store)
    code, fork = invoke_json("fork", "p", "--from", "outline", "-i", "count=1", "--store", store)
    assert code == 0
    assert fork["output"] == "TIDES POINT 1"
    assert ledger() == ["outline", "write", "outline", "write"]


def test_fork_errors_are_usage_errors(store: str) -> None:
    _parent(store)
    result = invoke("fork", "p", "--from", "nope", "--store", store)
    assert result.exit_code == 2
    assert "no task 'nope'" in result.stderr
    result = invoke("fork", "p", "--from", "write", "--agent", "ghost", "--store", store)
    assert result.exit_code == 2
    assert "no agent 'ghost'" in result.stderr
    result = invoke("fork", "missing", "--from", "write", "--store", store)
    assert result.exit_code == 2
    result = invoke("fork", "p", "--from", "write", "--run-id", "p", "--store", store)
    assert result.exit_code == 2
    assert "is taken" in result.stderr


def test_compare_lines_up_two_runs_task_by_task(store: str) -> None:
    _parent(store)
    invoke_json(
        "fork", "p", "--from", "write", "--agent", "planner", "--run-id", "f", "--store", store
    )
    code, cmp = invoke_json("compare", "p", "f", "--store", store)
    assert code == 0
    rows = {r["task"]: r for r in cmp["tasks"]}
    assert rows["outline"]["same_output"] is True
    assert rows["outline"]["copied"] == [False, True]
    assert rows["write"]["agent"] == ["writer", "planner"]
    assert rows["write"]["same_output"] is False

    result = invoke("compare", "p", "f", "--store", store)
    assert result.exit_code == 0
    assert "(copied in f)" in result.stdout
    assert "writer → planner" in result.stdout
    assert invoke("compare", "p", "nope", "--store", store).exit_code == 2


def test_without_a_store_every_command_uses_the_per_user_one() -> None:
    """run, runs, fork, compare, feedback and stats agree on the store when none is given."""
    code, parent = invoke_json("run", DATA / "report.yaml", "-i", "topic=tides")
    assert code == 0
    code, fork = invoke_json("fork", parent["run_id"], "--from", "write")
    assert code == 0
    assert invoke("compare", parent["run_id"], fork["run_id"]).exit_code == 0
    assert invoke("feedback", fork["run_id"], "--score", "4").exit_code == 0
    code, listed = invoke_json("runs")
    assert {r["run_id"] for r in listed} == {parent["run_id"], fork["run_id"]}
    code, stats = invoke_json("stats")
    assert stats["runs"] == 2
    assert stats["totals"]["satisfaction"] == 4.0
