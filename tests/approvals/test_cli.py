"""`podium run` parks, `podium approvals` lists, `podium approve` / `reject` decide and resume."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from podium.cli import app
from tests.approvals.conftest import read_ledger

DATA = Path(__file__).parent / "data"


def invoke(*args: object) -> Result:
    result = CliRunner().invoke(app, [str(a) for a in args])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result


def as_json(result: Result) -> Any:
    return json.loads(result.stdout)


@pytest.fixture
def store(isolated: Path) -> str:
    return f"sqlite:///{isolated / 'runs.db'}"


def park(store: str) -> str:
    result = invoke("run", DATA / "gated.yaml", "--store", store, "--run-id", "r1", "--json")
    assert result.exit_code == 1, result.stderr
    data = as_json(result)
    assert data["status"] == "waiting"
    assert data["reason"] == "approval"
    assert data["tasks"]["send"]["status"] == "waiting"
    return str(data["run_id"])


def test_run_parks_and_approve_resumes_it(store: str, isolated: Path) -> None:
    run_id = park(store)
    assert sorted(read_ledger(isolated)) == ["draft", "side"]

    listed = invoke("approvals", "--store", store, "--json")
    assert listed.exit_code == 0
    [pending] = as_json(listed)
    assert (pending["run_id"], pending["task"], pending["action"]) == (run_id, "send", "task")
    assert pending["instruction"] == "send to ann"
    assert len(pending["action_hash"]) == 64

    table = invoke("approvals", "--store", store)
    assert "send" in table.stdout
    assert "requires" in table.stdout

    done = invoke(
        "approve", run_id, "--as", "alice", "--comment", "fine", "--store", store, "--json"
    )
    assert done.exit_code == 0, done.stderr
    data = as_json(done)
    assert data["status"] == "succeeded"
    assert data["output"] == "done done"
    assert sorted(read_ledger(isolated)) == ["done", "draft", "send", "side"]
    assert as_json(invoke("approvals", "--store", store, "--json")) == []
    shown = as_json(invoke("show", run_id, "--store", store, "--json"))
    [granted] = [e for e in shown["events"] if e["kind"] == "ApprovalGranted"]
    assert (granted["by"], granted["comment"]) == ("alice", "fine")


def test_reject_fails_the_run(store: str, isolated: Path) -> None:
    run_id = park(store)
    rejected = invoke("reject", run_id, "send", "--as", "bob", "--store", store)
    assert rejected.exit_code == 1
    assert "rejected run task 'send' (by bob)" in rejected.stdout
    assert "failed" in rejected.stdout
    assert "send" not in read_ledger(isolated)
    data = as_json(invoke("resume", run_id, "--store", store, "--json"))
    assert data["status"] == "failed"
    assert data["tasks"]["send"]["error"]["type"] == "approval_rejected"


def test_no_resume_only_records_the_decision(store: str, isolated: Path) -> None:
    run_id = park(store)
    noted = invoke("approve", run_id, "--as", "carol", "--no-resume", "--store", store, "--json")
    assert noted.exit_code == 0, noted.stderr
    data = as_json(noted)
    assert (data["decision"], data["by"], data["task"]) == ("approved", "carol", "send")
    assert "send" not in read_ledger(isolated)
    text = invoke("reject", run_id, "--as", "x", "--no-resume", "--store", store)
    assert text.exit_code == 2  # nothing left to decide
    assert "no pending approval" in text.stderr
    resumed = invoke("resume", run_id, "--store", store, "--json")
    assert as_json(resumed)["status"] == "succeeded"


def test_human_output_of_no_resume(store: str) -> None:
    run_id = park(store)
    noted = invoke("approve", run_id, "--as", "dee", "--no-resume", "--store", store)
    assert noted.exit_code == 0
    assert "approved run task 'send'" in noted.stdout
    assert f"podium resume {run_id}" in noted.stdout


def test_deciding_mistakes_are_usage_errors(store: str) -> None:
    run_id = park(store)
    unknown = invoke("approve", "nope", "--as", "x", "--store", store)
    assert unknown.exit_code == 2
    assert "nope" in unknown.stderr
    wrong_task = invoke("approve", run_id, "draft", "--as", "x", "--store", store)
    assert wrong_task.exit_code == 2
    assert "no pending approval for task 'draft'" in wrong_task.stderr
    no_name = invoke("approve", run_id, "--store", store)
    assert no_name.exit_code == 2  # --as is required


def test_an_irreversible_tool_call_waits_for_its_approval(store: str, isolated: Path) -> None:
    result = invoke("run", DATA / "payment.yaml", "--store", store, "--json")
    assert result.exit_code == 1
    run_id = as_json(result)["run_id"]
    assert read_ledger(isolated) == []
    [pending] = as_json(invoke("approvals", "--store", store, "--json"))
    assert (pending["tool"], pending["arguments"]) == ("pay", {"to": "a"})
    assert pending["expires_at"] == pytest.approx(pending["requested_at"] + 3600)
    done = invoke("approve", run_id, "--as", "treasurer", "--store", store, "--json")
    assert done.exit_code == 0, done.stderr
    assert as_json(done)["status"] == "succeeded"
    [paid] = read_ledger(isolated)
    assert paid.startswith(f"pay:a:{run_id}/pay/1:")


def test_no_pending_approvals(store: str) -> None:
    empty = invoke("approvals", "--store", store)
    assert empty.exit_code == 0
    assert "no pending approvals" in empty.stdout
