"""A real `podium run` process is SIGKILLed mid-run and resumed: nothing is lost or repeated."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections import Counter
from pathlib import Path

import pytest

from tests.helpers import PODIUM, journal

DATA = Path(__file__).parent / "data"


def in_flight(events: list[dict[str, object]]) -> set[object]:
    started = {e["task"] for e in events if e["kind"] == "TaskStarted"}
    done = {e["task"] for e in events if e["kind"] in ("TaskSucceeded", "TaskFailed")}
    return started - done


@pytest.mark.slow
@pytest.mark.parametrize("kill_after", [2, 4])
def test_sigkill_mid_run_then_resume(tmp_path: Path, kill_after: int) -> None:
    db, ledger = tmp_path / "runs.db", tmp_path / "ledger.txt"
    store = f"sqlite:///{db}"
    env = {**os.environ, "PYTHONPATH": str(DATA)}
    proc = subprocess.Popen(
        [
            PODIUM,
            "run",
            str(DATA / "ledger.yaml"),
            "--store",
            store,
            "--run-id",
            "killme",
            "--input",
            f"ledger={ledger}",
            "--json",
        ],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        events = journal(db, "killme")
        succeeded = sum(e["kind"] == "TaskSucceeded" for e in events)
        if succeeded >= kill_after and in_flight(events):
            break  # a task is in its pause: it has started but not yet written the ledger
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.01)
    else:
        proc.kill()
        pytest.fail("the run never reached the kill point")
    proc.send_signal(signal.SIGKILL)
    proc.communicate()
    assert proc.returncode == -signal.SIGKILL

    before = journal(db, "killme")
    done_before = {e["task"] for e in before if e["kind"] == "TaskSucceeded"}
    assert len(done_before) >= kill_after
    assert not any(e["kind"].startswith("Run") and e["kind"] != "RunSubmitted" for e in before)

    resumed = subprocess.run(
        [PODIUM, "resume", "killme", "--store", store, "--json"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert resumed.returncode == 0, resumed.stderr
    result = json.loads(resumed.stdout)
    assert result["status"] == "succeeded"
    assert result["output"] == "s7"

    counts = Counter(ledger.read_text().split())
    assert set(counts) == {"s1", "s2", "left", "right", "s4", "s5", "s6", "s7"}
    assert all(n == 1 for n in counts.values()), counts
    after = journal(db, "killme")
    assert Counter(e["task"] for e in after if e["kind"] == "TaskSucceeded") == Counter(set(counts))
    assert after[-1]["kind"] == "RunSucceeded"
