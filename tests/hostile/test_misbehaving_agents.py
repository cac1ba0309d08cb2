"""Agents that misbehave — exit, hang, block the loop, print, return what cannot be journaled or
write escape sequences — fail their own task at most: never the process, never the run's record,
never the terminal."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from podium import Agent, Limits, Orchestrator, Plan, Task, TaskCall, tool
from podium.events import TaskFailed
from podium.models import ModelRequest, ModelResponse, ToolCall, ToolResultMessage
from podium.store import MemoryStore
from podium.testing import FunctionModel
from tests.helpers import PODIUM

pytestmark = pytest.mark.anyio


def one(agent: Agent, **task: Any) -> Plan:
    return Plan([Task(id="t", agent=agent.name, **task)])


async def run_alone(agent: Agent, **task: Any) -> tuple[Any, list[Any]]:
    store = MemoryStore()
    async with Orchestrator(agents=[agent], store=store) as orch:
        result = await orch.run(one(agent, **task), run_id="r")
        again = await orch.resume("r", workflow=None) if False else result
        events = await orch.events("r")
    assert again is result
    return result, events


# -- what cannot be journaled ------------------------------------------------------------------


def _returns(value: Any, *, sync: bool) -> Agent:
    if sync:
        return Agent(name="a", function=lambda call: value)

    async def agent(call: TaskCall) -> Any:
        return value

    return Agent(name="a", function=agent)


@pytest.mark.parametrize("sync", [True, False], ids=["sync", "async"])
@pytest.mark.parametrize(
    ("value", "where"),
    [
        ("a lone \ud800 surrogate", "output"),
        ({"deep": ["ok", "bad \udfff"]}, "output.deep[1]"),
        ({"bad \ud83d key": 1}, "output"),
        (float("nan"), "output"),
        ({"x": [1.0, float("inf")]}, "output.x[1]"),
        ({"y": -float("inf")}, "output.y"),
    ],
    ids=["surrogate", "nested-surrogate", "surrogate-key", "nan", "inf", "-inf"],
)
async def test_an_output_that_cannot_be_journaled_fails_its_task_cleanly(
    value: Any, where: str, sync: bool
) -> None:
    store = MemoryStore()
    agent = _returns(value, sync=sync)
    async with Orchestrator(agents=[agent], store=store) as orch:
        result = await orch.run(one(agent), run_id="r")
        resumed = await orch.resume("r", workflow=None)  # nothing to redo: it is final
        journal = await orch.events("r")
    assert result.status == "failed"
    error = result.tasks["t"]["error"]
    assert error["type"] == "output_not_json"
    assert where in error["message"]
    assert resumed.status == "failed"
    assert len([e for e in journal if isinstance(e, TaskFailed)]) == 1


async def test_a_context_write_that_cannot_be_journaled_fails_too() -> None:
    async def writes(call: TaskCall) -> str:
        call.context.write("score", float("nan"))
        return "ok"

    result, _ = await run_alone(Agent(name="a", function=writes))
    assert result.tasks["t"]["error"]["type"] == "output_not_json"
    assert "context['score']: nan" in result.tasks["t"]["error"]["message"]


async def test_nesting_past_the_limit_is_refused_not_a_crash() -> None:
    deep: Any = "bottom"
    for _ in range(5000):
        deep = [deep]
    result, _ = await run_alone(Agent(name="a", function=lambda call: deep))
    assert result.tasks["t"]["error"]["type"] == "output_not_json"
    assert "nested deeper than 256 levels" in result.tasks["t"]["error"]["message"]


async def test_a_model_answer_with_nan_or_a_surrogate_fails_like_any_bad_output() -> None:
    answers = iter(['{"n": NaN}', '"\\ud800"'])
    model = FunctionModel(lambda request: next(answers))
    agent = Agent(name="m", model=model)
    schema = {"type": "object"}
    result, _ = await run_alone(agent, output_schema=schema)
    assert result.status == "failed"


@pytest.mark.parametrize(
    "value",
    [
        {"big": 2**70, "tiny": 5e-324, "neg_zero": -0.0, "huge": 1e308},
        ["ünïcödé", "東京", "emoji 🎉", "\u2028 line separator", ""],
        {"nested": {"a": [{"b": None}, True, False, 0]}},
    ],
)
async def test_what_a_task_sees_is_the_same_live_and_after_a_resume(value: Any) -> None:
    seen: list[Any] = []

    async def produce(call: TaskCall) -> Any:
        return value

    async def consume(call: TaskCall) -> str:
        seen.append(call.inputs["a"])
        return "ok"

    plan = Plan([Task(id="a", agent="p"), Task(id="b", agent="c", needs=("a",))])
    agents = [Agent(name="p", function=produce), Agent(name="c", function=consume)]
    store = MemoryStore()
    async with Orchestrator(agents=agents, store=store) as orch:
        await orch.run(plan, run_id="r")
        folded = await orch.state("r")
    assert seen == [value]
    assert folded.tasks["a"].output == value  # the journal's fold: what a resume would see


async def test_a_big_output_is_stored_once(tmp_path: Path) -> None:
    big = "x" * 5_000_000
    plan = Plan(
        [
            Task(id="big", agent="a"),
            Task(id="each", agent="a", needs=("big",), map="tasks.big.output"),
        ],
        output="{{ tasks.big.output }}",
    )

    def agent(call: TaskCall) -> Any:
        return [big[:2_000_000], big[:2_000_000]] if call.task_id == "big" else call.item

    db = tmp_path / "p.db"
    async with Orchestrator(agents=[Agent(name="a", function=agent)], store=str(db)) as orch:
        result = await orch.run(plan, run_id="r")
        state = await orch.state("r")
    assert result.status == "succeeded"
    assert state.output == [big[:2_000_000]] * 2
    assert state.tasks["each"].output == [big[:2_000_000]] * 2  # the map join, folded
    # the big list once (task), its items once each (sub-tasks): not again for the join or the
    # run's output
    size = sum(f.stat().st_size for f in tmp_path.glob("p.db*"))  # noqa: ASYNC240
    assert size < 8_400_000


# -- agents that exit, hang or block -----------------------------------------------------------


@pytest.mark.parametrize(
    ("exc", "sync"),
    [
        (SystemExit, True),
        (SystemExit, False),
        (KeyboardInterrupt, True),
        (KeyboardInterrupt, False),
        # in a coroutine, GeneratorExit is how Python closes it; a thread's is the agent's
        (GeneratorExit, True),
    ],
    ids=lambda v: v.__name__ if isinstance(v, type) else ("sync" if v else "async"),
)
async def test_exit_and_interrupt_inside_an_agent_are_its_failure(
    exc: type[BaseException], sync: bool
) -> None:
    def raise_it(call: TaskCall) -> None:
        raise exc(3) if exc is SystemExit else exc()

    async def araise_it(call: TaskCall) -> None:
        raise_it(call)

    agent = Agent(name="a", function=raise_it if sync else araise_it)
    result, _ = await run_alone(agent)
    assert result.status == "failed"
    error = result.tasks["t"]["error"]
    assert error["type"] == "agent_exit"
    assert exc.__name__ in error["message"]
    if exc is not GeneratorExit:
        assert "raise_it" in error["traceback"]


async def test_exit_inside_a_tool_fails_the_attempt_not_the_process() -> None:
    @tool
    def bail(x: int) -> int:
        """Exits."""
        sys.exit(1)

    def answer(request: ModelRequest) -> ModelResponse | str:
        if any(isinstance(m, ToolResultMessage) for m in request.messages):
            return "done"
        return ModelResponse(tool_calls=(ToolCall(id="1", name="bail", arguments={"x": 1}),))

    agent = Agent(name="m", model=FunctionModel(answer), tools=(bail,))
    result, _ = await run_alone(agent)
    assert result.tasks["t"]["error"]["type"] == "agent_exit"


async def test_a_hung_sync_agent_times_out_and_does_not_starve_the_others() -> None:
    release = asyncio.Event()
    finished: list[str] = []

    def hang(call: TaskCall) -> str:
        time.sleep(30)  # the thread is given up on; the process is not held by it
        return "never"

    def quick(call: TaskCall) -> str:
        finished.append(call.task_id)
        return "ok"

    plan = Plan(
        [
            Task(id="stuck", agent="hang", timeout_s=0.3, optional=True),
            Task(id="after", agent="quick", needs=("stuck",)),
        ]
    )
    agents = [Agent(name="hang", function=hang), Agent(name="quick", function=quick)]
    async with Orchestrator(agents=agents, store="memory://", limits=Limits(threads=1)) as orch:
        started = time.monotonic()
        result = await orch.run(plan)
        pool = orch.executor.pool  # type: ignore[attr-defined]
        assert pool.abandoned == 1
    release.set()
    assert time.monotonic() - started < 10
    assert result.status == "partially_succeeded"
    assert result.tasks["stuck"]["error"]["type"] == "timeout"
    assert finished == ["after"]  # the one thread it had was handed on


async def test_an_async_agent_blocking_the_loop_is_reported_and_stopped(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def blocks(call: TaskCall) -> str:
        time.sleep(60)  # noqa: ASYNC251 - the point of the test
        return "never"

    agent = Agent(name="a", function=blocks)
    caplog.set_level(logging.WARNING)
    started = time.monotonic()
    result, _ = await run_alone(agent, timeout_s=0.5)
    assert time.monotonic() - started < 10
    error = result.tasks["t"]["error"]
    assert error["type"] == "loop_blocked"
    assert "async def" in error["message"]
    assert "the event loop has not turned" in caplog.text
    assert "test_misbehaving_agents.py" in caplog.text  # where it blocks


# -- through the command line --------------------------------------------------------------------

BAD_AGENTS = """\
import os, subprocess, sys, time

