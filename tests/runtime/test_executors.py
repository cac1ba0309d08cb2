"""The executor contract: the same runs, the same journal, on the local executor and on Ray.

Every test takes the `executor` fixture, which makes a `LocalExecutor` or a `RayExecutor` on the
session's one Ray instance (`ray_address`, started with ``num_cpus=2``). The Ray ones are marked
``ray``; they run in the default ``make test``.
"""

from __future__ import annotations

import asyncio
import functools
import importlib.util
import itertools
import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from podium import Agent, Orchestrator, Plan, Task, TaskCall, Workflow, tool
from podium.cli import app
from podium.cli._session import executor_for
from podium.events import (
    AnyEvent,
    ContextWritten,
    ModelCalled,
    RunCancelled,
    TaskFailed,
    TaskRetrying,
    ToolCalled,
)
from podium.exceptions import ConfigError, PlanValidationError
from podium.models import ModelRequest, ModelResponse, ToolCall, ToolResultMessage
from podium.plan import load_workflow
from podium.plan._workflow import ExecutorSpec
from podium.plan._yaml_check import Checker
from podium.plan._yaml_nodes import _compose
from podium.plan._yaml_sections import compile_executor
from podium.reliability import RetryPolicy
from podium.runtime import Executor, LocalExecutor
from podium.runtime.ray import BACKSTOP_S, RayExecutor
from podium.testing import FunctionModel
from tests.helpers import PODIUM, journal

pytestmark = pytest.mark.anyio

DATA = Path(__file__).parent / "data"
MakeExecutor = Callable[[], Executor]


@pytest.fixture(scope="session")
def ray_address() -> Iterator[str]:
    """The session's one local Ray instance (``num_cpus=2``), shut down at the end."""
    import ray

    context = ray.init(num_cpus=2, include_dashboard=False, logging_level=logging.WARNING)
    try:
        yield str(context.address_info["gcs_address"])
    finally:
        ray.shutdown()


def docs_executor() -> MakeExecutor:
    """The executor docs/architecture.md shows how to write (an event loop per thread)."""
    text = (Path(__file__).parents[2] / "docs" / "architecture.md").read_text(encoding="utf-8")
    code = text.split("\n### Executors\n", 1)[1].split("```python\n", 1)[1].split("```", 1)[0]
    names: dict[str, Any] = {"__name__": "docs_example"}
    exec(compile(code, "docs/architecture.md", "exec"), names)
    made: MakeExecutor = names["LoopPerThread"]
    return made


@pytest.fixture(params=["local", pytest.param("ray", marks=pytest.mark.ray), "docs-example"])
def executor(request: pytest.FixtureRequest) -> MakeExecutor:
    """Makes the executor under test (a new one per orchestrator)."""
    if request.param == "ray":
        request.getfixturevalue("ray_address")
        return RayExecutor
    if request.param == "docs-example":
        return docs_executor()
    return LocalExecutor


@pytest.fixture(params=["local", pytest.param("ray", marks=pytest.mark.ray)])
def cli_executor(request: pytest.FixtureRequest) -> MakeExecutor:
    """An executor the command line can choose (`--executor`)."""
    if request.param == "ray":
        request.getfixturevalue("ray_address")
        return RayExecutor
    return LocalExecutor


def kinds(events: list[AnyEvent], task: str | None = None) -> list[str]:
    return [type(e).__name__ for e in events if task is None or getattr(e, "task", None) == task]


def attempts(events: list[AnyEvent], task: str) -> list[str]:
    """What the attempts of `task` journaled (without the scheduler's readiness and
    assignment, which are not the executor's business)."""
    return [k for k in kinds(events, task) if k not in ("TaskReady", "TaskAssigned")]


async def run(
    executor: MakeExecutor, plan: Plan | Workflow, *agents: Agent, **kw: Any
) -> tuple[Any, list[AnyEvent]]:
    """Run `plan`, and check that the journal is whole and the listener saw it in order."""
    seen: list[AnyEvent] = []
    async with Orchestrator(agents=agents, store="memory://", executor=executor()) as orch:
        result = await orch.run(plan, on_event=seen.append, **kw)
        events = await orch.events(result.run_id)
    assert [e.seq for e in events] == list(range(len(events)))
    assert kinds(seen) == kinds(events)
    return result, events


async def echo(call: TaskCall) -> dict[str, Any]:
    return {"task": call.task_id, "inputs": dict(call.task_outputs), "pid": os.getpid()}


