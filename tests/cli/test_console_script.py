"""The installed `podium` console script, run as a real process."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.cli.helpers import DATA

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[2]


def _script() -> str:
    beside = Path(sys.executable).parent / "podium"
    found = str(beside) if beside.exists() else shutil.which("podium")
    if found is None:
        pytest.fail("the `podium` console script is not installed: pip install -e .")
    return found


@pytest.fixture
def podium(tmp_path: Path) -> Callable[..., subprocess.CompletedProcess[str]]:
    """Runs `podium ARGS` in `tmp_path`, with a store and an agent ledger there."""
    env = {
        **os.environ,
        "PODIUM_STORE": str(tmp_path / "runs.db"),
        "PODIUM_TEST_LEDGER": str(tmp_path / "ledger.txt"),
        # the checkout first, whatever state the editable install is in
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
    }
    script = _script()

    def run(*args: object) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [script, *map(str, args)],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    return run


def _json(proc: subprocess.CompletedProcess[str]) -> Any:
    return json.loads(proc.stdout)


def test_the_console_script_end_to_end(
    podium: Callable[..., subprocess.CompletedProcess[str]], tmp_path: Path
) -> None:
    ledger = tmp_path / "ledger.txt"

    ok = podium("run", DATA / "report.yaml", "--input", "topic=tides", "--json", "--run-id", "ok1")
    assert (ok.returncode, ok.stderr) == (0, "")
    result = _json(ok)
    assert set(result) >= {"run_id", "status", "reason", "output", "tasks", "usage", "elapsed_s"}
    assert set(result["usage"]) == {"input_tokens", "output_tokens", "cost_usd"}
    assert (result["run_id"], result["status"]) == ("ok1", "succeeded")
    assert result["output"] == "TIDES POINT 1 / TIDES POINT 2"
    assert ledger.read_text().split() == ["outline", "write"]

    again = podium("run", DATA / "report.yaml", "-i", "topic=tides", "--json", "--run-id", "ok1")
    assert again.returncode == 0
    assert _json(again)["output"] == result["output"]
    assert ledger.read_text().split() == ["outline", "write"]  # nothing ran again

    failed = podium("run", DATA / "failing.yaml", "--json", "--run-id", "bad1")
    assert failed.returncode == 1
    assert (_json(failed)["status"], _json(failed)["tasks"]["explode"]["status"]) == (
        "failed",
        "failed",
    )

    invalid = podium("run", DATA / "invalid.yaml", "--json")
    assert (invalid.returncode, invalid.stdout) == (2, "")
    assert "invalid.yaml:7:" in invalid.stderr
    assert "invalid.yaml:10:" in invalid.stderr
    assert "Traceback" not in invalid.stderr

    runs = podium("runs", "--json")
    assert runs.returncode == 0
    assert [(r["run_id"], r["status"]) for r in _json(runs)] == [
        ("bad1", "failed"),
        ("ok1", "succeeded"),
    ]

    shown = podium("show", "ok1", "--json")
    assert shown.returncode == 0
    kinds = [e["kind"] for e in _json(shown)["events"]]
    assert kinds[:2] == ["RunSubmitted", "PlanAccepted"]
    assert kinds[-1] == "RunSucceeded"
    assert kinds.count("TaskSucceeded") == 2
    assert kinds.index("TaskStarted") < kinds.index("TaskSucceeded")

    resumed = podium("resume", "ok1", "--json")
    assert resumed.returncode == 0
    assert (_json(resumed)["status"], _json(resumed)["output"]) == ("succeeded", result["output"])
    resumed_failed = podium("resume", "bad1")
    assert resumed_failed.returncode == 1
    assert "failed" in resumed_failed.stdout
    assert ledger.read_text().split() == ["outline", "write", "outline", "explode"]

    schema = podium("schema", "events")
    assert schema.returncode == 0
    assert {"RunSubmitted", "TaskFailed", "RunCancelled"} <= set(json.loads(schema.stdout)["$defs"])


def test_ctrl_c_interrupts_the_run_and_resume_finishes_it(
    podium: Callable[..., subprocess.CompletedProcess[str]], tmp_path: Path
) -> None:
    ledger = tmp_path / "ledger.txt"
    env = {
        **os.environ,
        "PODIUM_STORE": str(tmp_path / "runs.db"),
        "PODIUM_TEST_LEDGER": str(ledger),
        "PYTHONPATH": str(REPO),
    }
    proc = subprocess.Popen(
        [_script(), "run", DATA / "sleepy.yaml", "-i", "seconds=1.5", "--run-id", "nap1", "--json"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while not (ledger.exists() and ledger.read_text().split()):  # the agent is running
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline
            time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 130, err
    result = json.loads(out)
    assert result["status"] == "interrupted"
    assert result["tasks"]["nap"]["status"] == "ready"  # not shown running: it was cut short
    events = _json(podium("show", "nap1", "--json"))["events"]
    assert [e["kind"] for e in events][-2:] == ["TaskStarted", "RunInterrupted"]
    assert events[-1]["tasks"] == ["nap"]
    # nothing was lost: the run goes on from where it was stopped
    resumed = _json(podium("resume", "nap1", "--json"))
    assert resumed["status"] == "succeeded"
    assert ledger.read_text().split() == ["nap", "nap"]  # the cut-short attempt ran again