def sleepy(call):
    time.sleep(10**6)

async def blocker(call):
    time.sleep(10**6)

def chatty(call):
    print("hello from the agent")
    sys.stdout.flush()
    os.write(1, b"raw fd write\\n")
    subprocess.run([sys.executable, "-c", "print('child says hi')"], check=True)
    return "\\x1b]0;pwned\\x07\\x1b[31mred\\x1b[0m \\u202eevil"

def broken(call):
    return 1 / 0
"""


def _file(tmp_path: Path, fn: str) -> str:
    (tmp_path / "bad_agents.py").write_text(BAD_AGENTS)
    (tmp_path / f"{fn}.yaml").write_text(
        f"name: {fn}\nagents:\n  w: {{python: 'bad_agents:{fn}'}}\n"
        "tasks:\n  - {id: t, agent: w}\n"
    )
    return f"{fn}.yaml"


def _podium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PODIUM_STORE": str(tmp_path / "runs.db")}
    return subprocess.run(
        [PODIUM, *args],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.slow
@pytest.mark.parametrize(("fn", "kind"), [("sleepy", None), ("blocker", "loop_blocked")])
def test_a_timeout_ends_the_command_whatever_the_agent_does(
    tmp_path: Path, fn: str, kind: str | None
) -> None:
    started = time.monotonic()
    done = _podium(tmp_path, "run", _file(tmp_path, fn), "--timeout", "1", "--json")
    assert time.monotonic() - started < 20  # it did exit
    assert done.returncode == 1, done.stderr
    result = json.loads(done.stdout)
    assert result["status"] == "failed"
    assert (result["tasks"]["t"]["error"] or {}).get("type") == kind


@pytest.mark.slow
def test_json_output_is_one_document_whatever_agents_print(tmp_path: Path) -> None:
    done = _podium(tmp_path, "run", _file(tmp_path, "chatty"), "--json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)  # nothing else on stdout
    assert result["status"] == "succeeded"
    for line in ("hello from the agent", "raw fd write", "child says hi"):
        assert line in done.stderr  # not lost: on stderr


@pytest.mark.slow
def test_escape_sequences_in_outputs_reach_the_terminal_inert(tmp_path: Path) -> None:
    ran = _podium(tmp_path, "run", _file(tmp_path, "chatty"), "--run-id", "esc")
    shown = _podium(tmp_path, "show", "esc")
    for done in (ran, shown):
        assert done.returncode == 0, done.stderr
        assert "\x1b" not in done.stdout
        assert "\u202e" not in done.stdout
        assert "\x07" not in done.stdout
    assert "\\x1b]0;pwned\\x07" in ran.stdout  # shown, spelled out


@pytest.mark.slow
def test_a_failing_agent_keeps_its_traceback_and_show_prints_it(tmp_path: Path) -> None:
    ran = _podium(tmp_path, "run", _file(tmp_path, "broken"), "--run-id", "tb", "--json")
    assert ran.returncode == 1
    error = json.loads(ran.stdout)["tasks"]["t"]["error"]
    assert error["type"] == "ZeroDivisionError"
    assert 'bad_agents.py", line 17, in broken' in error["traceback"]
    assert "podium/runtime" not in error["traceback"]  # only the agent's own frames
    shown = _podium(tmp_path, "show", "tb")
    assert 'bad_agents.py", line 17, in broken' in shown.stdout
    assert "ZeroDivisionError: division by zero" in shown.stdout