def where(call: TaskCall) -> dict[str, Any]:
    return {"task": call.task_id, "pid": os.getpid()}


async def until(condition: Callable[[], bool], timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        await asyncio.sleep(0.02)


def ran_here(executor: MakeExecutor, pid: int) -> bool:
    """Whether an attempt that reported `pid` ran where this executor runs attempts."""
    return (pid == os.getpid()) == (executor is not RayExecutor)


# -- shapes -------------------------------------------------------------------------------------


async def test_a_chain_passes_outputs_along(executor: MakeExecutor) -> None:
    plan = Plan(
        [
            Task(id="a", agent="echo"),
            Task(id="b", agent="echo", needs=("a",)),
            Task(id="c", agent="echo", needs=("b",)),
        ]
    )
    result, events = await run(executor, plan, Agent(name="echo", function=echo))
    assert result.status == "succeeded"
    assert result.output["inputs"]["b"]["inputs"]["a"]["task"] == "a"
    assert ran_here(executor, result.output["pid"])
    assert attempts(events, "b") == ["TaskStarted", "TaskSucceeded"]
    assert kinds(events)[-1] == "RunSucceeded"


async def test_a_fan_out_joins(executor: MakeExecutor) -> None:
    branches = [Task(id=f"b{i}", agent="echo", needs=("root",)) for i in range(4)]
    join = Task(id="join", agent="echo", needs=tuple(t.id for t in branches))
    result, events = await run(
        executor,
        Plan([Task(id="root", agent="echo"), *branches, join]),
        Agent(name="echo", function=echo),
    )
    assert result.status == "succeeded"
    assert sorted(result.output["inputs"]) == ["b0", "b1", "b2", "b3"]
    assert all(
        v["inputs"] == {"root": result.tasks["root"]["output"]}
        for v in result.output["inputs"].values()
    )
    order = kinds(events)
    assert order.count("TaskSucceeded") == 6


async def test_sync_and_async_python_agents(executor: MakeExecutor) -> None:
    plan = Plan([Task(id="s", agent="sync"), Task(id="a", agent="async", needs=("s",))])
    result, _ = await run(
        executor, plan, Agent(name="sync", function=where), Agent(name="async", function=echo)
    )
    assert result.status == "succeeded"
    assert ran_here(executor, result.tasks["s"]["output"]["pid"])
    assert ran_here(executor, result.tasks["a"]["output"]["pid"])


@tool
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


def adding_model(request: ModelRequest) -> ModelResponse | str:
    results = [m for m in request.messages if isinstance(m, ToolResultMessage)]
    if not results:
        return ModelResponse(tool_calls=(ToolCall(id="1", name="add", arguments={"a": 2, "b": 3}),))
    return json.dumps({"sum": results[0].content, "pid": os.getpid()})


async def test_a_model_driven_agent_with_a_tool(executor: MakeExecutor) -> None:
    agent = Agent(name="llm", model=FunctionModel(adding_model), tools=(add,))
    result, events = await run(
        executor, Plan([Task(id="t", agent="llm", instruction="add")]), agent
    )
    assert result.status == "succeeded"
    answer = json.loads(result.output)
    assert answer["sum"] == "5"
    assert ran_here(executor, answer["pid"])  # the model and the tool ran where the attempt did
    assert attempts(events, "t") == [
        "TaskStarted",
        "ModelCalled",
        "ToolCalled",
        "ModelCalled",
        "TaskSucceeded",
    ]
    tool_call = next(e for e in events if isinstance(e, ToolCalled))
    assert (tool_call.tool, tool_call.arguments, tool_call.result) == ("add", {"a": 2, "b": 3}, 5)
    assert all(e.model == "test:function" for e in events if isinstance(e, ModelCalled))


# -- failures -----------------------------------------------------------------------------------


def refuse(call: TaskCall) -> None:
    raise ValueError(f"no {call.task_id}")


async def test_an_agent_that_raises_fails_its_task_with_a_typed_error(
    executor: MakeExecutor,
) -> None:
    result, events = await run(
        executor, Plan([Task(id="t", agent="refuse")]), Agent(name="refuse", function=refuse)
    )
    assert result.status == "failed"
    failed = next(e for e in events if isinstance(e, TaskFailed))
    assert (failed.error.type, failed.error.message) == ("ValueError", "ValueError: no t")
    assert failed.error.traceback is not None
    assert "test_executors.py" in failed.error.traceback
    assert 'raise ValueError(f"no {call.task_id}")' in failed.error.traceback


async def dawdle(call: TaskCall) -> str:
    await asyncio.sleep(30)
    return "late"


async def test_a_task_that_takes_too_long_times_out(executor: MakeExecutor) -> None:
    started = time.monotonic()
    result, events = await run(
        executor,
        Plan([Task(id="t", agent="slow", timeout_s=0.5)]),
        Agent(name="slow", function=dawdle),
    )
    assert time.monotonic() - started < 10
    failed = next(e for e in events if isinstance(e, TaskFailed))
    assert failed.error.type == "timeout"
    assert "took longer than 0.5s" in failed.error.message
    assert result.status == "failed"


def flaky(call: TaskCall) -> str:
    if call.attempt == 1:
        raise ConnectionError("the first attempt fails")
    return f"ok on attempt {call.attempt}"


async def test_a_failed_attempt_is_retried(executor: MakeExecutor) -> None:
    task = Task(id="t", agent="flaky", retry=RetryPolicy(attempts=2, backoff_s=0))
    result, events = await run(executor, Plan([task]), Agent(name="flaky", function=flaky))
    assert result.status == "succeeded"
    assert result.output == "ok on attempt 2"
    assert attempts(events, "t") == [
        "TaskStarted",
        "TaskFailed",
        "TaskRetrying",
        "TaskStarted",
        "TaskSucceeded",
    ]


# -- context ------------------------------------------------------------------------------------


def write_notes(call: TaskCall) -> str:
    call.context.write("notes", {"by": call.task_id}, sources=["doc:1"], confidence=0.5)
    return "written"


def read_notes(call: TaskCall) -> Any:
    return call.context.get("notes")


async def test_context_reads_and_writes(executor: MakeExecutor) -> None:
    plan = Plan(
        [
            Task(id="w", agent="writer"),
            Task(id="r", agent="reader", needs=("w",), reads=("notes",)),
        ]
    )
    result, events = await run(
        executor,
        plan,
        Agent(name="writer", function=write_notes),
        Agent(name="reader", function=read_notes),
    )
    assert result.status == "succeeded"
    assert result.output == {"by": "w"}
    written = [e for e in events if isinstance(e, ContextWritten)]
    assert [(e.task, e.key, e.value, e.version) for e in written] == [
        ("w", "notes", {"by": "w"}, 1)
    ]


# -- cancellation -------------------------------------------------------------------------------


def mark(call: TaskCall, text: str) -> None:
    Path(str(call.run_inputs["marker"])).write_text(text)


async def wait_for_cancel(call: TaskCall) -> str:
    mark(call, "started")
    try:
        await asyncio.sleep(60)
    except asyncio.CancelledError:
        mark(call, "cancelled")
        raise
    return "never"


async def test_cancelling_a_run_cancels_its_attempts(
    executor: MakeExecutor, tmp_path: Path
) -> None:
    marker = tmp_path / "marker"
    agent = Agent(name="waiter", function=wait_for_cancel)
    plan = Plan([Task(id="t", agent="waiter")])
    async with Orchestrator(agents=[agent], store="memory://", executor=executor()) as orch:
        running = asyncio.ensure_future(
            orch.run(plan, inputs={"marker": str(marker)}, run_id="cancelme")
        )
        await until(marker.exists)
        assert orch.cancel("cancelme", "enough")
        result = await running
        events = await orch.events(result.run_id)
    assert result.status == "cancelled"
    assert isinstance(events[-1], RunCancelled)
    await until(lambda: marker.read_text() == "cancelled")  # on Ray, a moment after


# -- Ray only: a worker that dies -----------------------------------------------------------


def dies_first(call: TaskCall) -> str:
    if call.attempt == 1:
        os._exit(1)  # the Ray worker process dies mid-attempt
    return f"survived on attempt {call.attempt}"


@pytest.mark.ray
async def test_a_ray_worker_that_dies_is_a_retryable_failure(ray_address: str) -> None:
    task = Task(id="t", agent="mortal", retry=RetryPolicy(attempts=2, backoff_s=0))
    result, events = await run(RayExecutor, Plan([task]), Agent(name="mortal", function=dies_first))
    assert result.status == "succeeded"
    assert result.output == "survived on attempt 2"
    failed = next(e for e in events if isinstance(e, TaskFailed))
    assert failed.error.type == "executor_lost"
    assert failed.error.retryable
    assert not failed.final
    assert "WorkerCrashedError" in failed.error.message
    assert any(isinstance(e, TaskRetrying) for e in events)


@pytest.mark.ray
async def test_a_ray_worker_lost_on_the_last_attempt_fails_the_task(ray_address: str) -> None:
    task = Task(id="t", agent="mortal")  # no retries
    result, events = await run(RayExecutor, Plan([task]), Agent(name="mortal", function=dies_first))
    assert result.status == "failed"
    failed = next(e for e in events if isinstance(e, TaskFailed))
    assert (failed.error.type, failed.final) == ("executor_lost", True)


def block(seconds: float) -> None:
    time.sleep(seconds)


async def blocks_its_loop(call: TaskCall) -> str:
    block(60)  # blocking code in `async def`: the worker's own timeout cannot fire
    return "late"


@pytest.mark.ray
async def test_a_ray_attempt_that_blocks_past_its_timeout_is_killed(ray_address: str) -> None:
    started = time.monotonic()
    task = Task(id="t", agent="blocker", timeout_s=0.5)
    result, events = await run(
        RayExecutor, Plan([task]), Agent(name="blocker", function=blocks_its_loop)
    )
    assert time.monotonic() - started < 0.5 + BACKSTOP_S + 10
    failed = next(e for e in events if isinstance(e, TaskFailed))
    assert failed.error.type == "timeout"
    assert "did not stop it" in failed.error.message
    assert result.status == "failed"


@pytest.mark.ray
async def test_python_agents_of_a_workflow_folder_run_on_ray(
    ray_address: str, tmp_path: Path
) -> None:
    ledger = tmp_path / "ledger.txt"
    workflow = load_workflow(DATA / "ledger.yaml")
    result, _ = await run(RayExecutor, workflow, inputs={"ledger": str(ledger), "pause": 0})
    assert result.status == "succeeded"
    assert sorted(ledger.read_text().split()) == sorted(
        ["s1", "s2", "left", "right", "s4", "s5", "s6", "s7"]
    )


# -- a driving process killed mid-run, then resumed ---------------------------------------------


def in_flight(events: list[dict[str, Any]]) -> set[Any]:
    started = {e["task"] for e in events if e["kind"] == "TaskStarted"}
    done = {e["task"] for e in events if e["kind"] in ("TaskSucceeded", "TaskFailed")}
    return started - done


@pytest.mark.slow
def test_an_attempt_that_ran_on_the_executor_is_resumed_like_a_local_one(
    cli_executor: MakeExecutor, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """`podium run --executor ...` is SIGKILLed mid-run; `podium resume` finishes the run: every
    task is in the ledger, and none that had succeeded runs again."""
    db, ledger = tmp_path / "runs.db", tmp_path / "ledger.txt"
    store = f"sqlite:///{db}"
    choice = ["--executor", "local"]
    if cli_executor is RayExecutor:  # the session's Ray instance, joined by the CLI's processes
        choice = ["--executor", "ray", "--ray-address", request.getfixturevalue("ray_address")]
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}  # the CLI finds the agents
    proc = subprocess.Popen(
        [
            PODIUM,
            "run",
            str(DATA / "ledger.yaml"),
            *choice,
            "--store",
            store,
            "--run-id",
            "killme",
            "--input",
            f"ledger={ledger}",
            "--input",
            "pause=0.5",
            "--json",
        ],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        events = journal(db, "killme")
        succeeded = sum(e["kind"] == "TaskSucceeded" for e in events)
        if succeeded >= 3 and in_flight(events):
            break
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
    assert len(done_before) >= 3
    assert not any(e["kind"].startswith("Run") and e["kind"] != "RunSubmitted" for e in before)

    resumed = subprocess.run(
        [PODIUM, "resume", "killme", *choice, "--store", store, "--json"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert resumed.returncode == 0, resumed.stderr
    result = json.loads(resumed.stdout)
    assert (result["status"], result["output"]) == ("succeeded", "s7"), resumed.stderr

    counts = Counter(ledger.read_text().split())
    story = f"{counts}; succeeded before the kill: {done_before}, in flight: {in_flight(before)}"
    assert set(counts) == {"s1", "s2", "left", "right", "s4", "s5", "s6", "s7"}, story
    assert all(counts[task] == 1 for task in done_before), story  # never run again
    # only an attempt in flight at the kill runs again (it may have done its work before the
    # kill, or, on Ray, after it: the driver died, not the Ray worker)
    assert {task for task, n in counts.items() if n > 1} <= in_flight(before), story
    assert all(n <= 2 for n in counts.values()), story
    after = journal(db, "killme")
    assert Counter(e["task"] for e in after if e["kind"] == "TaskSucceeded") == Counter(set(counts))
    assert after[-1]["kind"] == "RunSucceeded"


# -- Ray only: what cannot reach the workers ------------------------------------------------


@pytest.mark.ray
async def test_agents_the_ray_workers_cannot_import_fail_with_a_clear_error(
    ray_address: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = tmp_path / "hidden_agents.py"
    source.write_text("def agent(call):\n    return 1\n")
    spec = importlib.util.spec_from_file_location("hidden_agents", source)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "hidden_agents", module)
    spec.loader.exec_module(module)  # imported, though on no folder of sys.path: not shipped
    agent = Agent(name="hidden", function=module.agent)
    result, events = await run(RayExecutor, Plan([Task(id="t", agent="hidden")]), agent)
    failed = next(e for e in events if isinstance(e, TaskFailed))
    assert (failed.error.type, failed.final) == ("executor_error", True)
    assert "cannot load the run's agents" in failed.error.message
    assert "hidden_agents" in failed.error.message
    assert result.status == "failed"


@pytest.mark.ray
async def test_agents_that_cannot_be_pickled_fail_with_a_clear_error(ray_address: str) -> None:
    lock = threading.Lock()

    def locked(call: TaskCall) -> str:
        with lock:
            return "never shipped"

    result, events = await run(
        RayExecutor, Plan([Task(id="t", agent="locked")]), Agent(name="locked", function=locked)
    )
    failed = next(e for e in events if isinstance(e, TaskFailed))
    assert failed.error.type == "executor_error"
    assert "cannot be sent to Ray" in failed.error.message
    assert "picklable" in failed.error.message
    assert result.status == "failed"


@pytest.mark.ray
async def test_per_agent_resources_and_concurrency(ray_address: str, tmp_path: Path) -> None:
    async def overlap(call: TaskCall) -> int:
        log = tmp_path / f"{call.task_id}.log"
        log.write_text(f"{time.monotonic()}\n")
        await asyncio.sleep(0.3)
        log.write_text(log.read_text() + f"{time.monotonic()}\n")
        return 1

    executor = functools.partial(
        RayExecutor,
        agent_resources={"one": {"num_cpus": 0.5}},
        max_concurrency={"one": 1},
    )
    plan = Plan([Task(id=f"t{i}", agent="one") for i in range(3)])
    result, _ = await run(executor, plan, Agent(name="one", function=overlap))
    assert result.status == "succeeded"
    spans = sorted(
        tuple(float(x) for x in (tmp_path / f"t{i}.log").read_text().split()) for i in range(3)
    )
    assert all(end <= start for (_, end), (start, _) in itertools.pairwise(spans))


def test_impossible_resources_fail_the_attempt_not_the_run() -> None:
    with pytest.raises(ConfigError, match="unknown option"):
        RayExecutor(agent_resources={"a": {"gpus": 1}})
    with pytest.raises(ConfigError, match="sizes a local Ray instance"):
        RayExecutor(address="auto", num_cpus=2)
    with pytest.raises(ConfigError, match="give 1 or more"):
        RayExecutor(max_concurrency={"a": 0})


async def test_without_ray_installed_the_error_says_how_to_install_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` raises ImportError
    with pytest.raises(ConfigError, match=r"pip install 'podium\[ray\]'"):
        await RayExecutor().open()


# -- choosing the executor: the command line over the workflow file ---------------------------


def test_the_command_line_chooses_over_the_file() -> None:
    file_ray = ExecutorSpec(kind="ray", num_cpus=3, max_concurrency={"a": 2})
    assert executor_for(None) is None  # local: the orchestrator's default
    assert executor_for(file_ray, choice="local") is None
    chosen = executor_for(file_ray)
    assert isinstance(chosen, RayExecutor)
    assert (chosen.num_cpus, chosen.max_concurrency) == (3, {"a": 2})
    joined = executor_for(None, address="auto")  # --ray-address alone means Ray
    assert isinstance(joined, RayExecutor)
    assert joined.address == "auto"
    with pytest.raises(ConfigError, match="--ray-address"):
        executor_for(None, choice="local", address="auto")


def test_record_and_replay_are_refused_on_ray(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app,
        [
            "run",
            str(DATA / "ledger.yaml"),
            "--executor",
            "ray",
            "--record",
            str(tmp_path / "cassette.json"),
            "--input",
            f"ledger={tmp_path / 'ledger.txt'}",
            "--store",
            "memory://",
        ],
    )
    assert result.exit_code == 2
    assert "--record and --replay need the local executor" in result.stderr


def compiled(text: str) -> tuple[ExecutorSpec | None, list[str]]:
    """The ``executor`` section of a file's `text`, and its problems (``file:line: ...``)."""
    data, lines, _ = _compose(text, "flow.yaml")
    check = Checker("flow.yaml", lines)
    spec = compile_executor(check, data.get("executor"), agents={"writer", "vision"})
    return spec, [str(p) for p in check.problems]


def test_the_executor_section_of_a_workflow_file() -> None:
    assert compiled("name: x\n") == (None, [])
    assert compiled("executor: local\n") == (ExecutorSpec(kind="local"), [])
    assert compiled("executor: ray\n") == (ExecutorSpec(kind="ray"), [])
    spec, problems = compiled(
        "executor:\n"
        "  ray:\n"
        "    address: auto\n"
        "    runtime_env: {env_vars: {A: '1'}}\n"
        "    agents:\n"
        "      vision: {num_gpus: 1, resources: {camera: 1}, max_concurrency: 2}\n"
        "      writer: {num_cpus: 0.5}\n"
    )
    assert problems == []
    assert spec == ExecutorSpec(
        kind="ray",
        address="auto",
        runtime_env={"env_vars": {"A": "1"}},
        agent_resources={
            "vision": {"num_gpus": 1, "resources": {"camera": 1}},
            "writer": {"num_cpus": 0.5},
        },
        max_concurrency={"vision": 2},
    )
    executor = RayExecutor.from_spec(spec, address="ray://head:10001")
    assert executor.address == "ray://head:10001"
    assert executor.agent_resources["vision"] == {"num_gpus": 1, "resources": {"camera": 1}}


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("executor: rey\n", "flow.yaml:1: executor: unknown executor 'rey' (did you mean 'ray'?)"),
        ("executor: 3\n", "flow.yaml:1: executor: must be `local`, `ray` or a mapping"),
        ("executor:\n  dask: {}\n", "flow.yaml:2: executor: unknown executor 'dask'"),
        ("executor:\n  local: {}\n  ray: {}\n", "flow.yaml:1: executor: name one executor"),
        ("executor:\n  local: {n: 2}\n", "flow.yaml:2: executor.local: takes no settings"),
        ("executor:\n  ray: 3\n", "flow.yaml:2: executor.ray: must be a mapping"),
        ("executor:\n  ray:\n    num_cpus: 0\n", "flow.yaml:3: executor.ray.num_cpus: should be"),
        (
            "executor:\n  ray:\n    adress: auto\n",
            "flow.yaml:3: executor.ray: unknown key 'adress' (did you mean 'address'?)",
        ),
        (
            "executor:\n  ray:\n    agents:\n      writr: {num_cpus: 1}\n",
            "flow.yaml:4: executor.ray.agents.writr: unknown agent 'writr' (did you mean",
        ),
        (
            "executor:\n  ray:\n    agents:\n      writer: {max_concurrency: 0}\n",
            "flow.yaml:4: executor.ray.agents.writer.max_concurrency: should be greater than or",
        ),
        (
            "executor:\n  ray:\n    agents:\n      writer: {gpus: 1}\n",
            "flow.yaml:4: executor.ray.agents.writer: unknown key 'gpus' (did you mean 'num_",
        ),
    ],
)
def test_bad_executor_sections_say_where(text: str, problem: str) -> None:
    _, problems = compiled(text)
    assert len(problems) == 1, problems
    assert problems[0].startswith(problem.replace("takes no", "the local executor takes no"))


def test_a_workflow_file_says_where_its_attempts_run(tmp_path: Path) -> None:
    flow = tmp_path / "flow.yaml"
    flow.write_text(
        "name: flow\n"
        "agents:\n  writer: {python: 'json:dumps'}\n"
        "executor:\n  ray:\n    num_cpus: 2\n"
        "tasks:\n  - {id: a, agent: writer}\n"
    )
    assert load_workflow(flow).executor == ExecutorSpec(kind="ray", num_cpus=2)
    flow.write_text(flow.read_text().replace("num_cpus", "num_cpu"))
    with pytest.raises(PlanValidationError, match=r"flow.yaml:6: executor.ray: unknown key"):
        load_workflow(flow)
