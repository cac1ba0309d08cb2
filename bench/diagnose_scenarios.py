"""Real small runs that reproduce each failure mode `podium diagnose` labels, and clean ones.

Every scenario runs a workflow through the `Orchestrator` on an in-memory store with fakes from
`podium.testing` (or plain Python agents) and returns the run's journal with the labels a person
reading it would give. `bench/diagnose.py --generate` saves them under `bench/data/diagnose/`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from podium import Agent, Orchestrator, Plan, Task, TaskCall, Workflow
from podium.events import AnyEvent
from podium.exceptions import OutputValidationError
from podium.models import AssistantMessage, ModelRequest, ModelResponse, ToolCall
from podium.reliability import BreakerPolicy, Budget, Guards, Reliability, RetryPolicy
from podium.runtime import Limits
from podium.testing import FunctionModel, ScriptedModel
from podium.tools import tool


@tool
def lookup(term: str) -> str:
    """Look a term up in the encyclopedia."""
    return f"{term}: a well documented subject with many published sources"


def says(text: str) -> Callable[[TaskCall], Awaitable[str]]:
    async def body(call: TaskCall) -> str:
        return text

    return body


def echoes(prefix: str) -> Callable[[TaskCall], Awaitable[str]]:
    """An agent whose answer restates its instruction and builds on what it was given."""

    async def body(call: TaskCall) -> str:
        given = " ".join(str(v) for v in call.task_outputs.values())
        return f"{prefix} {call.instruction}. {given}".strip()

    return body


def failing(message: str) -> Callable[[TaskCall], Awaitable[str]]:
    async def body(call: TaskCall) -> str:
        raise RuntimeError(message)

    return body


def slow(seconds: float) -> Callable[[TaskCall], Awaitable[str]]:
    async def body(call: TaskCall) -> str:
        await asyncio.sleep(seconds)
        return "late answer"

    return body


def repeat_model(times: int, answer: str) -> FunctionModel:
    """Calls `lookup` with the same argument `times` times, then answers `answer`."""

    def fn(request: ModelRequest) -> ModelResponse:
        done = sum(isinstance(m, AssistantMessage) for m in request.messages)
        if done < times:
            call = ToolCall(id=f"c{done}", name="lookup", arguments={"term": "coral reefs"})
            return ModelResponse(tool_calls=(call,), finish_reason="tool_calls")
        return ModelResponse(text=answer)

    return FunctionModel(fn, name="repeater")


def wander_model() -> FunctionModel:
    """Looks a new term up every round and never answers."""

    def fn(request: ModelRequest) -> ModelResponse:
        n = sum(isinstance(m, AssistantMessage) for m in request.messages)
        call = ToolCall(id=f"w{n}", name="lookup", arguments={"term": f"topic {n}"})
        return ModelResponse(tool_calls=(call,), finish_reason="tool_calls")

    return FunctionModel(fn, name="wanderer")


def hand_to(agent: str, call_id: str) -> ModelResponse:
    arguments = {"reason": "not mine", "note": ""}
    return ModelResponse(
        tool_calls=(ToolCall(id=call_id, name=f"handoff_to_{agent}", arguments=arguments),)
    )


def ping_pong_model(other: str) -> FunctionModel:
    """Always hands the task to `other`."""

    def fn(request: ModelRequest) -> ModelResponse:
        return hand_to(other, f"h{len(request.messages)}")

    return FunctionModel(fn, name=f"to-{other}")


@dataclass(frozen=True)
class Scenario:
    name: str
    labels: tuple[str, ...]
    build: Callable[[], Awaitable[list[AnyEvent]]]


async def _run(
    agents: list[Agent],
    tasks: list[Task],
    *,
    name: str,
    inputs: dict[str, str] | None = None,
    reliability: Reliability | None = None,
    limits: Limits | None = None,
    budget: Budget | None = None,
) -> list[AnyEvent]:
    options: dict[str, object] = {
        "reliability": reliability or Reliability(retry=RetryPolicy(attempts=1))
    }
    if limits is not None:
        options["limits"] = limits
    async with Orchestrator(agents=agents, store="memory://", **options) as orch:  # type: ignore[arg-type]
        result = await orch.run(Workflow(name=name, plan=Plan(tasks)), inputs=inputs, budget=budget)
        return await orch.events(result.run_id)


# --- clean runs ---------------------------------------------------------------------------


def clean_chain(topic: str) -> Callable[[], Awaitable[list[AnyEvent]]]:
    async def build() -> list[AnyEvent]:
        agents = [
            Agent(name="researcher", function=echoes("Notes:")),
            Agent(name="writer", function=echoes("Report:")),
        ]
        tasks = [
            Task(id="research", agent="researcher", instruction=f"Collect facts about {topic}"),
            Task(
                id="report",
                agent="writer",
                instruction=f"Write a short report about {topic}",
                needs=("research",),
            ),
        ]
        return await _run(agents, tasks, name="clean-chain")

    return build


def clean_fanout(topics: tuple[str, ...]) -> Callable[[], Awaitable[list[AnyEvent]]]:
    async def build() -> list[AnyEvent]:
        agents = [
            Agent(name="researcher", function=echoes("Facts:")),
            Agent(name="editor", function=echoes("Summary:")),
        ]
        tasks = [
            Task(id=f"t{i}", agent="researcher", instruction=f"Find facts about {t}")
            for i, t in enumerate(topics)
        ]
        tasks.append(
            Task(
                id="merge",
                agent="editor",
                instruction="Merge the facts into one summary",
                needs=tuple(t.id for t in tasks),
            )
        )
        return await _run(agents, tasks, name="clean-fanout")

    return build


def clean_tool(term: str) -> Callable[[], Awaitable[list[AnyEvent]]]:
    async def build() -> list[AnyEvent]:
        model = repeat_model(1, f"{term} is a well documented subject; sources agree on {term}")
        agents = [Agent(name="librarian", model=model, tools=(lookup,))]
        tasks = [Task(id="find", agent="librarian", instruction=f"Look up {term} and describe it")]
        return await _run(agents, tasks, name="clean-tool")

    return build


def clean_schema() -> Callable[[], Awaitable[list[AnyEvent]]]:
    async def build() -> list[AnyEvent]:
        model = ScriptedModel([ModelResponse(text='{"title": "Coral reefs under warming seas"}')])
        agents = [Agent(name="writer", model=model)]
        tasks = [
            Task(
                id="title",
                agent="writer",
                instruction="Give the coral reefs report a title",
                output_schema={"type": "object", "required": ["title"]},
            )
        ]
        return await _run(agents, tasks, name="clean-schema")

    return build


# --- failure modes ------------------------------------------------------------------------


def repeated_calls(times: int) -> Callable[[], Awaitable[list[AnyEvent]]]:
    """The same lookup `times` times (under the loop guard), then an answer."""

    async def build() -> list[AnyEvent]:
        model = repeat_model(times, "coral reefs are documented subjects with published sources")
        agents = [Agent(name="librarian", model=model, tools=(lookup,))]
        tasks = [Task(id="find", agent="librarian", instruction="Look up coral reefs")]
        return await _run(agents, tasks, name="repeat")

    return build


def tool_loop(max_repeats: int) -> Callable[[], Awaitable[list[AnyEvent]]]:
    """The same lookup until the repeat guard stops the run."""

    async def build() -> list[AnyEvent]:
        model = repeat_model(100, "never reached")
        agents = [Agent(name="librarian", model=model, tools=(lookup,), max_rounds=50)]
        tasks = [Task(id="find", agent="librarian", instruction="Look up coral reefs")]
        limits = Limits(guards=Guards(max_repeats=max_repeats))
        return await _run(agents, tasks, name="tool-loop", limits=limits)

    return build


def handoff_cycle(repeats: int) -> Callable[[], Awaitable[list[AnyEvent]]]:
    async def build() -> list[AnyEvent]:
        agents = [
            Agent(name="alice", model=ping_pong_model("bob"), handoffs=("bob",), max_handoffs=20),
            Agent(name="bob", model=ping_pong_model("alice"), handoffs=("alice",), max_handoffs=20),
        ]
        tasks = [Task(id="ask", agent="alice", instruction="Answer the customer's question")]
        limits = Limits(guards=Guards(cycle_repeats=repeats))
        return await _run(agents, tasks, name="handoff-cycle", limits=limits)

    return build


def step_limit(max_steps: int) -> Callable[[], Awaitable[list[AnyEvent]]]:
    async def build() -> list[AnyEvent]:
        agents = [Agent(name="wanderer", model=wander_model(), tools=(lookup,), max_rounds=50)]
        tasks = [Task(id="explore", agent="wanderer", instruction="Explore the topic")]
        limits = Limits(guards=Guards(max_steps=max_steps))
        return await _run(agents, tasks, name="step-limit", limits=limits)

    return build


def round_limit(rounds: int) -> Callable[[], Awaitable[list[AnyEvent]]]:
    async def build() -> list[AnyEvent]:
        agents = [Agent(name="wanderer", model=wander_model(), tools=(lookup,), max_rounds=rounds)]
        tasks = [Task(id="explore", agent="wanderer", instruction="Explore the topic")]
        return await _run(agents, tasks, name="round-limit")

    return build


def derailed(instruction: str, answer: str) -> Callable[[], Awaitable[list[AnyEvent]]]:
    async def build() -> list[AnyEvent]:
        agents = [Agent(name="assistant", function=says(answer))]
        tasks = [Task(id="answer", agent="assistant", instruction=instruction)]
        return await _run(agents, tasks, name="derailed")

    return build


def derailed_downstream(instruction: str, answer: str) -> Callable[[], Awaitable[list[AnyEvent]]]:
    """A derailed output that the next task uses unchecked."""

    async def build() -> list[AnyEvent]:
        agents = [
            Agent(name="assistant", function=says(answer)),
            Agent(name="writer", function=echoes("Final:")),
        ]
        tasks = [
            Task(id="answer", agent="assistant", instruction=instruction),
            Task(id="final", agent="writer", instruction="Polish the answer", needs=("answer",)),
        ]
        return await _run(agents, tasks, name="derailed-downstream")

    return build


def rejected_then_repaired() -> Callable[[], Awaitable[list[AnyEvent]]]:
    async def build() -> list[AnyEvent]:
        model = ScriptedModel(
            [ModelResponse(text="not json at all"), ModelResponse(text='{"title": "Coral reefs"}')]
        )
        agents = [Agent(name="writer", model=model)]
        tasks = [
            Task(
                id="title",
                agent="writer",
                instruction="Give the report a title",
                output_schema={"type": "object", "required": ["title"]},
            )
        ]
        return await _run(agents, tasks, name="rejected")

    return build


def validation_failed(kind: str) -> Callable[[], Awaitable[list[AnyEvent]]]:
    async def build() -> list[AnyEvent]:
        async def liar(call: TaskCall) -> str:
            raise OutputValidationError("the claim is not supported by its source", kind=kind)

        agents = [Agent(name="liar", function=liar)]
        tasks = [Task(id="claim", agent="liar", instruction="State a fact about coral reefs")]
        return await _run(agents, tasks, name="validation-failed")

    return build


def backup_took_over() -> Callable[[], Awaitable[list[AnyEvent]]]:
    async def build() -> list[AnyEvent]:
        agents = [
            Agent(name="junior", function=failing("cannot do this"), backups=("senior",)),
            Agent(name="senior", function=echoes("Done:")),
        ]
        tasks = [Task(id="fix", agent="junior", instruction="Fix the failing build")]
        return await _run(agents, tasks, name="backup")

    return build


def handed_away(note: str) -> Callable[[], Awaitable[list[AnyEvent]]]:
    async def build() -> list[AnyEvent]:
        triage = ScriptedModel([hand_to("expert", "h1")])
        expert = ScriptedModel([ModelResponse(text=f"The expert answer: {note}")])
        agents = [
            Agent(name="triage", model=triage, handoffs=("expert",)),
            Agent(name="expert", model=expert),
        ]
        tasks = [Task(id="ask", agent="triage", instruction=f"Answer: {note}")]
        return await _run(agents, tasks, name="handoff")

    return build


def forked_to_other_agent() -> Callable[[], Awaitable[list[AnyEvent]]]:
    async def build() -> list[AnyEvent]:
        agents = [
            Agent(name="writer", function=echoes("Draft:")),
            Agent(name="editor", function=echoes("Edited:")),
        ]
        wf = Workflow(
            name="forked",
            plan=Plan([Task(id="draft", agent="writer", instruction="Draft the release notes")]),
        )
        async with Orchestrator(agents=agents, store="memory://") as orch:
            first = await orch.run(wf)
            fork = await orch.fork(first.run_id, "draft", agent="editor", workflow=wf)
            return await orch.events(fork.run_id)

    return build


def ignored(
    upstream: str, answer: str, collect: str = "Collect the facts"
) -> Callable[[], Awaitable[list[AnyEvent]]]:
    async def build() -> list[AnyEvent]:
        agents = [
            Agent(name="researcher", function=says(upstream)),
            Agent(name="writer", function=says(answer)),
        ]
        tasks = [
            Task(id="research", agent="researcher", instruction=collect),
            Task(
                id="report",
                agent="writer",
                instruction="Write the report from the facts",
                needs=("research",),
            ),
        ]
        return await _run(agents, tasks, name="ignored")

    return build


def over_budget(steps: int) -> Callable[[], Awaitable[list[AnyEvent]]]:
    async def build() -> list[AnyEvent]:
        agents = [Agent(name="wanderer", model=wander_model(), tools=(lookup,), max_rounds=50)]
        tasks = [Task(id="explore", agent="wanderer", instruction="Explore the topic")]
        return await _run(agents, tasks, name="budget", budget=Budget(steps=steps))

    return build


def breaker_fails() -> Callable[[], Awaitable[list[AnyEvent]]]:
    async def build() -> list[AnyEvent]:
        agents = [Agent(name="broken", function=failing("service unavailable"))]
        tasks = [
            Task(id=f"t{i}", agent="broken", instruction=f"Call the service {i}", optional=True)
            for i in range(4)
        ]
        reliability = Reliability(
            retry=RetryPolicy(attempts=1),
            breakers=BreakerPolicy(
                min_calls=2, failure_rate=1.0, scopes=("agent",), on_open="fail"
            ),
        )
        return await _run(agents, tasks, name="breaker", reliability=reliability)

    return build


def approval_rejected() -> Callable[[], Awaitable[list[AnyEvent]]]:
    async def build() -> list[AnyEvent]:
        agents = [Agent(name="ops", function=echoes("Deployed:"))]
        wf = Workflow(
            name="gated",
            plan=Plan([Task(id="deploy", agent="ops", instruction="Deploy", approval="required")]),
        )
        async with Orchestrator(agents=agents, store="memory://") as orch:
            parked = await orch.run(wf)
            await orch.reject(parked.run_id, by="ops-lead", workflow=wf)
            return await orch.events(parked.run_id)

    return build


def timed_out(task_timeout: float) -> Callable[[], Awaitable[list[AnyEvent]]]:
    async def build() -> list[AnyEvent]:
        agents = [Agent(name="sleepy", function=slow(5.0))]
        tasks = [Task(id="wait", agent="sleepy", instruction="Wait", timeout_s=task_timeout)]
        return await _run(agents, tasks, name="timeout")

    return build


def run_timed_out() -> Callable[[], Awaitable[list[AnyEvent]]]:
    async def build() -> list[AnyEvent]:
        agents = [Agent(name="sleepy", function=slow(5.0))]
        tasks = [Task(id="wait", agent="sleepy", instruction="Wait")]
        return await _run(agents, tasks, name="run-timeout", limits=Limits(timeout_s=0.05))

    return build


SCENARIOS: list[Scenario] = [
    # clean runs: no label
    Scenario("clean-chain-reefs", (), clean_chain("coral reefs")),
    Scenario("clean-chain-volcanoes", (), clean_chain("volcanoes in Iceland")),
    Scenario("clean-chain-batteries", (), clean_chain("lithium batteries")),
    Scenario("clean-fanout-planets", (), clean_fanout(("Mars", "Venus", "Jupiter"))),
    Scenario("clean-fanout-rivers", (), clean_fanout(("the Nile", "the Amazon"))),
    Scenario("clean-tool-glaciers", (), clean_tool("glaciers")),
    Scenario("clean-tool-tides", (), clean_tool("ocean tides")),
    Scenario("clean-schema-title", (), clean_schema()),
    Scenario("clean-handoff-free-model", (), clean_tool("sand dunes")),
    # FM-1.3 step repetition and loops
    Scenario("repeat-twice", ("step_repetition",), repeated_calls(2)),
    Scenario("repeat-thrice", ("step_repetition", "loop"), repeated_calls(3)),
    Scenario("tool-loop-3", ("loop", "step_repetition"), tool_loop(3)),
    Scenario("tool-loop-5", ("loop", "step_repetition"), tool_loop(5)),
    Scenario("handoff-cycle-2", ("loop",), handoff_cycle(2)),
    Scenario("handoff-cycle-3", ("loop",), handoff_cycle(3)),
    # FM-1.5 unaware of termination
    Scenario("step-limit-3", ("unaware_of_termination",), step_limit(3)),
    Scenario("step-limit-6", ("unaware_of_termination",), step_limit(6)),
    Scenario("round-limit-3", ("unaware_of_termination",), round_limit(3)),
    Scenario("round-limit-5", ("unaware_of_termination",), round_limit(5)),
    # FM-2.3 derailment (and, used downstream unchecked, FM-3.2)
    Scenario(
        "derailed-gdp",
        ("derailment",),
        derailed("What is the GDP of France?", "Coffee beans grow best in volcanic soil"),
    ),
    Scenario(
        "derailed-reefs",
        ("derailment",),
        derailed("Find facts about coral reefs", "El cielo es azul y las nubes son blancas"),
    ),
    Scenario(
        "derailed-downstream-sky",
        ("derailment", "verification"),
        derailed_downstream(
            "Summarise the quarterly sales figures", "The sky looks blue because of scattering"
        ),
    ),
    Scenario(
        "derailed-downstream-poem",
        ("derailment", "verification"),
        derailed_downstream(
            "List three risks of the database migration", "Roses bloom in spring gardens"
        ),
    ),
    # FM-3.2/3.3 verification
    Scenario("rejected-then-repaired", ("verification",), rejected_then_repaired()),
    Scenario("grounding-failed", ("verification",), validation_failed("grounding")),
    Scenario("schema-failed", ("verification",), validation_failed("output_invalid")),
    # task misallocation by a later correction
    Scenario("backup-took-over", ("task_misallocation",), backup_took_over()),
    Scenario(
        "handed-to-expert",
        ("task_misallocation",),
        handed_away("how to compute compound interest"),
    ),
    Scenario("forked-to-editor", ("task_misallocation",), forked_to_other_agent()),
    # FM-2.5 ignored inputs
    Scenario(
        "ignored-reefs",
        ("ignored_inputs",),
        ignored(
            "Coral reefs host a quarter of marine species",
            "The report: facts pending, nothing written about them yet",
        ),
    ),
    Scenario(
        "ignored-sales",
        ("ignored_inputs",),
        ignored(
            "Quarterly revenue rose eight percent in Europe",
            "Report draft from the facts: a template heading and an empty section",
            collect="Collect the quarterly revenue figures for Europe",
        ),
    ),
    # Podium's own stops
    Scenario("budget-steps-3", ("budget_exhausted",), over_budget(3)),
    Scenario("budget-steps-5", ("budget_exhausted",), over_budget(5)),
    Scenario("breaker-fail", ("breaker_open",), breaker_fails()),
    Scenario("approval-rejected", ("approval_rejected",), approval_rejected()),
    Scenario("task-timeout", ("timeout",), timed_out(0.05)),
    Scenario("run-timeout", ("timeout",), run_timed_out()),
]
"""Every journal of the labelled set, with its expected labels."""
