"""`podium show RUN --follow` on a run that another process drives."""

from __future__ import annotations

import asyncio
import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from rich.console import Console

from podium.cli._follow import Follower
from podium.events import RunSubmitted
from podium.store import open_store
from tests.cli.helpers import DATA, invoke, invoke_json

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[2]


def _podium(tmp_path: Path, *args: object) -> subprocess.Popen[str]:
    """`podium ARGS` in its own process (this checkout first on its path)."""
    env = {
        **os.environ,
        "PYTHONUNBUFFERED": "1",  # each line as it is printed
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
    }
    return subprocess.Popen(
        [sys.executable, "-c", "from podium.cli import main; main()", *map(str, args)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait_for_run(store: str, run_id: str, driver: subprocess.Popen[str]) -> None:
    """Until `run_id` is in the store (the driver has submitted it)."""
    for _ in range(600):
        if any(r["run_id"] == run_id for r in invoke_json("runs", "--store", store)[1]):
            return
        if driver.poll() is not None:
            pytest.fail(f"the driver ended before submitting: {driver.communicate()}")
        time.sleep(0.05)
    pytest.fail(f"run {run_id!r} never appeared")


def test_follow_streams_every_event_until_the_run_ends(tmp_path: Path, store: str) -> None:
    driver = _podium(tmp_path, "run", DATA / "steps.yaml", "--store", store, "--run-id", "live")
    try:
        _wait_for_run(store, "live", driver)
        followed = invoke("show", "live", "--follow", "--store", store)
    finally:
        _, err = driver.communicate(timeout=60)
    assert driver.returncode == 0, err
    assert followed.exit_code == 0, followed.stderr
    lines = followed.stdout.splitlines()
    assert lines[0].split()[:3] == ["0", "+0.000s", "RunSubmitted"]
    assert any(line.startswith("following run live") for line in lines)  # it was live
    assert lines[-1] == "run live succeeded"
    _, journal = invoke_json("show", "live", "--store", store)
    seqs = [int(words[0]) for words in map(str.split, lines) if words and words[0].isdigit()]
    assert seqs == [e["seq"] for e in journal["events"]]  # each event once, in order
    finished = [line for line in lines if "TaskSucceeded" in line]
    assert [line.split()[3] for line in finished] == ["one", "two", "three"]

    as_lines = invoke("show", "live", "--follow", "--json", "--store", store)
    assert [json.loads(line) for line in as_lines.stdout.splitlines()] == journal["events"]


def test_ctrl_c_ends_only_the_following(tmp_path: Path, store: str) -> None:
    driver = _podium(
        tmp_path,
        "run",
        DATA / "sleepy.yaml",
        "--store",
        store,
        "--run-id",
        "nap",
        "-i",
        "seconds=60",
    )
    try:
        _wait_for_run(store, "nap", driver)
        follower = _podium(tmp_path, "show", "nap", "--follow", "--store", store)
        assert follower.stdout is not None
        for line in follower.stdout:  # until it says it follows
            if line.startswith("following run nap"):
                break
        follower.send_signal(signal.SIGINT)
        out, err = follower.communicate(timeout=30)
        assert follower.returncode == 0, err
        assert "stopped following run nap" in out
        _, runs = invoke_json("runs", "--store", store)
        assert [(r["run_id"], r["status"]) for r in runs] == [("nap", "running")]
    finally:
        driver.kill()  # its agent sleeps in a thread a clean stop would wait for
        driver.communicate(timeout=60)


def test_a_parked_run_followed_says_how_to_decide_it(store: str) -> None:
    invoke("run", DATA.parent.parent / "approvals" / "data" / "gated.yaml", "--store", store,
           "--run-id", "p2")  # fmt: skip
    out = io.StringIO()

    async def show() -> None:
        st = open_store(store)
        await st.open()
        try:
            follower = Follower("p2", st, Console(file=out, width=200), store)
            follower.show(await st.load("p2"))
            follower.show(await st.load("p2"))  # read again: nothing is printed twice
        finally:
            await st.close()

    asyncio.run(show())
    lines = out.getvalue().splitlines()
    assert sum("RunWaiting" in line for line in lines) == 1
    assert "parked, waiting for a decision:" in lines
    assert any(line.startswith("approve: podium approve p2 send --as ") for line in lines)


def test_a_run_nobody_drives_is_said_so_once(store: str) -> None:
    out = io.StringIO()

    async def check() -> None:
        st = open_store(store)
        await st.open()
        try:
            submitted = RunSubmitted(run_id="o1", seq=0, ts=time.time())
            await st.create_run("o1", submitted, owner="gone-host/4242/aa.1", lease_s=0.001)
            follower = Follower("o1", st, Console(file=out, width=200), None)
            follower.show(await st.load("o1"))
            await asyncio.sleep(0.01)  # past the lease's expiry
            await follower.note_if_orphaned()
            await follower.note_if_orphaned()
        finally:
            await st.close()

    asyncio.run(check())
    notes = [line for line in out.getvalue().splitlines() if "nobody drives" in line]
    assert notes == ["nobody drives run o1 now: `podium resume o1` continues it; still following"]
