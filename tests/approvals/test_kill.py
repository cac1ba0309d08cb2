"""Approvals survive `kill -9` of every process: they are events in the journal, nothing else."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.helpers import PODIUM, journal

DATA = Path(__file__).parent / "data"


def podium(*args: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [PODIUM, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120, check=False
    )


@pytest.mark.slow
def test_a_pending_approval_survives_kill_9(tmp_path: Path) -> None:
    db, ledger = tmp_path / "runs.db", tmp_path / "ledger.txt"
    store = f"sqlite:///{db}"
    env = {**os.environ, "PYTHONPATH": str(DATA), "PODIUM_TEST_LEDGER": str(ledger)}
    env.pop("PODIUM_STORE", None)
    proc = subprocess.Popen(
        [
            PODIUM,
            "run",
            str(DATA / "gated.yaml"),
            "--store",
            store,
            "--run-id",
            "k1",
            "--input",
            "pause=2",
            "--json",
        ],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 60
    while not any(e["kind"] == "ApprovalRequested" for e in journal(db, "k1")):
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the run never asked for approval"
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)  # `side` is still sleeping: the run had not parked yet
    proc.communicate()
    assert proc.returncode == -signal.SIGKILL

    listed = podium("approvals", "--store", store, "--json", cwd=tmp_path, env=env)
    assert json.loads(listed.stdout) == []  # not parked: nothing to decide yet
    early = podium("approve", "k1", "--as", "ann", "--store", store, cwd=tmp_path, env=env)
    assert early.returncode == 1
    assert "not waiting" in early.stderr

    parked = podium("resume", "k1", "--store", store, "--json", cwd=tmp_path, env=env)
    assert parked.returncode == 1, parked.stderr
    assert json.loads(parked.stdout)["status"] == "waiting"
    # Nothing of the run lives in any process now; the decision is recorded by another one.
    [pending] = json.loads(
        podium("approvals", "--store", store, "--json", cwd=tmp_path, env=env).stdout
    )
    assert (pending["run_id"], pending["task"]) == ("k1", "send")
    noted = podium(
        "approve", "k1", "--as", "ann", "--no-resume", "--store", store, cwd=tmp_path, env=env
    )
    assert noted.returncode == 0, noted.stderr

    done = podium("resume", "k1", "--store", store, "--json", cwd=tmp_path, env=env)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["status"] == "succeeded"
    ran = ledger.read_text(encoding="utf-8").split()
    assert sorted(set(ran)) == ["done", "draft", "send", "side"]
    assert ran.count("send") == 1
    assert ran.count("draft") == 1
    kinds = [e["kind"] for e in journal(db, "k1")]
    assert kinds.count("ApprovalRequested") == 1
    assert kinds.count("ApprovalGranted") == 1
    assert kinds[-1] == "RunSucceeded"
