"""What a new user runs into: a missing API key, stopping and cancelling runs."""

from __future__ import annotations

import asyncio
import os
import subprocess
from pathlib import Path

import pytest

from podium import (
    Agent,
    ConfigError,
    Limits,
    Orchestrator,
    Plan,
    Task,
    TaskCall,
    Workflow,
)
from podium.events import RunCancelled, TaskFailed
from podium.store import MemoryStore
from tests.helpers import PODIUM
from tests.hostile.conftest import Counted

pytestmark = pytest.mark.anyio

MAPPED = """\
name: mapped
inputs:
  topics: {type: array, default: [a, b, c, d, e, f]}
agents:
  writer: {model: "openai:gpt-4o-mini"}
tasks:
  - {id: each, agent: writer, map: inputs.topics, instruction: "Write about {{ item }}"}
"""


def test_a_missing_api_key_is_reported_once_with_advice_for_the_cli(tmp_path: Path) -> None:
    (tmp_path / "mapped.yaml").write_text(MAPPED)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "PODIUM_MODEL"))}
    env["PODIUM_STORE"] = str(tmp_path / "runs.db")
    done = subprocess.run(
        [PODIUM, "run", "mapped.yaml"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr  # once, not once per map item
    assert "agent 'writer'" in lines[0]
    assert "OPENAI_API_KEY" in lines[0]
    assert "--model" in lines[0]
    assert "PODIUM_MODEL" in lines[0]
    assert "Traceback" not in done.stderr


async def test_a_missing_api_key_fails_before_a_run_exists(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    store = MemoryStore()
    agent = Agent(name="writer", model="openai:gpt-4o-mini")
    async with Orchestrator(agents=[agent], store=store) as orch:
        with pytest.raises(ConfigError, match="OpenAIModel\\(api_key="):
            await orch.run(Plan([Task(id="t", agent="writer")]))
        assert await orch.store.list_runs() == []


async def test_a_configuration_error_inside_a_run_stops_it_once() -> None:
    calls: list[object] = []

    async def misconfigured(call: TaskCall) -> str:
        calls.append(call.item)
        raise ConfigError("the CRM token is not set: export CRM_TOKEN")

    plan = Plan([Task(id="each", agent="a", map="inputs.items", retries=3)])
    wf = Workflow(name="crm", plan=plan)
    async with Orchestrator(
        agents=[Agent(name="a", function=misconfigured)], store="memory://"
    ) as orch:
        result = await orch.run(wf, inputs={"items": list(range(6))}, run_id="r")
        events = await orch.events("r")
    assert (result.status, result.reason) == ("failed", "config")
    assert "CRM_TOKEN" in result.message
    assert len([e for e in events if isinstance(e, TaskFailed)]) == 1  # not retried, not repeated
    assert calls == [0]


async def test_cancel_ends_an_interrupted_run_for_good() -> None:
    worker = Counted(delay_s=30)
    plan = Plan([Task(id="t", agent="w")])
    async with Orchestrator(agents=[worker.agent], store="memory://") as orch:
        running = asyncio.create_task(orch.run(plan, run_id="r"))
        await asyncio.wait_for(worker.started.wait(), 10)
        assert orch.interrupt("r", "Ctrl-C")
        stopped = await running
        assert stopped.status == "interrupted"
        cancelled = await orch.cancel_run("r", "not needed", by="ann")
        again = await orch.resume("r", workflow=Workflow(name="plan", plan=plan))
    assert cancelled.status == "cancelled"
    assert cancelled.reason == "not needed (by ann)"
    assert again.status == "cancelled"  # final: nothing more runs
    assert worker.calls["t"] == 1


async def test_cancel_reaches_a_run_driven_by_another_process(tmp_path: Path) -> None:
    db = str(tmp_path / "p.db")
    worker = Counted(delay_s=30)
    plan = Plan([Task(id="t", agent="w")])
    async with Orchestrator(agents=[worker.agent], store=db, limits=Limits(lease_s=1)) as driving:
        running = asyncio.create_task(driving.run(plan, run_id="r"))
        await asyncio.wait_for(worker.started.wait(), 10)
        async with Orchestrator(store=db, limits=Limits(lease_s=5)) as other:
            result = await other.cancel_run("r", "stop", by="ops")
        driven = await running
        events = await driving.events("r")
    assert result.status == "cancelled"
    assert driven.status == "cancelled"
    assert [e.reason for e in events if isinstance(e, RunCancelled)] == ["stop (by ops)"]
    assert driven.tasks["t"]["status"] == "cancelled"  # cut short, not shown running
