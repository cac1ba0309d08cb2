"""Two processes on one run: exactly one drives it; the other is refused, and a driver that lost
its lease stops before it acts again. On SQLite and Postgres alike."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from podium import Limits, Orchestrator, Plan, Task, Workflow
from podium.events import TaskStarted
from podium.exceptions import LeaseHeld, LeaseLost
from podium.store import Store
from tests.helpers import PODIUM, ProcessDeath
from tests.hostile.conftest import Counted

pytestmark = pytest.mark.anyio

CHAIN = Workflow(
    name="chain",
    plan=Plan([Task(id="a", agent="w"), Task(id="b", agent="w", needs=("a",))]),
)


class Gate(Counted):
    """An agent whose task `hold` waits until the test opens the gate; with a `death`, the
    process dies the first time it gets there."""

    def __init__(self, hold: str = "a", death: ProcessDeath | None = None) -> None:
        super().__init__()
        self.hold = hold
        self.death = death
        self.opened = asyncio.Event()

    async def __call__(self, call):  # type: ignore[no-untyped-def]
        if call.task_id == self.hold:
            if self.death is not None:
                death, self.death = self.death, None
                death.now()
            self.calls[call.task_id] += 1
            self.started.set()
            await self.opened.wait()
            return f"done {call.task_id}"
        return await super().__call__(call)

    async def wait_started(self) -> None:
        await asyncio.wait_for(self.started.wait(), timeout=20)


async def test_a_second_driver_is_refused_while_the_first_drives(
    make_store: Callable[[], Store],
) -> None:
    gate = Gate()
    async with Orchestrator(agents=[gate.agent], store=make_store()) as first:
        running = asyncio.create_task(first.run(CHAIN, run_id="r"))
        await gate.wait_started()
        async with Orchestrator(agents=[gate.agent], store=make_store()) as second:
            with pytest.raises(LeaseHeld) as refused:
                await second.resume("r", workflow=CHAIN)
            assert f"pid {os.getpid()} on host" in str(refused.value)
            assert refused.value.expires_at > time.time()
            with pytest.raises(LeaseHeld):
                await second.run(CHAIN, run_id="r")  # submitting again is no way round it
            with pytest.raises(LeaseHeld):
                await second.approve("r", by="mallory")
        gate.opened.set()
        result = await running
    assert result.status == "succeeded"
    assert dict(gate.calls) == {"a": 1, "b": 1}


async def test_two_resumes_at_once_run_the_task_in_flight_once(
    make_store: Callable[[], Store],
) -> None:
    death = ProcessDeath()
    gate = Gate(hold="b", death=death)
    async with Orchestrator(agents=[gate.agent], store=make_store()) as o:
        await death.run(o.run(CHAIN, run_id="r"))
    stores = [make_store(), make_store()]
    async with (
        Orchestrator(agents=[gate.agent], store=stores[0]) as one,
        Orchestrator(agents=[gate.agent], store=stores[1]) as two,
    ):
        attempts = [
            asyncio.create_task(one.resume("r", workflow=CHAIN)),
            asyncio.create_task(two.resume("r", workflow=CHAIN)),
        ]
        await gate.wait_started()
        await asyncio.sleep(0.05)
        gate.opened.set()
        outcomes = await asyncio.gather(*attempts, return_exceptions=True)
        events = await one.events("r")
    refused = [o for o in outcomes if isinstance(o, LeaseHeld)]
    done = [o for o in outcomes if not isinstance(o, BaseException)]
    assert len(refused) == 1, outcomes
    assert [r.status for r in done] == ["succeeded"]
    assert gate.calls["b"] == 1  # the task in flight at the crash ran again exactly once
    assert [e.attempt for e in events if isinstance(e, TaskStarted) and e.task == "b"] == [1, 2]


async def test_an_approval_and_two_resumes_run_the_approved_task_once(
    make_store: Callable[[], Store],
) -> None:
    gate = Gate(hold="b")
    wf = Workflow(
        name="gated",
        plan=Plan(
            [Task(id="a", agent="w"), Task(id="b", agent="w", needs=("a",), approval="required")]
        ),
    )
    async with Orchestrator(agents=[gate.agent], store=make_store()) as orch:
        parked = await orch.run(wf, run_id="r")
        assert parked.status == "waiting"
        await orch.approve("r", by="ann", resume=False)
    gate.started.clear()  # "a" set it
    orchs = [Orchestrator(agents=[gate.agent], store=make_store()) for _ in range(3)]
    for o in orchs:
        await o.open()
    try:
        resumes = [asyncio.create_task(o.resume("r", workflow=wf)) for o in orchs[:2]]
        await gate.wait_started()  # one resume drives the approved task: the other is refused
        # a second decision while it runs is refused too, before it could look at the approval
        with pytest.raises(LeaseHeld):
            await orchs[2].approve("r", by="bob", workflow=wf)
        gate.opened.set()
        outcomes = await asyncio.gather(*resumes, return_exceptions=True)
    finally:
        for o in orchs:
            await o.close()
    succeeded = [o for o in outcomes if not isinstance(o, BaseException)]
    assert [r.status for r in succeeded] == ["succeeded"], outcomes
    assert sum(isinstance(o, LeaseHeld) for o in outcomes) == 1, outcomes
    assert gate.calls["b"] == 1


async def test_a_driver_that_lost_its_lease_stops_before_its_next_attempt(
    make_store: Callable[[], Store],
) -> None:
    gate = Gate()
    store = make_store()
    async with Orchestrator(agents=[gate.agent], store=store) as orch:
        running = asyncio.create_task(orch.run(CHAIN, run_id="r"))
        await gate.wait_started()
        # another driver takes the run over (it found this one dead, or its lease ran out)
        usurper = make_store()
        await usurper.open()
        held = (await usurper.get_run("r")).lease_owner  # type: ignore[union-attr]
        assert held is not None
        try:
            with pytest.raises(LeaseHeld) as refused:
                await usurper.acquire("r", "elsewhere/1/x.1")
            await usurper.acquire("r", "elsewhere/1/x.1", takeover=refused.value.token)
        finally:
            await usurper.close()
        gate.opened.set()
        with pytest.raises(LeaseLost):
            await running
        events = await orch.events("r")
    assert gate.calls["b"] == 0  # it never started another attempt
    # and nothing it decided after losing the lease reached the journal
    assert [type(e).__name__ for e in events][-1] == "TaskStarted"
    assert not [e for e in events if getattr(e, "task", None) == "b"]


async def test_a_driver_notices_a_lost_lease_while_its_attempt_runs(
    make_store: Callable[[], Store],
) -> None:
    gate = Gate()
    async with Orchestrator(
        agents=[gate.agent], store=make_store(), limits=Limits(lease_s=1)
    ) as orch:
        running = asyncio.create_task(orch.run(CHAIN, run_id="r"))
        await gate.wait_started()
        usurper = make_store()
        await usurper.open()
        try:
            with pytest.raises(LeaseHeld) as refused:
                await usurper.acquire("r", "elsewhere/1/x.1")
            await usurper.acquire("r", "elsewhere/1/x.1", takeover=refused.value.token)
        finally:
            await usurper.close()
        # the next renewal (a third of a second) finds out; the attempt is stopped
        with pytest.raises(LeaseLost):
            await asyncio.wait_for(running, timeout=10)
    assert gate.calls == {"a": 1}


async def test_a_lease_of_a_vanished_host_is_waited_out(make_store: Callable[[], Store]) -> None:
    from podium.events import RunSubmitted

    store = make_store()
    await store.open()
    submitted = RunSubmitted(run_id="r", seq=0, ts=time.time(), workflow=CHAIN.source())
    # long enough that a loaded machine still tries within it; then the lease is waited out
    await store.create_run("r", submitted, owner="gone-host/4242/aa.1", lease_s=3.0)
    await store.close()
    worker = Counted()
    async with Orchestrator(agents=[worker.agent], store=make_store()) as orch:
        with pytest.raises(LeaseHeld, match="pid 4242 on host gone-host"):
            await orch.resume("r", workflow=CHAIN)
        refused = 1
        while True:
            try:
                result = await orch.resume("r", workflow=CHAIN)
                break
            except LeaseHeld:
                refused += 1
                assert refused < 100, "the vanished host's lease never expired"
                await asyncio.sleep(0.1)
    assert result.status == "succeeded"


# -- through the command line, two real processes --------------------------------------------


def _podium(
    tmp_path: Path, *args: str, nap_s: float = 3.0, gate: Path | None = None
) -> subprocess.Popen[str]:
    env = {
        **os.environ,
        "PODIUM_STORE": str(tmp_path / "runs.db"),
        "PODIUM_TEST_LEDGER": str(tmp_path / "ledger.txt"),
        "NAP_S": str(nap_s),
        "NAP_GATE": str(gate or tmp_path / "no-gate"),
    }
    return subprocess.Popen(
        [PODIUM, *args],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _reap(proc: subprocess.Popen[str]) -> None:
    """Kill `proc` if it still runs, and close its pipes whatever happened."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGKILL)
    for pipe in (proc.stdout, proc.stderr):
        if pipe is not None and not pipe.closed:
            pipe.close()
    proc.wait()


