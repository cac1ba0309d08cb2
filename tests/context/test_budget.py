"""Context budgets: a model-driven agent's prompt stays within its budget however large the
blackboard and the needed outputs grow; summaries are stored with their sources and reused."""

from __future__ import annotations

import json
from typing import Any

import pytest

from podium import Agent, ContextPolicy, MergePolicy, Orchestrator, Plan, Task, TaskCall, Workflow
from podium.context._budget import DEFAULT_CONTEXT_TOKENS, estimate_tokens
from podium.context._summarise import EXTRACTIVE, summary_key
from podium.models import ModelRequest
from podium.models._base import AssistantMessage, SystemMessage, ToolResultMessage, UserMessage
from podium.runtime import RunState
from podium.testing import FunctionModel

pytestmark = pytest.mark.anyio

BUDGET = 400
FACT = "Finding {i}: the reef at site {i} lost {p} percent of its coral cover after the heatwave."


def request_tokens(request: ModelRequest) -> int:
    """Tokens of everything a request's messages say, as the budget counts them."""
    total = 0
    for m in request.messages:
        if isinstance(m, AssistantMessage):
            total += estimate_tokens(m.content or "")
            total += sum(estimate_tokens(c.name + json.dumps(c.arguments)) for c in m.tool_calls)
        elif isinstance(m, (SystemMessage, UserMessage, ToolResultMessage)):
            total += estimate_tokens(m.content)
    return total


def fixed_tokens(agent: Agent, instruction: str) -> int:
    """The part of a prompt the budget does not cover: the role and the instruction, plus the
    headers around the context."""
    return estimate_tokens(agent.instructions) + estimate_tokens(instruction) + 16


def appender(n: int) -> Any:
    def write(call: TaskCall) -> str:
        start = int(call.task_id.removeprefix("w")) * n
        for i in range(start, start + n):
            call.context.write("findings", FACT.format(i=i, p=i % 90))
        return f"wrote {n}"

    return write


async def run_growing(budget: int | None) -> tuple[list[ModelRequest], RunState, Agent]:
    """Four rounds of 50 appended findings, a model task reading them after each round."""
    requests: list[ModelRequest] = []

    def model(request: ModelRequest) -> str:
        requests.append(request)
        return "summary written"

    analyst = Agent(
        name="analyst",
        instructions="You analyse reef surveys.",
        model=FunctionModel(model),
        context_budget=budget,
    )
    tasks = []
    for r in range(4):
        tasks.append(Task(id=f"w{r}", agent="writer", needs=(f"a{r - 1}",) if r else ()))
        tasks.append(
            Task(
                id=f"a{r}",
                agent="analyst",
                instruction="Which sites lost the most coral?",
                needs=(f"w{r}",),
                reads=("findings",),
            )
        )
    wf = Workflow(
        name="growing",
        plan=Plan(tasks),
        context=ContextPolicy(merge={"findings": MergePolicy("append")}),
    )
    async with Orchestrator(agents=[Agent(name="writer", function=appender(50)), analyst]) as o:
        result = await o.run(wf)
        state = await o.state(result.run_id)
    assert result.status == "succeeded"
    return requests, state, analyst


async def test_200_growing_entries_keep_every_prompt_within_the_budget() -> None:
    requests, state, analyst = await run_growing(BUDGET)
    assert len(requests) == 4
    assert len(state.board.latest("findings").value) == 200  # type: ignore[union-attr]
    bound = BUDGET + fixed_tokens(analyst, "Which sites lost the most coral?")
    sizes = [request_tokens(r) for r in requests]
    assert all(size <= bound for size in sizes), sizes
    # the entries grew 4-fold, the prompts did not
    raw = estimate_tokens(json.dumps(state.board.latest("findings").value))  # type: ignore[union-attr]
    assert raw > 4 * bound
    # what the model saw starts with the lead of the entries
    assert "Finding 0:" in requests[-1].messages[0].content  # type: ignore[union-attr]


async def test_without_a_budget_the_default_applies() -> None:
    requests, _, analyst = await run_growing(None)
    bound = DEFAULT_CONTEXT_TOKENS + fixed_tokens(analyst, "Which sites lost the most coral?")
    assert max(request_tokens(r) for r in requests) <= bound
    # the first round (50 findings) is over 400 tokens, so a budget of 400 would have cut it
    assert request_tokens(requests[0]) > BUDGET


async def test_summaries_are_stored_with_their_sources_by_the_summariser() -> None:
    _, state, _ = await run_growing(BUDGET)
    summaries = state.board.history(summary_key("findings"))
    versions = {e.version for e in state.board.history("findings")}
    assert len(summaries) == 4  # one per version read: each round read a new one
    for s in summaries:
        assert s.agent == EXTRACTIVE
        [source] = s.sources
        key, _, version = source.partition("@")
        assert key == "findings"
        assert int(version) in versions
        assert estimate_tokens(s.value) <= BUDGET


