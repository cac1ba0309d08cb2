"""`podium rollback`, and a real `podium` process SIGKILLed while it undoes a failed run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import PODIUM, journal

WORKFLOW = """\
name: saga
inputs:
  ledger: {type: string}
  fail: {type: boolean, default: true}
  pause: {type: number, default: 0}
agents:
  worker: {python: "saga_steps:step", tools: [undo]}
tools:
  undo: {python: "saga_steps:undo", effect: write}
tasks:
"""
UNDO = (
    "    compensate:\n"
    "      tool: undo\n"
    "      arguments: {{booking: '{{{{ tasks.{tid}.output }}}}', ledger: '{{{{ inputs.ledger }}}}',"
    " pause: '{{{{ inputs.pause }}}}'}}\n"
)
STEPS = '''\
"""Steps that book things, a last one that may fail, and an undo that honours its key."""

import os
import time

from podium import TaskCall
from podium.tools import ToolContext


def _append(ledger: str, line: str) -> None:
    with open(ledger, "a", encoding="utf-8") as f:
        f.write(line + "\\n")
        f.flush()
        os.fsync(f.fileno())


def step(call: TaskCall) -> str:
    if call.task_id == "boom" and call.run_inputs["fail"]:
        raise RuntimeError("the payment was declined")
    _append(str(call.run_inputs["ledger"]), "do " + call.task_id)
    return "booking-" + call.task_id


def undo(booking: str, ledger: str, pause: float, ctx: ToolContext) -> str:
    """Cancel a booking, once per idempotency key."""
    seen = open(ledger, encoding="utf-8").read().split() if os.path.exists(ledger) else []
    if ctx.idempotency_key not in seen:
        _append(ledger, "undo " + ctx.idempotency_key)
    time.sleep(pause)  # the test kills the process here: undone, not yet journaled as done
    return "cancelled " + booking
'''


def write_workflow(folder: Path) -> Path:
    (folder / "saga_steps.py").write_text(STEPS, encoding="utf-8")
    body = WORKFLOW
    needs = ""
    for tid in ("s1", "s2", "s3"):
        body += f"  - id: {tid}\n    agent: worker\n{needs}" + UNDO.format(tid=tid)
        needs = f"    needs: [{tid}]\n"
    body += "  - {id: boom, agent: worker, needs: [s3]}\n"
    path = folder / "saga.yaml"
    path.write_text(body, encoding="utf-8")
    return path


def podium(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(folder)}
    return subprocess.run(
        [PODIUM, *args],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def undo_phases(events: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(e["task"], e["phase"]) for e in events if e["kind"] == "TaskCompensated"]


def open_undo(events: list[dict[str, Any]]) -> str | None:
    """The task whose undo was started and not recorded as ended, if any."""
    last: dict[str, str] = {}
    for task, phase in undo_phases(events):
        last[task] = phase
    return next((t for t, p in last.items() if p == "started"), None)


@pytest.mark.slow
@pytest.mark.parametrize("finish_with", ["rollback", "resume"])
def test_sigkill_during_an_undo_then_each_undo_lands_once(tmp_path: Path, finish_with: str) -> None:
    db, ledger = tmp_path / "runs.db", tmp_path / "ledger.txt"
    store = f"sqlite:///{db}"
    wf = write_workflow(tmp_path)
    inputs = ["--input", f"ledger={ledger}", "--input", "pause=0.5"]
    proc = subprocess.Popen(
        [PODIUM, "run", str(wf), "--store", store, "--run-id", "k", "--json", *inputs],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(tmp_path)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        events = journal(db, "k")
        if open_undo(events) == "s2" and "undo k/s2/compensate" in ledger.read_text():
            break  # s2's undo landed and is in its pause: not yet journaled as done
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.01)
    else:
        proc.kill()
        pytest.fail("the run never reached the kill point")
    proc.send_signal(signal.SIGKILL)
    proc.communicate()
    assert proc.returncode == -signal.SIGKILL
    before = journal(db, "k")
    assert before[-1]["kind"] == "TaskCompensated"
    assert undo_phases(before)[-1] == ("s2", "started")

    args = ["rollback", "k"] if finish_with == "rollback" else ["resume", "k"]
    done = podium(tmp_path, *args, "--store", store, "--json")
    assert done.returncode == (0 if finish_with == "rollback" else 1), done.stderr
    after = journal(db, "k")
    phases = {t: [p for x, p in undo_phases(after) if x == t] for t in ("s1", "s2", "s3")}
    assert phases == {
        "s3": ["started", "succeeded"],
        "s2": ["started", "started", "succeeded"],  # run again after the kill ...
        "s1": ["started", "succeeded"],
    }
    lines = ledger.read_text().splitlines()
    undos = [line for line in lines if line.startswith("undo ")]
    assert undos == ["undo k/s3/compensate", "undo k/s2/compensate", "undo k/s1/compensate"]
    assert Counter(lines)["do s2"] == 1  # ... and no step ran twice
    if finish_with == "rollback":
        assert json.loads(done.stdout)["rollback"] == "complete"


def test_rollback_of_a_succeeded_run_asks_for_yes(tmp_path: Path) -> None:
    db, ledger = tmp_path / "runs.db", tmp_path / "ledger.txt"
    store = f"sqlite:///{db}"
    wf = write_workflow(tmp_path)
    ran = podium(
        tmp_path,
        *("run", str(wf), "--store", store, "--run-id", "ok2"),
        *("--input", f"ledger={ledger}", "--input", "fail=false"),
    )
    assert ran.returncode == 0, ran.stderr
    asked = podium(tmp_path, "rollback", "ok2", "--store", store)
    assert asked.returncode == 2
    assert "add --yes" in asked.stdout
    assert asked.stdout.index("s3: tool undo") < asked.stdout.index("s1: tool undo")
    assert not any(line.startswith("undo") for line in ledger.read_text().splitlines())
    assert undo_phases(journal(db, "ok2")) == []

    done = podium(tmp_path, "rollback", "ok2", "--store", store, "--yes", "--as", "ops")
    assert done.returncode == 0, done.stderr
    assert "rollback complete" in done.stdout
    undos = [line for line in ledger.read_text().splitlines() if line.startswith("undo")]
    assert undos == ["undo ok2/s3/compensate", "undo ok2/s2/compensate", "undo ok2/s1/compensate"]
    events = journal(db, "ok2")
    assert {e["by"] for e in events if e["kind"] == "TaskCompensated"} == {"ops"}

    again = podium(tmp_path, "rollback", "ok2", "--store", store, "--json")
    assert again.returncode == 0
    assert json.loads(again.stdout)["rollback"] == "complete"
    assert len(journal(db, "ok2")) == len(events)  # nothing left to undo: nothing journaled


def test_rollback_of_an_unknown_run(tmp_path: Path) -> None:
    result = podium(tmp_path, "rollback", "nope", "--store", f"sqlite:///{tmp_path / 'r.db'}")
    assert result.returncode == 2
    assert "nope" in result.stderr


def test_podium_show_names_the_call_an_undo_is_for() -> None:
    from podium.cli import _render
    from podium.events import TaskCompensated

    ev = TaskCompensated(run_id="r", seq=9, ts=0.0, task="a", phase="started", call="a/book#1")
    assert _render.details(ev) == "phase=started call=a/book#1"
