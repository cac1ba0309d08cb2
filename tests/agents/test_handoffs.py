"""Handoffs: a model-driven agent passes its task to another agent, which finishes it."""

from __future__ import annotations

import json
from typing import Any

import pytest

from podium import Agent, ConfigError, Orchestrator, Plan, Task, tool
from podium.agents import ModelAgentLoop, TaskCall
from podium.agents._handoff import handoff_brief, handoff_step, summarise
from podium.cli._render import details
from podium.context import Blackboard, ContextView
from podium.events import Handoff, ModelCalled, TaskSucceeded, ToolCalled
from podium.models import (
    AssistantMessage,
    ModelRequest,
    ModelResponse,
    ToolCall,
    ToolResultMessage,
    UserMessage,
)
from podium.models._calls import ModelCallInput, call_model
from podium.plan import load_workflow_text
from podium.testing import FunctionModel, ScriptedModel, TestModel

pytestmark = pytest.mark.anyio


@tool
def lookup(term: str) -> str:
    """Look a term up."""
    return f"{term} means 42"


@tool
def compute(x: int) -> int:
    """Double a number."""
    return 2 * x


def hand_to(agent: str, reason: str = "", note: str = "", call_id: str = "h1") -> ModelResponse:
    arguments = {"reason": reason, "note": note}
    return ModelResponse(
        tool_calls=(ToolCall(id=call_id, name=f"handoff_to_{agent}", arguments=arguments),)
    )


async def run_task(*agents: Agent, first: str = "triage") -> tuple[Any, list[Any]]:
    async with Orchestrator(agents=list(agents), store="memory://") as orch:
        result = await orch.run(Plan([Task(id="t", agent=first, instruction="What is x?")]))
        return result, await orch.events(result.run_id)


async def test_the_target_takes_over_with_its_own_model_instructions_and_tools() -> None:
    triage_model = ScriptedModel(
        [
            ModelResponse(tool_calls=(ToolCall(id="c1", name="lookup", arguments={"term": "x"}),)),
            hand_to("expert", reason="needs arithmetic", note="x is 21"),
        ],
        name="triage",
    )
    seen: list[ModelRequest] = []

    def expert(request: ModelRequest) -> ModelResponse | str:
        seen.append(request)
        if len(seen) == 1:
            return ModelResponse(
                tool_calls=(ToolCall(id="c2", name="compute", arguments={"x": 21}),)
            )
        return "x doubled is 42"

    triage = Agent(
        name="triage",
        model=triage_model,
        tools=(lookup,),
        instructions="You sort questions.",
        handoffs=("expert",),
    )
    specialist = Agent(
        name="expert",
        model=FunctionModel(expert, name="expert"),
        tools=(compute,),
        instructions="You do arithmetic.",
        description="numbers",
    )
    result, journal = await run_task(triage, specialist)

    assert result.status == "succeeded"
    assert result.output == "x doubled is 42"
    assert result.tasks["t"]["agent"] == "expert"
    [handoff] = [e for e in journal if isinstance(e, Handoff)]
    assert (handoff.task, handoff.from_agent, handoff.to_agent) == ("t", "triage", "expert")
    assert (handoff.reason, handoff.note) == ("needs arithmetic", "x is 21")
    [succeeded] = [e for e in journal if isinstance(e, TaskSucceeded)]
    assert succeeded.agent == "expert"
    calls = [(e.agent, e.model) for e in journal if isinstance(e, ModelCalled)]
    assert calls == [
        ("triage", "test:triage"),
        ("triage", "test:triage"),
        ("expert", "test:expert"),
        ("expert", "test:expert"),
    ]
    assert [(e.agent, e.tool) for e in journal if isinstance(e, ToolCalled)] == [
        ("triage", "lookup"),
        ("expert", "compute"),
    ]

    offered = triage_model.requests[0].tools
    assert [t.name for t in offered] == ["lookup", "handoff_to_expert"]
    assert offered[1].parameters["required"] == ["reason"]
    assert "'expert' (numbers)" in offered[1].description

    first = seen[0]
    assert [t.name for t in first.tools] == ["compute"]  # the expert's tools, no handoffs
    assert first.messages[0].content.startswith("You do arithmetic.")
    brief = first.messages[1]
    assert isinstance(brief, UserMessage)
    assert brief.content.startswith("What is x?")
    assert "Agent 'triage' handed this task over to you." in brief.content
    assert "Reason: needs arithmetic" in brief.content
    assert "Note: x is 21" in brief.content
    assert '- triage called lookup({"term": "x"})' in brief.content
    assert "lookup returned: x means 42" in brief.content
    assert "handoff_to" not in brief.content


