"""The model planner: a goal becomes a validated plan, or a clear failure.

The model proposes, code disposes. A proposal is constrained by a JSON Schema (`plan_schema`),
decoded, and checked with `validate_plan` — the same checks as a workflow file. A rejected proposal
goes back to the model with every problem, for at most `Planner.max_repairs` rounds; then the
fallback is used (a configured plan, or one task for the best-matching agent); only then does
planning fail. Every proposal and the fallback are journaled (`PlanProposed`, `PlanFallback`).

The same loop re-plans the branch of a task that failed for good (`Planner.replan`).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from podium.agents._relevance import BM25Relevance
from podium.events import PlanFallback, PlanProposed
from podium.exceptions import ConfigError, ModelError
from podium.models._allow import ModelRequestsRefused
from podium.models._base import (
    AssistantMessage,
    Message,
    Model,
    ModelRequest,
    SystemMessage,
    UserMessage,
)
from podium.models._registry import resolve_model
from podium.plan._match import best_agent, rank_agents, simple_question
from podium.plan._planner_steps import (
    SUGGESTION_MARGIN,
    StepRelevance,
    assign_agents,
    branch_problems,
    inherit,
    tidy_steps,
)
from podium.plan._proposal import (
    PLACEHOLDER_AGENT,
    capabilities_of,
    describe_team,
    example_reply,
    goal_steps,
    id_prefix,
    literal,
    only_new,
    parse_proposal,
    plan_schema,
    repair_message,
)
from podium.plan._task import Plan, Task
from podium.plan._validate import validate_plan

if TYPE_CHECKING:
    from podium.agents import Agent

JSON = Any
Emit = Callable[..., Awaitable[None]]
"""Journals an event: ``await emit(EventClass, **fields)`` (run id, seq and time are added)."""

DEFAULT_MODEL = "local:smollm2"
_ALL_EMPTY = "every task's instruction is empty: say what each agent is to do for this goal"

# The example replies are made from the goal (or the failed task) by code, never fixed text: a
# small model copies the example's instructions into its plan (see `example_reply`).
_PLAN_PROMPT = """\
You are the planner of a team of agents. Split the user's goal into a few tasks, in order, each \
done by one agent. A task gets the results of the earlier tasks listed in its "needs".
Agents:
{team}
Use as few tasks as the goal needs; never repeat a task.
For this goal, a reply could be
{example}
where each {agent} is the name of the agent that fits the task best.\
"""
_ANSWER_PROMPT = """
If the goal is a simple question you can answer yourself in one sentence, reply \
{"answer": "..."} instead."""
_REPLAN_PROMPT = """\
You are the planner of a team of agents. A task failed; plan new tasks that get its result \
another way. The last new task's result replaces the failed task's.
Agents:
{team}
A reply could be
{example}
where each {agent} is the name of the agent that fits the task best.\
"""


@dataclass(frozen=True, slots=True)
class PlanOutcome:
    """What planning a goal gave: a `plan`, a direct `answer`, or neither (then `message`).

    `source` is ``planner`` (the first proposal), ``repair`` or ``fallback``.
    """

    plan: Plan | None = None
    answer: str | None = None
    source: str = "planner"
    message: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class Planner:
    """Turns a goal into a plan by asking a model, then validating and repairing its proposal.

    Args:
        model: a `Model` or a ``provider:model`` name (default: the embedded ``local:smollm2``).
        max_repairs: rounds after the first proposal, each carrying the validation problems.
        max_replans: branches of failed tasks a run may re-plan.
        max_plan_tasks: the most tasks one proposal may have.
        answers: let the model answer a goal that is one short question directly, without any
            agent (code decides when the option is offered: a small model would take it always).
        by_capability: a task may name a capability instead of an agent (the router picks).
        fallback: after the repairs: a default `Plan`, ``"agent"`` (one task for the agent whose
            description best matches the goal) or ``None`` (fail).
        max_tokens: cap on one proposal's tokens.
        temperature: sampling temperature (``None``: the provider's default; greedy locally).
        assign: ``"router"``: the model proposes steps (its agents are suggestions), code drops
            empty steps, merges duplicates and assigns each step's agent by `relevance`;
            ``"model"``: the model's agents are final.
        relevance: ranks agents for a step (default: the run's router's, else BM25).
        suggestion_margin: a suggested agent within this of the router's top choice is kept.

    Example:
        ```python
        async with Orchestrator(agents=team, planner=Planner(max_repairs=1)) as orch:
            result = await orch.run("Summarise the causes of spring tides")
        ```
    """

    model: Model | str = DEFAULT_MODEL
    max_repairs: int = 2
    max_replans: int = 1
    max_plan_tasks: int = 5
    answers: bool = True
    by_capability: bool = False
    fallback: Plan | Literal["agent"] | None = "agent"
    max_tokens: int = 640
    temperature: float | None = None
    assign: Literal["router", "model"] = "router"
    relevance: StepRelevance | None = None
    suggestion_margin: float = SUGGESTION_MARGIN

    def __post_init__(self) -> None:
        if self.max_repairs < 0 or self.max_replans < 0:
            raise ConfigError("Planner.max_repairs and max_replans must be 0 or more")
        if self.max_plan_tasks < 1:
            raise ConfigError("Planner.max_plan_tasks must be at least 1")
        if self.assign not in ("router", "model"):
            raise ConfigError(f"Planner.assign must be 'router' or 'model', not {self.assign!r}")

    def resolved_model(self) -> Model:
        """The model (a name is resolved: a missing provider is a `ConfigError` here)."""
        return resolve_model(self.model)

    # -- planning a goal --------------------------------------------------------------------

    async def plan(
        self,
        goal: str,
        *,
        agents: Mapping[str, Agent],
        input_names: Collection[str] | None,
        emit: Emit,
    ) -> PlanOutcome:
        """Plan `goal` for `agents`; proposals and the fallback are journaled through `emit`."""
        prefix = id_prefix([*agents, *capabilities_of(agents)])
        ids = [f"{prefix}{i}" for i in range(1, self.max_plan_tasks + 1)]
        answers = self.answers and simple_question(goal)
        # small models tend to take agents in the order shown: the likeliest first
        agents = rank_agents(goal, agents)
        example = example_reply(goal_steps(goal, limit=len(ids)), ids)
        system = _PLAN_PROMPT.format(
            team=describe_team(agents), example=example, agent=PLACEHOLDER_AGENT
        )
        if answers:
            system += _ANSWER_PROMPT
        conversation: list[Message] = [
            SystemMessage(content=system),
            UserMessage(content=f"Goal: {goal}"),
        ]
        schema = (
            plan_schema(
                agents,
                ids=ids,
                answers=answers,
                by_capability=self.by_capability,
                suggest=self.assign == "router",
            )
            if agents
            else None
        )
        caps = {name: a.capabilities for name, a in agents.items()}

        def check(tasks: Sequence[Task]) -> list[str]:
            problems = validate_plan(Plan(tasks), agents=caps, input_names=input_names)
            return [str(p) for p in problems]

        found = None
        if schema is not None:
            found = await self._propose(
                conversation, schema, check, emit, purpose="plan", answers=answers, team=agents
            )
        if found is not None:
            tasks, answer, attempt = found
            source = "planner" if attempt == 1 else "repair"
            if answer is not None:
                return PlanOutcome(answer=answer, source=source)
            return PlanOutcome(plan=Plan(tasks), source=source)
        return await self._fallback_plan(goal, agents=agents, input_names=input_names, emit=emit)

    async def _fallback_plan(
        self,
        goal: str,
        *,
        agents: Mapping[str, Agent],
        input_names: Collection[str] | None,
        emit: Emit,
    ) -> PlanOutcome:
        why = "no valid proposal" if agents else "the team has no agents"
        if self.fallback is None:
            return PlanOutcome(message=f"{why}, and the planner has no fallback")
        caps = {name: a.capabilities for name, a in agents.items()}
        if isinstance(self.fallback, Plan):
            plan = Plan(self.fallback.all_tasks(), output=self.fallback.output)
            kind = "workflow"
        else:
            agent = best_agent(goal, agents)
            if agent is None:
                return PlanOutcome(message=f"{why}, and no agent to fall back on")
            plan = Plan([Task(id="goal", agent=agent, instruction=literal(goal))])
            kind = "agent"
        problems = validate_plan(plan, agents=caps, input_names=input_names)
        if problems:
            listed = "; ".join(str(p) for p in problems)
            return PlanOutcome(message=f"{why}, and the fallback plan is invalid: {listed}")
        await emit(PlanFallback, reason=why, fallback=kind)
        return PlanOutcome(plan=plan, source="fallback")

    # -- re-planning a failed branch ---------------------------------------------------------

    async def replan(
        self,
        failed: Task,
        *,
        error: str,
        plan: Plan,
        done: Sequence[str],
        agents: Mapping[str, Agent],
        input_names: Collection[str] | None,
        prefix: str,
        avoid: str | None,
        emit: Emit,
    ) -> list[Task] | None:
        """New tasks that replace `failed`, or ``None`` when there is no valid replacement.

        Args:
            failed: the task that failed for good.
            error: why it failed.
            plan: the run's plan as it stands.
            done: tasks that succeeded, which new tasks may need.
            agents: the team.
            input_names: the run inputs templates may use.
            prefix: new task ids are ``prefix1``, ``prefix2``, …
            avoid: the agent that failed (the fallback picks another one).
            emit: journals the proposals and the fallback.
        """
        ids = [f"{prefix}{i}" for i in range(1, self.max_plan_tasks + 1)]
        # the failed task's own instruction, references and all: its needs are finished
        example = example_reply(
            [failed.instruction or "(no instruction)"],
            ids,
            needs=[n for n in failed.needs if n in done],
        )
        system = _REPLAN_PROMPT.format(
            team=describe_team(agents), example=example, agent=PLACEHOLDER_AGENT
        )
        report = (
            f"Failed task {failed.id!r}: {failed.instruction or '(no instruction)'}\n"
            f"Error: {error}\n"
            f"Finished tasks you may list in needs: {', '.join(done) or 'none'}"
        )
        conversation: list[Message] = [SystemMessage(content=system), UserMessage(content=report)]
        schema = plan_schema(
            agents,
            ids=ids,
            given=done,
            by_capability=self.by_capability,
            suggest=self.assign == "router",
        )
        caps = {name: a.capabilities for name, a in agents.items()}
        allowed = set(done)

        def check(tasks: Sequence[Task]) -> list[str]:
            tasks = inherit(failed, tasks)
            grown = Plan([*plan.all_tasks(), *tasks])
            problems = validate_plan(grown, agents=caps, input_names=input_names)
            found = only_new([str(p) for p in problems], [t.id for t in tasks])
            return found + branch_problems(tasks, allowed)

        found = await self._propose(
            conversation, schema, check, emit, purpose="replan", task=failed.id, team=agents
        )
        if found is not None:
            return inherit(failed, found[0])
        if self.fallback is None:
            return None
        others = {n: a for n, a in agents.items() if n != avoid}
        if failed.capability is not None:
            able = {n: a for n, a in others.items() if failed.capability in a.capabilities}
            others = able or others
        agent = best_agent(failed.instruction, others)
        if agent is None:
            return None
        await emit(
            PlanFallback,
            reason=f"no valid proposal to replace {failed.id!r}",
            fallback="agent",
            purpose="replan",
            task=failed.id,
        )
        alternative = Task(
            id=ids[0], agent=agent, instruction=failed.instruction, needs=failed.needs
        )
        return inherit(failed, [alternative])

    # -- the propose → validate → repair loop -----------------------------------------------

    async def _propose(
        self,
        conversation: list[Message],
        schema: dict[str, JSON],
        check: Callable[[Sequence[Task]], list[str]],
        emit: Emit,
        *,
        purpose: str,
        task: str = "",
        answers: bool = False,
        team: Mapping[str, Agent],
    ) -> tuple[list[Task], str | None, int] | None:
        """(tasks, direct answer, attempt) of the first valid proposal, or ``None``."""
        model = self.resolved_model()
        messages = list(conversation)
        for attempt in range(1, self.max_repairs + 2):
            started = time.perf_counter()
            request = ModelRequest(
                messages=tuple(messages),
                output_schema=schema,
                max_tokens=self.max_tokens,
                temperature=self.temperature,
            )
            try:
                response = await model.request(request)
            except ModelRequestsRefused:
                raise  # not the model's fault: the switch is off (tests), say so
            except ModelError as exc:
                text, used, problems = "", (0, 0), [f"the model failed: {exc}"]
                proposal, arranged = None, _Arranged([], [], [])
            else:
                text = response.text or ""
                used = (response.usage.input_tokens, response.usage.output_tokens)
                proposal = parse_proposal(text, answers=answers, keep_empty=self.assign == "router")
                problems = list(proposal.problems)
                arranged = _Arranged(list(proposal.tasks), [], [])
                if not problems and proposal.answer is None:
                    arranged = self._arrange(arranged.tasks, team)
                    problems = check(arranged.tasks) if arranged.tasks else [_ALL_EMPTY]
            await emit(
                PlanProposed,
                attempt=attempt,
                plan=None if proposal is None else proposal.data,
                raw=text if proposal is None or proposal.data is None else "",
                problems=problems,
                purpose=purpose,
                task=task,
                model=model.name,
                input_tokens=used[0],
                output_tokens=used[1],
                latency_s=round(time.perf_counter() - started, 4),
                assignments=arranged.assignments,
                tidied=arranged.notes,
            )
            if proposal is not None and not problems:
                return arranged.tasks, proposal.answer, attempt
            # only the latest rejected proposal is shown: small models have small contexts
            messages = [
                *conversation,
                AssistantMessage(content=text or "(no answer)"),
                UserMessage(content=repair_message(problems)),
            ]
        return None

    def _arrange(self, tasks: list[Task], agents: Mapping[str, Agent]) -> _Arranged:
        """The steps as tasks: tidied, each with the agent code chose (router mode)."""
        if self.assign == "model":
            return _Arranged(tasks, [], [])
        kept, notes = tidy_steps(tasks)
        relevance = self.relevance or BM25Relevance()
        assigned, decisions = assign_agents(kept, agents, relevance, margin=self.suggestion_margin)
        return _Arranged(assigned, [d.to_json() for d in decisions], notes)


@dataclass(frozen=True, slots=True)
class _Arranged:
    """A proposal's tasks as code arranged them, with the journaled explanations."""

    tasks: list[Task]
    assignments: list[JSON]
    notes: list[str]
