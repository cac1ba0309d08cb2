"""`podium run` and `podium resume`, in-process."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from podium.events import RunSubmitted
from podium.plan import load_workflow
from podium.store import open_store
from tests.cli.helpers import DATA, invoke, invoke_json

REPORT = DATA / "report.yaml"
RESULT_KEYS = {
    "run_id",
    "status",
    "reason",
    "message",
    "output",
    "tasks",
    "usage",
    "elapsed_s",
    "missing",
    "confidence",
    "rollback",
}


def test_run_json_prints_the_result_and_nothing_else(
    store: str, ledger: Callable[[], list[str]]
) -> None:
    result = invoke("run", REPORT, "--store", store, "--input", "topic=tides", "--json")
    assert result.exit_code == 0, result.stderr
    assert result.stderr == ""
    data = json.loads(result.stdout)
    assert set(data) == RESULT_KEYS
    assert data["status"] == "succeeded"
    assert data["output"] == "TIDES POINT 1 / TIDES POINT 2"
    assert data["tasks"]["outline"]["output"]["points"] == ["tides point 1", "tides point 2"]
    assert {t["status"] for t in data["tasks"].values()} == {"succeeded"}
    assert data["usage"] == {"input_tokens": 0, "output_tokens": 0, "cost_usd": 0.0}
    assert data["elapsed_s"] >= 0
    assert ledger() == ["outline", "write"]


def test_typed_inputs_are_parsed_and_files_read(store: str, tmp_path: Path) -> None:
    (tmp_path / "topic.txt").write_text("moons", encoding="utf-8")
    code, data = invoke_json(
        "run", REPORT, "--store", store, "-i", "topic=@topic.txt", "-i", "count=3"
    )
    assert code == 0
    assert data["output"] == "MOONS POINT 1 / MOONS POINT 2 / MOONS POINT 3"


def test_bad_inputs_are_usage_errors(store: str) -> None:
    wrong_type = invoke("run", REPORT, "--store", store, "-i", "topic=x", "-i", "count=many")
    assert wrong_type.exit_code == 2
    assert wrong_type.stderr.strip() == "error: input 'count' must be integer, got 'many'"
    missing = invoke("run", REPORT, "--store", store)
    assert missing.exit_code == 2
    assert "--input topic=" in missing.stderr
    no_equals = invoke("run", REPORT, "--store", store, "-i", "topic")
    assert no_equals.exit_code == 2
    assert "expected NAME=VALUE" in no_equals.stderr
    assert "Traceback" not in wrong_type.stderr + missing.stderr + no_equals.stderr


def test_a_failing_task_fails_the_run_with_exit_1(
    store: str, ledger: Callable[[], list[str]]
) -> None:
    code, data = invoke_json("run", DATA / "failing.yaml", "--store", store)
    assert code == 1
    assert data["status"] == "failed"
    assert data["reason"] == "error"
    assert "the boom agent always fails" in data["message"]
    assert data["tasks"]["explode"]["status"] == "failed"
    assert data["tasks"]["explode"]["error"]["type"] == "RuntimeError"
    assert data["tasks"]["after"]["status"] == "skipped"
    assert ledger() == ["outline", "explode"]


def test_an_invalid_file_lists_every_problem_with_lines(store: str) -> None:
    result = invoke("run", DATA / "invalid.yaml", "--store", store)
    assert result.exit_code == 2
    assert result.stdout == ""
    assert "the plan has 2 problems" in result.stderr
    assert "invalid.yaml:7: tasks.outline.agent: unknown agent 'planer'" in result.stderr
    assert "invalid.yaml:10: tasks.write.needs: needs unknown task 'missing'" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_missing_file_is_a_usage_error(store: str) -> None:
    result = invoke("run", "nowhere.yaml", "--store", store)
    assert result.exit_code == 2
    assert result.stderr.strip() == "error: no workflow file 'nowhere.yaml'"


def test_bad_limits_are_usage_errors(store: str) -> None:
    result = invoke("run", REPORT, "--store", store, "-i", "topic=x", "--max-concurrency", "0")
    assert result.exit_code == 2
    assert "max_concurrency must be at least 1" in result.stderr


def test_without_a_terminal_only_the_final_summary_is_printed(store: str) -> None:
    result = invoke("run", REPORT, "--store", store, "--input", "topic=tides")
    assert result.exit_code == 0
    out = result.stdout
    assert "\x1b[" not in out  # no cursor movement, no colours
    lines = out.splitlines()
    assert lines[0].split() == ["task", "state", "agent", "attempts", "elapsed", "tokens"]
    assert lines[1].split()[:4] == ["outline", "succeeded", "planner", "1"]
    assert lines[2].split()[:4] == ["write", "succeeded", "writer", "1"]
    assert lines[3].startswith("run ")
    assert lines[3].endswith(" succeeded")
    assert "TIDES POINT 1 / TIDES POINT 2" in out
    assert lines[-3].startswith("2 tasks · ")
    assert lines[-3].endswith("0 tokens (0 in, 0 out) · $0.0000")
    assert lines[-2] == f"stored in: {store.removeprefix('sqlite:///')}"
    assert lines[-1].startswith("see it again: podium show ")


def test_a_failed_run_says_why(store: str) -> None:
    result = invoke("run", DATA / "failing.yaml", "--store", store)
    assert result.exit_code == 1
    assert "failed" in result.stdout
    assert "explode: RuntimeError: the boom agent always fails" in result.stdout


def test_a_timeout_fails_the_run(store: str) -> None:
    code, data = invoke_json(
        "run", DATA / "sleepy.yaml", "--store", store, "-i", "seconds=0.6", "--timeout", "0.1"
    )
    assert code == 1
    assert (data["status"], data["reason"]) == ("failed", "timeout")
    assert data["tasks"]["nap"]["status"] != "succeeded"  # cut short, not waited out


def test_an_existing_run_id_does_not_run_again(store: str, ledger: Callable[[], list[str]]) -> None:
    args = ("run", REPORT, "--store", store, "-i", "topic=tides", "--run-id", "fixed-1")
    code, first = invoke_json(*args)
    assert (code, first["run_id"], first["status"]) == (0, "fixed-1", "succeeded")
    code, again = invoke_json(*args)
    assert code == 0
    assert again["run_id"] == "fixed-1"
    assert again["output"] == first["output"]
    assert ledger() == ["outline", "write"]


def test_resume_of_a_finished_run_reports_it(store: str, ledger: Callable[[], list[str]]) -> None:
    invoke("run", DATA / "failing.yaml", "--store", store, "--run-id", "done-1")
    code, data = invoke_json("resume", "done-1", "--store", store)
    assert code == 1
    assert (data["run_id"], data["status"], data["reason"]) == ("done-1", "failed", "error")
    human = invoke("resume", "done-1", "--store", store)
    assert human.exit_code == 1
    assert "explode: RuntimeError" in human.stdout
    assert ledger() == ["outline", "explode"]


def test_resume_continues_a_run_from_its_recorded_workflow(
    store: str, ledger: Callable[[], list[str]]
) -> None:
    async def submit_only() -> None:
        wf = load_workflow(REPORT)
        st = open_store(store)
        await st.open()
        inputs = {"topic": "tides", "count": 1}
        submitted = RunSubmitted(
            run_id="half-1", seq=0, ts=time.time(), inputs=inputs, workflow=wf.source()
        )
        await st.create_run("half-1", submitted, name=wf.name)
        await st.close()

    asyncio.run(submit_only())
    code, data = invoke_json("resume", "half-1", "--store", store)
    assert code == 0
    assert data["output"] == "TIDES POINT 1"
    assert ledger() == ["outline", "write"]


def test_resume_of_an_unknown_run_is_a_usage_error(store: str) -> None:
    result = invoke("resume", "nope", "--store", store)
    assert result.exit_code == 2
    assert result.stderr.startswith("error: no run 'nope' in ")
    assert len(result.stderr.splitlines()) == 1


def test_the_store_comes_from_the_environment_then_the_user_data_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    code, _ = invoke_json("run", REPORT, "-i", "topic=a", "--run-id", "here")
    assert code == 0
    per_user = tmp_path / "data" / "podium" / "podium.db"
    assert per_user.exists()
    assert not (tmp_path / "podium.db").exists()
    monkeypatch.setenv("PODIUM_STORE", str(tmp_path / "env.db"))
    code, _ = invoke_json("run", REPORT, "-i", "topic=b", "--run-id", "there")
    assert code == 0
    _, from_env = invoke_json("runs")
    assert [r["run_id"] for r in from_env] == ["there"]
    _, explicit = invoke_json("runs", "--store", per_user)
    assert [r["run_id"] for r in explicit] == ["here"]


def test_model_agents_report_their_tokens(store: str) -> None:
    code, data = invoke_json("run", DATA / "modeled.yaml", "--store", store, "--run-id", "m1")
    assert code == 0
    usage = data["usage"]
    assert usage["input_tokens"] > 0
    assert usage["output_tokens"] > 0
    total = usage["input_tokens"] + usage["output_tokens"]
    shown = invoke("resume", "m1", "--store", store).stdout.splitlines()
    assert shown[1].split()[-1] == f"{total:,}"  # the task's row
    assert shown[-3].split(" · ")[2] == (
        f"{total:,} tokens ({usage['input_tokens']:,} in, {usage['output_tokens']:,} out)"
    )
    _, journal = invoke_json("show", "m1", "--store", store)
    assert "ModelCalled" in [e["kind"] for e in journal["events"]]