async def test_the_targets_own_handoffs_apply_next() -> None:
    a = Agent(name="triage", model=ScriptedModel([hand_to("b")]), handoffs=("b",))
    b_model = ScriptedModel([hand_to("triage"), hand_to("c", reason="c knows")])
    b = Agent(name="b", model=b_model, handoffs=("c",))
    c = Agent(name="c", model=ScriptedModel(["done by c"]))
    result, journal = await run_task(a, b, c)
    assert result.output == "done by c"
    assert [(h.from_agent, h.to_agent) for h in journal if isinstance(h, Handoff)] == [
        ("triage", "b"),
        ("b", "c"),
    ]
    # b may not hand back to triage: that call is an unknown tool, and the model is told so
    [unknown] = [e for e in journal if isinstance(e, ToolCalled)]
    assert unknown.tool == "handoff_to_triage"
    assert unknown.error is not None
    assert "unknown tool 'handoff_to_triage'" in unknown.error
    assert [t.name for t in b_model.requests[0].tools] == ["handoff_to_c"]
    brief = c.model.requests[0].messages[1].content  # type: ignore[union-attr]
    assert "Agent 'b' handed this task over to you." in brief
    assert "b called handoff_to_triage" in brief  # the summary keeps the failed call
    assert "handoff_to_c" not in brief  # and leaves the handoff out, though its id is the same


async def test_handoffs_per_task_are_bounded() -> None:
    ping = Agent(
        name="triage",
        model=FunctionModel(lambda r: hand_to("pong", reason="yours")),
        handoffs=("pong",),
        max_handoffs=3,
    )
    pong = Agent(
        name="pong",
        model=FunctionModel(lambda r: hand_to("triage", reason="no, yours")),
        handoffs=("triage",),
    )
    result, journal = await run_task(ping, pong)
    assert result.status == "failed"
    error = result.tasks["t"]["error"]
    assert error["type"] == "handoff_limit"
    assert "already handed off 3 times (triage → pong → triage → pong → triage)" in error["message"]
    assert len([e for e in journal if isinstance(e, Handoff)]) == 3
    assert len([e for e in journal if isinstance(e, ModelCalled)]) == 4


async def test_the_loop_exposes_the_handoff_sequence() -> None:
    emitted: list[tuple[type, dict[str, Any]]] = []

    async def emit(kind: type, **fields: Any) -> None:
        emitted.append((kind, fields))

    agents = {
        "a": Agent(name="a", model=ScriptedModel([hand_to("b", reason="r1")]), handoffs=("b",)),
        "b": Agent(name="b", model=ScriptedModel([hand_to("c", note="n2")]), handoffs=("c",)),
        "c": Agent(name="c", model=ScriptedModel([json.dumps({"ok": True})])),
    }
    intercepted: list[str] = []

    async def through(input: ModelCallInput) -> ModelResponse:  # every agent's calls, wrapped
        intercepted.append(input.agent)
        return await call_model(input)

    call = TaskCall(
        run_id="r", task_id="t", agent="a", instruction="go", inputs={}, run_inputs={},
        task_outputs={}, context=ContextView(Blackboard(), task="t", reads=()),
    )  # fmt: skip
    loop = ModelAgentLoop(agents["a"], call, emit, agents=agents, call_model=through)
    assert loop.agent_path == ("a",)
    outcome = await loop.run()
    assert (outcome.output, outcome.agent) == ('{"ok": true}', "c")
    assert loop.agent_path == ("a", "b", "c")
    assert [(h.from_agent, h.to_agent, h.reason, h.note) for h in loop.handoffs] == [
        ("a", "b", "r1", ""),
        ("b", "c", "", "n2"),
    ]
    assert intercepted == ["a", "b", "c"]  # the handoff targets' calls go through the chain too
    assert [f["agent"] for k, f in emitted if k is ModelCalled] == ["a", "b", "c"]


