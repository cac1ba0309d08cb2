"""Two Podium processes talking A2A: one serves a workflow, the other (this test) runs a
workflow whose middle task is the first's agent. Includes a kill of the serving process
mid-task and an approval that crosses the boundary."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import anyio
import httpx
import pytest

from podium.events import AnyEvent, TaskFailed, TaskStarted
from podium.exceptions import RunNotFound
from podium.plan import load_workflow
from podium.runtime import Orchestrator
from tests.a2a.conftest import DATA, free_port

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

RELAY = """
name: relay
inputs:
  message: {{type: string}}
agents:
  prep:
    capabilities: [prep]
    python: a2a_test_agents:shout
  remote:
    a2a: "{url}"
    retry: {{attempts: 40, backoff_s: 0.1, max_backoff_s: 0.5, jitter: 0}}
  finisher:
    python: a2a_test_agents:tail
tasks:
  - id: shout
    agent: prep
    instruction: "{{{{ inputs.message }}}}"
  - id: remote
    agent: remote
    needs: [shout]
    instruction: "{{{{ tasks.shout.output }}}}"
  - id: done
    agent: finisher
    needs: [remote]
output: "{{{{ tasks.done.output }}}}"
"""


class Serving:
    """`podium a2a serve`-like child process (``serve_proc.py``) on a fixed port and store."""

    def __init__(self, workflow: str, store: str, port: int, env: dict[str, str]) -> None:
        self.args = [
            sys.executable,
            str(DATA / "serve_proc.py"),
            str(DATA / workflow),
            store,
            str(port),
        ]
        self.url = f"http://127.0.0.1:{port}"
        self.env = env
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(self.args, env=self.env, cwd=DATA)
        for _ in range(600):
            try:
                if httpx.get(f"{self.url}/.well-known/agent-card.json", timeout=1).is_success:
                    return
            except httpx.TransportError:
                pass
            assert self.proc.poll() is None, "the serving process died"
            time.sleep(0.05)
        raise AssertionError("the serving process did not come up")

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(30)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()


@pytest.fixture
def serving(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Serving]]:
    monkeypatch.syspath_prepend(str(DATA))
    env = {**os.environ, "PODIUM_A2A_GATE": str(tmp_path / "gate"), "PYTHONPATH": str(DATA)}
    port = free_port()
    store = f"sqlite:///{tmp_path / 'server.db'}"
    made = {name: Serving(f"{name}.yaml", store, port, env) for name in ("slow", "gated")}
    yield made
    for s in made.values():
        s.stop()
    sys.modules.pop("a2a_test_agents", None)


async def journal(orch: Orchestrator, run_id: str) -> list[AnyEvent]:
    try:
        return await orch.events(run_id)
    except RunNotFound:  # not submitted yet
        return []


def relay(tmp_path: Path, url: str) -> Path:
    path = tmp_path / "relay.yaml"
    path.write_text(RELAY.format(url=url))
    return path


async def test_the_middle_task_runs_on_the_other_process_across_a_kill_of_it(
    serving: dict[str, Serving], tmp_path: Path
) -> None:
    server = serving["slow"]
    server.start()
    workflow = load_workflow(str(relay(tmp_path, server.url)))
    remote = workflow.agents[1]
    assert remote.capabilities == ("slow",)  # from the card's skill
    async with Orchestrator(store=f"sqlite:///{tmp_path / 'client.db'}") as orch:
        async with anyio.create_task_group() as tg:
            results = []

            async def run() -> None:
                results.append(await orch.run(workflow, inputs={"message": "hi"}, run_id="r1"))

            tg.start_soon(run)
            # the remote task is under way on the serving process: kill it there
            for _ in range(600):
                started = [ev for ev in await journal(orch, "r1") if isinstance(ev, TaskStarted)]
                if any(ev.task == "remote" for ev in started):
                    break
                await anyio.sleep(0.05)
            await anyio.sleep(0.3)
            server.kill()
            failed_while_down = 0
            for _ in range(600):
                events = await journal(orch, "r1")
                failed_while_down = sum(1 for ev in events if isinstance(ev, TaskFailed))
                if failed_while_down:
                    break
                await anyio.sleep(0.05)
            server.start()  # same store, same port: it takes the orphaned remote run over
            (tmp_path / "gate").touch()
        [result] = results
    assert result.status == "succeeded", result.message
    assert result.output == "done: slow: HI"
    assert failed_while_down >= 1
    # one remote task only: the retries followed the one the kill interrupted
    served = Orchestrator(store=server.args[3])
    async with served:
        runs = await served.store.list_runs()
    assert [r.status for r in runs] == ["succeeded"]


async def test_an_approval_asked_by_the_remote_agent_parks_the_run_here(
    serving: dict[str, Serving], tmp_path: Path
) -> None:
    server = serving["gated"]
    server.start()
    workflow = load_workflow(str(relay(tmp_path, server.url)))
    store = f"sqlite:///{tmp_path / 'client.db'}"
    async with Orchestrator(store=store) as orch:
        parked = await orch.run(workflow, inputs={"message": "careful"}, run_id="r2")
        assert parked.status == "waiting"
        [approval] = await orch.approvals()
        assert approval.task == "remote"
        assert "approve" in approval.reason
    # another process (a fresh orchestrator) approves: the remote task is found by its context
    async with Orchestrator(store=store) as other:
        done = await other.approve(
            "r2", by="alice", workflow=load_workflow(str(relay(tmp_path, server.url)))
        )
    assert done.status == "succeeded", done.message
    assert done.output == "done: CAREFUL"


async def test_a_rejection_here_fails_the_task_and_is_not_retried(
    serving: dict[str, Serving], tmp_path: Path
) -> None:
    server = serving["gated"]
    server.start()
    workflow = load_workflow(str(relay(tmp_path, server.url)))
    async with Orchestrator(store=f"sqlite:///{tmp_path / 'client.db'}") as orch:
        parked = await orch.run(workflow, inputs={"message": "careful"}, run_id="r3")
        assert parked.status == "waiting"
        done = await orch.reject("r3", by="alice", comment="no")
    assert done.status == "failed"
    assert done.tasks["remote"]["attempts"] == 1
