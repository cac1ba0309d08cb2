"""The model proposes steps; code makes them tasks: tidies them, then assigns their agents.

`tidy_steps` drops empty and placeholder steps and merges a step into an earlier one with the
same (or nearly the same) instruction; whoever needed a removed step needs what it stood for
instead (the step it merged into, or the steps it needed), so the dependency graph stays whole.

`assign_agents` gives each step the agent the router's relevance ranks first. The model may have
suggested one: the suggestion stands when its relevance is within `SUGGESTION_MARGIN` of the
router's own top choice (the model read the whole goal; the router reads one instruction), and
is overruled otherwise. Each decision comes with its explanation, which the planner journals.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import msgspec

from podium.plan._task import Task

if TYPE_CHECKING:
    from podium.agents import Agent

JSON = Any
SUGGESTION_MARGIN = 0.2
"""How far (in relevance, 0 to 1) under the router's top choice a suggested agent may be and
still be kept."""
NEAR_SAME = 0.8
"""Word overlap (Jaccard) from which two instructions count as the same step."""
_PLACEHOLDERS = frozenset({"agent", "instruction", "task", "step", "todo", "tbd", "none"})
_WORD = re.compile(r"\w+")
_REF = re.compile(r"(\{\{\s*tasks\.)([A-Za-z_][A-Za-z0-9_\-]*)(\.output)")


class StepRelevance(Protocol):
    """How well each candidate agent fits a text, 0 to 1 (a router's ``Relevance``)."""

    def scores(
        self, text: str, agents: Mapping[str, Agent], candidates: Collection[str]
    ) -> dict[str, float]: ...


@dataclass(frozen=True, slots=True)
class Assignment:
    """Who got step `task` and why (journaled in `PlanProposed.assignments`)."""

    task: str
    agent: str
    suggested: str | None
    reason: str

    def to_json(self) -> dict[str, JSON]:
        return {
            "task": self.task,
            "agent": self.agent,
            "suggested": self.suggested,
            "reason": self.reason,
        }


def _words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def is_empty(instruction: str) -> bool:
    """No words, or only a placeholder such as ``instruction`` or ``TODO``."""
    words = _words(instruction)
    return not words or " ".join(words) in _PLACEHOLDERS


def same_step(a: str, b: str) -> bool:
    """Two instructions that ask for the same thing (same words, or nearly: `NEAR_SAME`)."""
    wa, wb = _words(a), _words(b)
    if wa == wb:
        return True
    sa, sb = set(wa), set(wb)
    return bool(sa | sb) and len(sa & sb) / len(sa | sb) >= NEAR_SAME


def tidy_steps(tasks: Sequence[Task]) -> tuple[list[Task], list[str]]:
    """(the steps without empty ones and duplicates, rewired; a note per step removed)."""
    stands_for: dict[str, tuple[str, ...]] = {}  # removed id → the ids its dependants need
    merged_into: dict[str, str] = {}
    kept: list[Task] = []
    notes: list[str] = []
    for task in tasks:
        needs = _rewired(task.needs, stands_for)
        if is_empty(task.instruction):
            stands_for[task.id] = needs
            notes.append(f"dropped {task.id!r}: its instruction is empty")
            continue
        twin = next((k for k in kept if same_step(k.instruction, task.instruction)), None)
        if twin is not None:
            # whoever needed the duplicate needs the kept step, and what the duplicate needed
            stands_for[task.id] = tuple(dict.fromkeys((twin.id, *needs)))
            merged_into[task.id] = twin.id
            notes.append(f"merged {task.id!r} into {twin.id!r}: the same instruction")
            continue
        instruction = _REF.sub(
            lambda m: m.group(1) + merged_into.get(m.group(2), m.group(2)) + m.group(3),
            task.instruction,
        )
        kept.append(msgspec.structs.replace(task, needs=needs, instruction=instruction))
    return kept, notes


def _rewired(needs: Sequence[str], stands_for: Mapping[str, tuple[str, ...]]) -> tuple[str, ...]:
    out: list[str] = []
    for dep in needs:
        out.extend(stands_for.get(dep, (dep,)))
    return tuple(dict.fromkeys(out))


def assign_agents(
    tasks: Sequence[Task],
    agents: Mapping[str, Agent],
    relevance: StepRelevance,
    *,
    margin: float = SUGGESTION_MARGIN,
) -> tuple[list[Task], list[Assignment]]:
    """Each step with the agent code chose for it, and the explanations.

    A step that names a capability instead of an agent is left to the run's router.
    """
    out: list[Task] = []
    decisions: list[Assignment] = []
    for task in tasks:
        if task.agent is None and task.capability is not None:
            out.append(task)
            continue
        decision = _assign(task, agents, relevance, margin)
        decisions.append(decision)
        out.append(msgspec.structs.replace(task, agent=decision.agent, capability=None))
    return out, decisions


def _assign(
    task: Task, agents: Mapping[str, Agent], relevance: StepRelevance, margin: float
) -> Assignment:
    names = list(agents)
    scores = relevance.scores(task.instruction, agents, names)
    order = {n: i for i, n in enumerate(names)}  # ties go to the agent declared first
    ranked = sorted(names, key=lambda n: (-scores.get(n, 0.0), order[n]))
    top, best = ranked[0], scores.get(ranked[0], 0.0)
    suggested = task.agent if task.agent in agents else None

    def shown(name: str) -> str:
        return f"{name!r} ({scores.get(name, 0.0):.2f})"

    if suggested is None:
        runner_up = f", next {shown(ranked[1])}" if len(ranked) > 1 else ""
        why = f"the router's choice {shown(top)}{runner_up}"
        if best <= 0:
            why = f"no agent's description matches; the first agent {top!r}"
        return Assignment(task.id, top, task.agent, why)
    if suggested == top:
        return Assignment(
            task.id, top, suggested, f"the suggestion is the router's choice {shown(top)}"
        )
    if best - scores.get(suggested, 0.0) <= margin:
        why = (
            f"kept the suggestion {shown(suggested)}: within {margin:g} of the router's "
            f"choice {shown(top)}"
        )
        return Assignment(task.id, suggested, suggested, why)
    why = f"the router's choice {shown(top)} over the suggestion {shown(suggested)}"
    return Assignment(task.id, top, suggested, why)


def inherit(failed: Task, tasks: Sequence[Task]) -> list[Task]:
    """New tasks take the failed task's retries, timeout and `writes` (a re-plan never widens
    what may be written); the last one its `reads` and output schema."""
    out = []
    for i, t in enumerate(tasks):
        last = i == len(tasks) - 1
        out.append(
            Task(
                id=t.id,
                instruction=t.instruction,
                agent=t.agent,
                capability=t.capability,
                needs=t.needs,
                reads=failed.reads if last else (),
                writes=failed.writes,
                output_schema=failed.output_schema if last else None,
                retries=failed.retries,
                timeout_s=failed.timeout_s,
            )
        )
    return out


def branch_problems(tasks: Sequence[Task], done: Collection[str]) -> list[str]:
    """A replacement may only need finished or new tasks, and everything leads to its last task."""
    new = {t.id for t in tasks}
    problems = [
        f"tasks.{t.id}.needs: {dep!r} has not finished: need finished or new tasks only"
        for t in tasks
        for dep in t.needs
        if dep not in new and dep not in done
    ]
    needed = {dep for t in tasks for dep in t.needs}
    problems += [
        f"tasks.{t.id}.needs: no later task needs {t.id!r}; every task must lead to the last one"
        for t in tasks[:-1]
        if t.id not in needed
    ]
    return problems


__all__ = [
    "SUGGESTION_MARGIN",
    "Assignment",
    "StepRelevance",
    "assign_agents",
    "branch_problems",
    "inherit",
    "is_empty",
    "same_step",
    "tidy_steps",
]