async def test_the_test_model_can_hand_off_too() -> None:
    triage = Agent(name="triage", model=TestModel(call_tools=["handoff_to_x"]), handoffs=("x",))
    x = Agent(name="x", model=TestModel(output_text="x did it"))
    result, journal = await run_task(triage, x)
    assert result.output == "x did it"
    [handoff] = [e for e in journal if isinstance(e, Handoff)]
    assert handoff.reason == "a"  # generated from the parameters' schema


def test_an_agent_cannot_hand_off_to_itself_or_as_a_python_agent() -> None:
    with pytest.raises(ConfigError, match="'a' lists itself among its handoffs"):
        Agent(name="a", model="test", handoffs=("a",))
    with pytest.raises(ConfigError, match="'p' is a Python agent: only model-driven agents"):
        Agent(name="p", function=lambda call: None, handoffs=("a",))
    with pytest.raises(ConfigError, match="max_handoffs must be at least 0"):
        Agent(name="a", model="test", max_handoffs=-1)
    with pytest.raises(ConfigError, match="named like its handoff tools"):
        Agent(
            name="a", model="test", tools=(tool(name="handoff_to_b")(lambda: 1),), handoffs=("b",)
        )


@pytest.mark.parametrize(
    ("others", "message"),
    [
        ([], "agent 'triage' hands off to unknown agent 'b'"),
        ([Agent(name="b", function=lambda call: 1)], "'b', a Python agent"),
    ],
)
async def test_the_orchestrator_refuses_bad_handoff_targets(
    others: list[Agent], message: str
) -> None:
    triage = Agent(name="triage", model="test", handoffs=("b",))
    with pytest.raises(ConfigError, match=message):
        await run_task(triage, *others)


async def test_handoffs_in_a_workflow_file() -> None:
    workflow = load_workflow_text(
        """
        agents:
          triage: {model: test, handoffs: expert, max_handoffs: 1}
          expert: {model: test}
        tasks:
          - {id: t, agent: triage, instruction: go}
        """
    )
    triage = {a.name: a for a in workflow.agents}["triage"]
    assert (triage.handoffs, triage.max_handoffs) == (("expert",), 1)
    async with Orchestrator(store="memory://") as orch:
        result = await orch.run(workflow)
    assert result.tasks["t"]["agent"] == "expert"


def test_the_summary_is_short_and_says_who_did_what() -> None:
    messages = [
        AssistantMessage(content="Let me look.  It is\nlong: " + "x" * 1000, tool_calls=(
            ToolCall(id="1", name="lookup", arguments={"term": "tides"}),
            ToolCall(id="2", name="handoff_to_b", arguments={"reason": "b knows"}),
        )),
        ToolResultMessage(call_id="1", name="lookup", content="tides are...", is_error=False),
        UserMessage(content="Your answer was rejected: not JSON"),
    ]  # fmt: skip
    lines = summarise(messages, "a")
    assert lines[0].startswith("- a said: Let me look. It is long: xxx")
    assert len(lines[0]) == len("- a said: ") + 600
    assert lines[0].endswith("…")
    assert lines[1:] == [
        '- a called lookup({"term": "tides"})',
        "  lookup returned: tides are...",
        "- a was told: Your answer was rejected: not JSON",
    ]


def test_arguments_the_model_got_wrong_are_read_leniently() -> None:
    call = ToolCall(id="1", name="handoff_to_b", arguments={"reason": ["two", "reasons"]})
    step = handoff_step("a", "b", call)
    assert (step.reason, step.note) == ('["two", "reasons"]', "")
    assert (
        handoff_brief(step, [])
        == 'Agent \'a\' handed this task over to you.\nReason: ["two", "reasons"]'
    )


def test_podium_show_describes_a_handoff() -> None:
    event = Handoff(run_id="r", seq=3, ts=0, task="t", from_agent="a", to_agent="b", reason="r")
    assert details(event) == "from_agent=a to_agent=b reason=r"