SLOW = """\
name: slow
agents:
  sleeper: {python: "slow_agents:nap"}
tasks:
  - {id: nap, agent: sleeper}
"""

SLOW_AGENT = """\
import os, time

def nap(call):
    with open(os.environ["PODIUM_TEST_LEDGER"], "a") as f:
        f.write(call.task_id + "\\n")
    # naps until the test opens the gate (so a slow machine cannot end the run too soon), or
    # NAP_S seconds without one
    deadline = time.monotonic() + float(os.environ.get("NAP_S", "3"))
    gate = os.environ.get("NAP_GATE")
    while time.monotonic() < deadline and not (gate and os.path.exists(gate)):
        time.sleep(0.05)
    return "rested"
"""


@pytest.mark.slow
def test_podium_resume_is_refused_while_podium_run_drives(tmp_path: Path) -> None:
    (tmp_path / "slow.yaml").write_text(SLOW)
    (tmp_path / "slow_agents.py").write_text(SLOW_AGENT)
    ledger = tmp_path / "ledger.txt"
    gate = tmp_path / "gate"
    first = _podium(
        tmp_path, "run", "slow.yaml", "--run-id", "nap1", "--json", nap_s=120, gate=gate
    )
    try:
        deadline = time.monotonic() + 30
        while not ledger.exists():
            assert first.poll() is None, first.communicate()
            assert time.monotonic() < deadline
            time.sleep(0.05)
        for args in (["resume", "nap1"], ["run", "slow.yaml", "--run-id", "nap1"]):
            second = _podium(tmp_path, *args)
            out, err = second.communicate(timeout=60)
            assert second.returncode == 1, (out, err)
            assert f"is being driven by pid {first.pid} on host" in err
            assert "Traceback" not in err
        listed = _podium(tmp_path, "runs")
        out, _ = listed.communicate(timeout=60)
        assert f"pid {first.pid} on host" in out  # who drives it, for the operator
        gate.touch()  # the first run may finish now
        out, err = first.communicate(timeout=60)
    finally:
        _reap(first)  # on any path: a pipe left open fails a later test as a ResourceWarning
    assert first.returncode == 0, err
    assert json.loads(out)["status"] == "succeeded"
    assert ledger.read_text().split() == ["nap"]  # it ran once


@pytest.mark.slow
def test_a_killed_driver_is_taken_over_at_once(tmp_path: Path) -> None:
    (tmp_path / "slow.yaml").write_text(SLOW)
    (tmp_path / "slow_agents.py").write_text(SLOW_AGENT)
    ledger = tmp_path / "ledger.txt"
    first = _podium(tmp_path, "run", "slow.yaml", "--run-id", "nap1", "--json")
    deadline = time.monotonic() + 30
    try:
        while not ledger.exists():
            assert time.monotonic() < deadline
            time.sleep(0.05)
    finally:
        _reap(first)
    started = time.monotonic()
    second = _podium(tmp_path, "resume", "nap1", "--json", nap_s=0)
    out, err = second.communicate(timeout=60)
    assert second.returncode == 0, err
    assert json.loads(out)["status"] == "succeeded"
    # its lease had 15 s to run, but its holder is known dead: no wait for the expiry
    assert time.monotonic() - started < 10
    assert ledger.read_text().split() == ["nap", "nap"]