async def test_a_summary_of_the_same_version_is_reused_not_made_again() -> None:
    calls: list[str] = []

    async def summariser_model(request: ModelRequest) -> str:
        calls.append(request.messages[-1].content)  # type: ignore[union-attr]
        return "Sites 88 and 89 lost the most."

    def analyst_model(request: ModelRequest) -> str:
        return "done"

    def write(call: TaskCall) -> str:
        call.context.write("findings", [FACT.format(i=i, p=i % 90) for i in range(100)])
        return "ok"

    agents = [
        Agent(name="writer", function=write),
        Agent(name="brief", model=FunctionModel(summariser_model)),
        Agent(
            name="analyst",
            model=FunctionModel(analyst_model),
            context_budget=200,
            summariser="brief",
        ),
    ]
    plan = Plan(
        [
            Task(id="w", agent="writer"),
            Task(
                id="a1",
                agent="analyst",
                instruction="Worst site?",
                needs=("w",),
                reads=("findings",),
            ),
            Task(
                id="a2",
                agent="analyst",
                instruction="Worst site?",
                needs=("a1",),
                reads=("findings",),
            ),
        ]
    )
    async with Orchestrator(agents=agents) as orch:
        result = await orch.run(plan)
        state = await orch.state(result.run_id)
    assert result.status == "succeeded"
    assert len(calls) == 1  # a2 reused a1's summary of version 1
    [summary] = state.board.history(summary_key("findings"))
    assert summary.value == "Sites 88 and 89 lost the most."
    assert summary.agent == "brief"
    assert summary.sources == ("findings@1",)


async def test_an_unknown_summariser_fails_the_task_with_a_fix() -> None:
    agents = [
        Agent(name="analyst", model=FunctionModel(lambda r: "x"), summariser="nobody"),
    ]
    async with Orchestrator(agents=agents) as orch:
        result = await orch.run(Plan([Task(id="a", agent="analyst", instruction="hi")]))
        state = await orch.state(result.run_id)
    assert result.status == "failed"
    error = state.tasks["a"].error
    assert error is not None
    assert error.type == "summariser"
    assert "nobody" in error.message


async def test_many_keys_and_a_large_needed_output_fit_too() -> None:
    requests: list[ModelRequest] = []

    def model(request: ModelRequest) -> str:
        requests.append(request)
        return "ok"

    def write(call: TaskCall) -> str:
        for i in range(200):
            call.context.write(f"k{i}", FACT.format(i=i, p=i))
        return "\n".join(FACT.format(i=i, p=i) for i in range(300))

    analyst = Agent(name="analyst", model=FunctionModel(model), context_budget=BUDGET)
    keys = tuple(f"k{i}" for i in range(200))
    plan = Plan(
        [
            Task(id="w", agent="writer"),
            Task(id="a", agent="analyst", instruction="Site 7?", needs=("w",), reads=keys),
        ]
    )
    async with Orchestrator(agents=[Agent(name="writer", function=write), analyst]) as orch:
        result = await orch.run(plan)
    assert result.status == "succeeded"
    [request] = requests
    assert request_tokens(request) <= BUDGET + fixed_tokens(analyst, "Site 7?")


async def test_a_long_tool_conversation_is_compressed_and_a_small_one_is_not() -> None:
    from podium.models._base import ModelResponse, ToolCall
    from podium.tools import tool

    @tool
    def survey(site: int) -> str:
        """Survey one site."""
        return " ".join(FACT.format(i=site, p=j) for j in range(40))

    requests: list[ModelRequest] = []

    def model(request: ModelRequest) -> ModelResponse | str:
        requests.append(request)
        n = len(requests)
        if n <= 6:
            return ModelResponse(
                tool_calls=(ToolCall(id=f"c{n}", name="survey", arguments={"site": n}),)
            )
        return "done"

    analyst = Agent(
        name="analyst", model=FunctionModel(model), tools=(survey,), context_budget=BUDGET
    )
    async with Orchestrator(agents=[analyst]) as orch:
        result = await orch.run(Plan([Task(id="a", agent="analyst", instruction="Survey")]))
    assert result.status == "succeeded"
    bound = BUDGET + fixed_tokens(analyst, "Survey")
    assert all(request_tokens(r) <= bound for r in requests), [request_tokens(r) for r in requests]
    # the pairing of calls and results is kept: every result still answers its call
    last = requests[-1].messages
    assert [m.call_id for m in last if isinstance(m, ToolResultMessage)] == [
        f"c{n}" for n in range(1, 7)
    ]
    # one result alone (about 700 tokens) would not have fit: compression happened
    assert estimate_tokens(survey.function(1)) > BUDGET  # type: ignore[attr-defined]
