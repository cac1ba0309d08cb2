"""Remote A2A agents in a team (`A2AAgent`, ``a2a: URL`` in a workflow file), against a real
Podium A2A server in a thread."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

import anyio
import pytest

from podium.a2a import A2AAgent
from podium.events import TaskStarted
from podium.exceptions import PlanValidationError, RunNotFound
from podium.plan import Plan, Task, Workflow, load_workflow
from podium.reliability._retry import RetryPolicy
from podium.runtime import Orchestrator
from podium.store import Store, open_store
from tests.a2a.conftest import Serve, free_port

pytestmark = pytest.mark.anyio


async def until(check: Callable[[], Awaitable[bool]]) -> None:
    for _ in range(1000):
        if await check():
            return
        await anyio.sleep(0.02)
    raise AssertionError("never happened")


async def remote_exists(store: Store) -> bool:
    return bool(await store.list_runs())


async def started(orch: Orchestrator, run_id: str) -> bool:
    try:
        return any(isinstance(e, TaskStarted) for e in await orch.events(run_id))
    except RunNotFound:
        return False


def one_task(agent_name: str) -> Workflow:
    return Workflow(
        name="asker", plan=Plan([Task(id="ask", agent=agent_name, instruction="hello")])
    )


async def test_the_card_gives_the_agent_its_routing_text(a2a_server: Serve) -> None:
    served = a2a_server("team")
    agent = A2AAgent(served.url)
    assert agent.name == "team"
    assert agent.capabilities == ("shouter", "shouting", "counter", "counting")
    assert "Turns text to upper case" in agent.description
    assert agent.metadata == {"a2a": served.url}


async def test_a_remote_agent_answers_a_task(a2a_server: Serve, tmp_path: Path) -> None:
    served = a2a_server("shout")
    agent = A2AAgent(served.url, name="loud")
    async with Orchestrator(agents=[agent], store=f"sqlite:///{tmp_path / 'c.db'}") as orch:
        result = await orch.run(one_task("loud"))
    assert result.status == "succeeded", result.message
    assert result.output == "HELLO"


async def test_a_failing_remote_is_a_retryable_error_retried_then_failed(
    a2a_server: Serve, tmp_path: Path
) -> None:
    served = a2a_server("broken")
    retry = RetryPolicy(attempts=2, backoff_s=0, jitter=0)
    agent = A2AAgent(served.url, name="fragile", retry=retry)
    async with Orchestrator(agents=[agent], store=f"sqlite:///{tmp_path / 'c.db'}") as orch:
        result = await orch.run(one_task("fragile"))
    assert result.status == "failed"
    task = result.tasks["ask"]
    assert task["attempts"] == 2
    assert task["error"]["type"] == "a2a_failed"
    remote = open_store(served.store_url)
    await remote.open()
    try:  # one remote task per attempt
        assert [r.status for r in await remote.list_runs()] == ["failed", "failed"]
    finally:
        await remote.close()


async def test_an_unreachable_agent_is_a_retryable_error(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"  # nobody listens there
    retry = RetryPolicy(attempts=3, backoff_s=0, jitter=0)
    agent = A2AAgent(url, name="gone", description="gone", capabilities=["x"], retry=retry)
    async with Orchestrator(agents=[agent], store=f"sqlite:///{tmp_path / 'c.db'}") as orch:
        result = await orch.run(one_task("gone"))
    assert result.status == "failed"
    assert result.tasks["ask"]["attempts"] == 3
    assert result.tasks["ask"]["error"]["type"] == "a2a_unavailable"


async def test_cancelling_the_run_here_cancels_the_remote_task(
    a2a_server: Serve, tmp_path: Path
) -> None:
    served = a2a_server("slow")
    agent = A2AAgent(served.url, name="sleepy")
    async with Orchestrator(agents=[agent], store=f"sqlite:///{tmp_path / 'c.db'}") as orch:
        async with anyio.create_task_group() as tg:
            results = []

            async def run() -> None:
                results.append(await orch.run(one_task("sleepy"), run_id="c1"))

            tg.start_soon(run)
            remote = open_store(served.store_url)
            await remote.open()
            try:
                await until(lambda: remote_exists(remote))  # the remote task exists
                await until(lambda: started(orch, "c1"))
                assert orch.cancel("c1")
            finally:
                await remote.close()
        [result] = results
    assert result.status == "cancelled"
    remote = open_store(served.store_url)
    await remote.open()
    try:
        assert [r.status for r in await remote.list_runs()] == ["cancelled"]
    finally:
        await remote.close()


def test_a_workflow_file_with_an_unreachable_agent_says_where(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    path = tmp_path / "wf.yaml"
    path.write_text(
        f"name: wf\nagents:\n  far:\n    a2a: {url}\ntasks:\n  - id: t\n    agent: far\n"
    )
    with pytest.raises(PlanValidationError) as caught:
        load_workflow(str(path))
    message = str(caught.value)
    assert "wf.yaml:4" in message
    assert "cannot read the A2A agent card" in message
    # checking the file alone reads no card and imports nothing
    checked = load_workflow(str(path), import_code=False)
    assert [a.name for a in checked.agents] == ["far"]


def test_an_a2a_agent_is_remote_only(tmp_path: Path) -> None:
    path = tmp_path / "wf.yaml"
    path.write_text(
        "name: wf\nagents:\n  far:\n    a2a: http://127.0.0.1:9\n    model: test\n"
        "tasks:\n  - id: t\n    agent: far\n"
    )
    with pytest.raises(PlanValidationError, match="an `a2a` agent is remote"):
        load_workflow(str(path))
