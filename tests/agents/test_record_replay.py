"""Recording a whole run's model and tool exchanges, and replaying the run with no model at all."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from podium import Agent, ConfigError, Orchestrator, Plan, Task, ToolContext, tool
from podium.cli import app
from podium.events import Handoff, ModelCalled, ToolCalled
from podium.exceptions import ModelError
from podium.models import (
    CassetteDivergence,
    InvalidResponse,
    Model,
    ModelRequest,
    ModelResponse,
    RateLimited,
    ToolCall,
    UserMessage,
)
from podium.models import ToolResultMessage as Result
from podium.models._calls import ModelCallInput, call_model
from podium.runtime import Cassette
from podium.runtime._replay import ModelExchange, ReplayedError
from podium.testing import FunctionModel, ScriptedModel

effects: list[str] = []


@tool(effect="write")
def save(note: str, ctx: ToolContext) -> str:
    """Save a note (a side effect)."""
    effects.append(note)
    return f"saved {note!r} for {ctx.task_id}"


def save_to_file(note: str) -> str:
    """Save a note in ./effects.txt (the CLI test's side effect)."""
    with Path("effects.txt").open("a") as file:
        file.write(note + "\n")
    return "saved"


@tool
def fail(reason: str) -> str:
    """Always fails."""
    raise RuntimeError(reason)


async def thinking(request: ModelRequest) -> ModelResponse | str:
    """Saves a note, then answers with what the tool said; slower for task 'a' so the parallel
    tasks finish in another order than they started."""
    prompt = request.messages[1].content
    results = [m for m in request.messages if isinstance(m, Result)]
    if not results:
        note = prompt.splitlines()[0].split()[-1]
        return ModelResponse(tool_calls=(ToolCall(id="c1", name="save", arguments={"note": note}),))
    if "slow" in prompt:
        await asyncio.sleep(0.02)
    return f"done: {results[-1].content}"


def boom(request: ModelRequest) -> str:
    raise AssertionError("a model was called during a replay")


PLAN = [
    Task(id="a", agent="writer", instruction="slow: save alpha"),
    Task(id="b", agent="writer", instruction="save beta"),
    Task(id="c", agent="writer", instruction="save both", needs=("a", "b")),
]


async def run(agent: Agent, tasks: list[Task], **cassette: Any) -> tuple[Any, list[Any]]:
    async with Orchestrator(agents=[agent], store="memory://", **cassette) as orch:
        result = await orch.run(Plan(tasks))
        return result, await orch.events(result.run_id)


def exchanges(journal: list[Any]) -> list[tuple[Any, ...]]:
    """What a replay must reproduce: every model call (with its cost) and tool call, by task."""
    models = [
        (e.task, e.agent, e.model, e.input_tokens, e.output_tokens, e.cost_usd)
        for e in journal
        if isinstance(e, ModelCalled)
    ]
    tools = [
        (e.task, e.agent, e.tool, e.arguments, e.result, e.error)
        for e in journal
        if isinstance(e, ToolCalled)
    ]
    return sorted(models, key=str) + sorted(tools, key=str)


@pytest.fixture(autouse=True)
def _no_effects() -> None:
    effects.clear()


@pytest.mark.anyio
async def test_a_recorded_run_replays_without_models_or_tool_effects(tmp_path: Path) -> None:
    cassette = tmp_path / "run.jsonl"
    writer = Agent(name="writer", model=FunctionModel(thinking), tools=(save,))
    recorded, recorded_journal = await run(writer, PLAN, record=cassette)
    assert recorded.status == "succeeded"
    assert sorted(effects) == ["alpha", "beta", "both"]
    lines = [json.loads(line) for line in cassette.read_text().splitlines()]
    assert len(lines) == 9  # per task: a request, the tool call, the final request
    assert {(x["task"], x["seq"], x["kind"]) for x in lines} >= {
        ("a", 0, "model"),
        ("a", 1, "tool"),
    }
    order = [(x["task"], x["seq"]) for x in lines]
    assert order.index(("b", 2)) < order.index(("a", 2))  # 'a' started first, finished last

    effects.clear()
    silent = Agent(name="writer", model=FunctionModel(boom), tools=(save,))
    replayed, replayed_journal = await run(silent, PLAN, replay=cassette)
    assert replayed.status == "succeeded"
    assert replayed.output == recorded.output
    assert replayed.tasks == recorded.tasks
    assert effects == []  # the tool was not called again
    assert exchanges(replayed_journal) == exchanges(recorded_journal)
    assert replayed.usage == recorded.usage


@pytest.mark.anyio
async def test_a_changed_instruction_fails_the_task_naming_the_exchange_and_field(
    tmp_path: Path,
) -> None:
    cassette = tmp_path / "run.jsonl"
    writer = Agent(name="writer", model=FunctionModel(thinking), tools=(save,))
    await run(writer, PLAN, record=cassette)
    changed = [Task(id="a", agent="writer", instruction="slow: save gamma"), *PLAN[1:]]
    silent = Agent(name="writer", model=FunctionModel(boom), tools=(save,))
    result, journal = await run(silent, changed, replay=cassette)
    assert result.status == "failed"
    error = result.tasks["a"]["error"]
    assert error["type"] == "CassetteDivergence"
    assert not error.get("retryable", False)
    assert error["message"].startswith(
        f"task 'a': exchange 0 diverges from cassette {str(cassette)!r} at messages[1].content: "
        "recorded 'slow: save alpha', now 'slow: save gamma'"
    )
    assert "record the run again" in error["message"]
    assert result.tasks["a"]["attempts"] == 1
    assert not any(isinstance(e, ModelCalled) and e.task == "a" for e in journal)


@pytest.mark.anyio
async def test_divergences_name_tool_arguments_and_extra_exchanges(tmp_path: Path) -> None:
    cassette = tmp_path / "run.jsonl"
    first = [
        ModelResponse(tool_calls=(ToolCall(id="1", name="save", arguments={"note": "x"}),)),
        "ok",
    ]
    await run(
        Agent(name="writer", model=ScriptedModel(first), tools=(save,)), PLAN[1:2], record=cassette
    )

    replay = Cassette.replay(cassette)
    with pytest.raises(CassetteDivergence) as caught:
        replay.tool_result("b", 1, "save", {"note": "y"})
    assert (caught.value.task, caught.value.index, caught.value.field) == ("b", 1, "arguments.note")
    with pytest.raises(CassetteDivergence, match="at tool: recorded 'save', now 'fail'"):
        replay.tool_result("b", 1, "fail", {"note": "x"})
    with pytest.raises(CassetteDivergence, match="at kind: recorded 'model', now 'tool'"):
        replay.tool_result("b", 0, "save", {"note": "x"})
    with pytest.raises(CassetteDivergence, match=r"task 'b': exchange 3 .* \(end of cassette\)"):
        replay.tool_result("b", 3, "save", {})
    assert replay.unused == [("b", 0), ("b", 2)]


@pytest.mark.anyio
async def test_model_and_tool_errors_replay_as_they_happened(tmp_path: Path) -> None:
    cassette = tmp_path / "run.jsonl"
    script = [
        ModelResponse(
            tool_calls=(ToolCall(id="1", name="fail", arguments={"reason": "disk full"}),)
        ),
        InvalidResponse("the completion has no choices", provider="openai"),
    ]
    agent = Agent(name="writer", model=ScriptedModel(script), tools=(fail,))
    recorded, recorded_journal = await run(agent, PLAN[1:2], record=cassette)
    silent = Agent(name="writer", model=FunctionModel(boom), tools=(fail,))
    replayed, replayed_journal = await run(silent, PLAN[1:2], replay=cassette)
    assert recorded.tasks["b"]["error"]["type"] == "InvalidResponse"
    assert replayed.tasks == recorded.tasks
    assert exchanges(replayed_journal) == exchanges(recorded_journal)
    [tool_call] = [e for e in replayed_journal if isinstance(e, ToolCalled)]
    assert tool_call.error is not None
    assert "disk full" in tool_call.error


@pytest.mark.anyio
async def test_handoff_targets_record_and_replay_too(tmp_path: Path) -> None:
    cassette = tmp_path / "run.jsonl"
    handoff = ToolCall(id="h", name="handoff_to_expert", arguments={"reason": "maths"})

    def agents(triage_model: Any, expert_model: Any) -> list[Agent]:
        return [
            Agent(name="writer", model=triage_model, handoffs=("expert",)),
            Agent(name="expert", model=expert_model, tools=(save,)),
        ]

    recording = agents(
        ScriptedModel([ModelResponse(tool_calls=(handoff,))]), FunctionModel(thinking)
    )
    async with Orchestrator(agents=recording, store="memory://", record=cassette) as orch:
        recorded = await orch.run(Plan(PLAN[1:2]))
    silent = agents(FunctionModel(boom), FunctionModel(boom))
    async with Orchestrator(agents=silent, store="memory://", replay=cassette) as orch:
        replayed = await orch.run(Plan(PLAN[1:2]))
        journal = await orch.events(replayed.run_id)
    assert replayed.tasks == recorded.tasks
    assert replayed.tasks["b"]["agent"] == "expert"
    assert [e.to_agent for e in journal if isinstance(e, Handoff)] == ["expert"]
    assert {e.agent for e in journal if isinstance(e, ModelCalled)} == {"writer", "expert"}


def test_a_cassette_to_replay_must_exist_and_be_a_cassette(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read cassette"):
        Orchestrator(store="memory://", replay=tmp_path / "missing.jsonl")
    junk = tmp_path / "junk.jsonl"
    junk.write_text('{"kind": "model"}\n')
    with pytest.raises(ConfigError, match=r"junk\.jsonl:1: not a run cassette exchange"):
        Orchestrator(store="memory://", replay=junk)
    with pytest.raises(ConfigError, match="not both"):
        Orchestrator(store="memory://", record=junk, replay=junk)


WORKFLOW = """
agents:
  writer: {model: test, tools: [save]}
tools:
  save: {python: "test_record_replay:save_to_file", effect: write}
tasks:
  - {id: a, agent: writer, instruction: "save alpha"}
"""


def test_podium_run_records_and_replays(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "path", [str(Path(__file__).parent), *sys.path])
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.chdir(tmp_path)
    flow = tmp_path / "flow.yaml"
    flow.write_text(WORKFLOW)
    cassette = tmp_path / "flow.cassette.jsonl"
    store = ["--store", f"sqlite:///{tmp_path / 'runs.db'}", "--json"]
    cli = CliRunner()

    recorded = cli.invoke(app, ["run", str(flow), *store, "--record", str(cassette)])
    assert recorded.exit_code == 0, recorded.output
    saved = tmp_path / "effects.txt"
    assert saved.read_text() == "a\n"  # TestModel generated the argument
    # no key for this model, and none needed: nothing is called
    args = ["run", str(flow), *store, "--replay", str(cassette), "--model", "openai:gpt-5.4"]
    replayed = cli.invoke(app, args)
    assert replayed.exit_code == 0, replayed.output
    assert saved.read_text() == "a\n"
    assert json.loads(replayed.stdout)["output"] == json.loads(recorded.stdout)["output"]

    flow.write_text(WORKFLOW.replace("save alpha", "save gamma"))
    diverged = cli.invoke(app, ["run", str(flow), *store, "--replay", str(cassette)])
    assert diverged.exit_code == 1
    error = json.loads(diverged.stdout)["tasks"]["a"]["error"]
    assert error["type"] == "CassetteDivergence"
    assert "task 'a': exchange 0" in error["message"]
    assert "messages[1].content" in error["message"]

    both = cli.invoke(app, ["run", str(flow), "--record", "x", "--replay", str(cassette)])
    assert both.exit_code == 2
    assert "not both" in both.output


@pytest.mark.anyio
@pytest.mark.parametrize(
    "error",
    [
        RateLimited("slow down", provider="openai", retry_after_s=7.0, retryable=False),
        ModelError("the scripted model ran out"),
        ValueError("bad value"),
        KeyError("missing"),
    ],
    ids=lambda e: type(e).__name__,
)
async def test_recorded_errors_are_raised_again_as_they_were(
    tmp_path: Path, error: Exception
) -> None:
    cassette = tmp_path / "run.jsonl"
    recorded, _ = await run(
        Agent(name="writer", model=ScriptedModel([error])), PLAN[1:2], record=cassette
    )
    replayed, _ = await run(
        Agent(name="writer", model=FunctionModel(boom)), PLAN[1:2], replay=cassette
    )
    assert replayed.tasks == recorded.tasks
    assert recorded.tasks["b"]["error"]["type"] == type(error).__name__


@pytest.mark.anyio
async def test_an_error_replay_cannot_rebuild_keeps_its_type_and_message(tmp_path: Path) -> None:
    cassette = Cassette.record(tmp_path / "run.jsonl")
    divergence = CassetteDivergence(tmp_path, 0, "f", 1, 2)
    model = ScriptedModel([divergence])
    with pytest.raises(CassetteDivergence):
        await cassette.request(_call(model), call_model)
    replaying = Cassette.replay(cassette.path)
    with pytest.raises(ReplayedError) as caught:
        await replaying.request(_call(replaying.resolve("test")), call_model)
    assert (caught.value.type, str(caught.value)) == ("CassetteDivergence", str(divergence))


REQUEST = ModelRequest(messages=(UserMessage(content="hi"),))


def _call(model: Model, task: str = "t") -> ModelCallInput:
    return ModelCallInput(model=model, request=REQUEST, task_id=task, agent="w")


@pytest.mark.anyio
async def test_a_replayed_model_is_named_as_recorded(tmp_path: Path) -> None:
    cassette = Cassette.record(tmp_path / "run.jsonl")
    named = ScriptedModel(["hello"], name="original")
    assert cassette.resolve(named) is named  # recording: the model itself
    await cassette.request(_call(named), call_model)

    replay = Cassette.replay(cassette.path)
    [exchange] = replay.exchanges
    assert isinstance(exchange, ModelExchange)
    assert exchange.model == "test:original"
    assert exchange.response is not None
    assert exchange.response.text == "hello"
    stand_in = replay.resolve("openai:gpt-5.4")  # replaying: no model is resolved
    assert (stand_in.name, stand_in.provider) == ("openai:gpt-5.4", "openai")
    response = await replay.request(_call(stand_in), call_model)
    assert response.text == "hello"
    assert response.model == "test:original"  # the events name the recorded model


@pytest.mark.anyio
async def test_python_agents_run_as_they_are(tmp_path: Path) -> None:
    cassette = Cassette.record(tmp_path / "run.jsonl")
    agent = Agent(name="py", function=lambda call: "hi")
    result, _ = await run(agent, [Task(id="t", agent="py")], replay=cassette.path)
    assert result.output == "hi"


@pytest.mark.anyio
async def test_recording_a_model_name_that_does_not_resolve_is_refused_up_front(
    tmp_path: Path,
) -> None:
    agent = Agent(name="writer", model="nosuch:model")
    with pytest.raises(ConfigError, match="agent 'writer': unknown model provider 'nosuch'"):
        await run(agent, PLAN[1:2], record=tmp_path / "run.jsonl")


def test_a_cassette_recording_an_exchange_twice_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "twice.jsonl"
    line = json.dumps({"kind": "tool", "task": "t", "seq": 0, "agent": "a", "tool": "x"})
    path.write_text(f"{line}\n\n{line}\n")
    with pytest.raises(
        ConfigError, match=r"twice\.jsonl:3: exchange 0 of task 't' is recorded twice"
    ):
        Cassette.replay(path)
    with pytest.raises(ConfigError, match="mode is 'record' or 'replay'"):
        Cassette(path, "rewind")  # type: ignore[arg-type]
