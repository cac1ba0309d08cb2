"""What a planner model is asked for, and how its answer becomes tasks.

The JSON Schema is shaped so that a grammar-constrained model (the embedded SmolLM2) can only
write a well-formed graph: agents and capabilities are enums of the real ones, task ids are fixed
by position (``t1``, ``t2``, …), and a task's ``needs`` may only name tasks before it (or tasks
that already succeeded, when re-planning). An unconstrained model gets the same schema; whatever it
answers is checked the same way, by `parse_proposal` and `podium.plan.validate_plan`.

The example reply the prompt shows (`example_reply`) is made of the goal's own clauses, never of
fixed text: small models copy the example's instructions, and a fixed one ("Write a short article
about bees") reached plans for unrelated goals. Its only fixed parts are placeholders, and a task
whose instruction is a placeholder is rejected (`parse_proposal`), so it goes back for repair.
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import msgspec

from podium.plan._task import Task

if TYPE_CHECKING:
    from podium.agents import Agent

JSON = Any
INSTRUCTION_MAX = 160
ANSWER_MAX = 300
NEEDS_MAX = 3
_PATH = re.compile(r"`\$\.?([^`]*)`")
_SENTENCE = re.compile(r"(?<=[;.!?])\s+|,?\s+(?:and\s+)?then\s+", re.IGNORECASE)
_AND = re.compile(r"(,)?\s+and\s+", re.IGNORECASE)
_LEADING = re.compile(r"^(?:(?:and|then)\s+)+", re.IGNORECASE)
CLAUSE_MIN_WORDS = 3
"""Words on each side of a plain "and" that make it join two steps ("compare A and B" is one)."""
PLACEHOLDER_AGENT = "AGENT"
"""What the example reply says where the agent's name goes (the schema makes it a real one)."""
_PLACEHOLDERS = frozenset({PLACEHOLDER_AGENT.lower(), "instruction", "task"})


class _TaskProposal(msgspec.Struct, forbid_unknown_fields=True):
    id: str
    instruction: str = ""
    agent: str | None = None
    capability: str | None = None
    needs: list[str] = []


class _Proposal(msgspec.Struct, forbid_unknown_fields=True):
    tasks: list[_TaskProposal] | None = None
    answer: str | None = None


@dataclass(frozen=True, slots=True)
class Proposal:
    """A decoded answer: `tasks`, or a direct `answer`, or `problems` with its shape."""

    data: JSON = None
    tasks: tuple[Task, ...] = ()
    answer: str | None = None
    problems: tuple[str, ...] = ()


def capabilities_of(agents: Mapping[str, Agent]) -> list[str]:
    """Every capability of the team, sorted."""
    return sorted({c for a in agents.values() for c in a.capabilities})


def plan_schema(
    agents: Mapping[str, Agent],
    *,
    ids: Sequence[str],
    given: Sequence[str] = (),
    answers: bool = False,
    by_capability: bool = False,
    suggest: bool = False,
) -> dict[str, JSON]:
    """The JSON Schema of a plan of 1 to ``len(ids)`` tasks, or of ``{"answer": …}``.

    Args:
        agents: the team; its names (and capabilities) become enums.
        ids: the id of the task at each position.
        given: ids of tasks that already succeeded, which new tasks may also need.
        answers: allow a direct answer instead of tasks.
        by_capability: a task may name a capability instead of an agent (the router picks).
        suggest: the agent is an optional suggestion (code assigns the agent of each step).
    """
    caps = capabilities_of(agents) if by_capability else []
    defs: dict[str, JSON] = {
        "text": {"type": "string", "minLength": 1, "maxLength": INSTRUCTION_MAX},
        "agent": {"enum": list(agents)},
    }
    variants = ["agent"]
    if caps:
        defs["capability"] = {"enum": caps}
        variants.append("capability")
    for i, tid in enumerate(ids):
        needable = [*given, *ids[:i]]
        needs: dict[str, JSON] = (
            {"items": {"enum": needable}, "maxItems": min(NEEDS_MAX, len(needable))}
            if needable
            else {"const": []}
        )
        # "type" and "additionalProperties" are left out: the schema is shown to the model, so
        # every character costs prompt tokens; `parse_proposal` refuses unknown keys anyway
        options = [
            {
                "properties": {
                    "id": {"const": tid},
                    "instruction": {"$ref": "#/$defs/text"},
                    key: {"$ref": f"#/$defs/{key}"},
                    "needs": needs,
                },
                "required": ["id", "instruction", "needs"]
                if suggest
                else ["id", "instruction", key, "needs"],
            }
            for key in variants
        ]
        defs[f"t{i + 1}"] = options[0] if len(options) == 1 else {"anyOf": options}
    lengths = [
        {
            "type": "array",
            "prefixItems": [{"$ref": f"#/$defs/t{j + 1}"} for j in range(n)],
            "minItems": n,
            "maxItems": n,
        }
        for n in range(1, len(ids) + 1)
    ]
    plan: dict[str, JSON] = {"properties": {"tasks": {"anyOf": lengths}}, "required": ["tasks"]}
    schema: dict[str, JSON] = {"$defs": defs}
    if answers:
        answer = {
            "properties": {"answer": {"type": "string", "minLength": 1, "maxLength": ANSWER_MAX}},
            "required": ["answer"],
        }
        schema["anyOf"] = [plan, answer]
    else:
        schema.update(plan)
    return schema


def describe_team(agents: Mapping[str, Agent]) -> str:
    """One line per agent: name, description, capabilities."""
    lines = []
    for name, agent in agents.items():
        line = f"- {name}"
        if agent.description:
            line += f": {agent.description.strip()}"
        if agent.capabilities:
            line += f" (capabilities: {', '.join(agent.capabilities)})"
        lines.append(line)
    return "\n".join(lines)


def parse_proposal(text: str, *, answers: bool, keep_empty: bool = False) -> Proposal:
    """Decode a model's answer into tasks or a direct answer; shape problems are reported.

    An empty or placeholder instruction is a problem, unless `keep_empty` (the caller drops
    such steps itself).
    """
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        return Proposal(problems=(f"the answer is not JSON ({exc.msg} at character {exc.pos})",))
    try:
        proposal = msgspec.convert(data, _Proposal)
    except msgspec.ValidationError as exc:
        where = _PATH.sub(lambda m: m.group(1) or "the top level", str(exc))
        return Proposal(data=data, problems=(f"the answer has the wrong shape: {where}",))
    problem = _shape_problem(proposal, answers=answers)
    if problem is not None:
        return Proposal(data=data, problems=(problem,))
    if proposal.answer is not None:
        return Proposal(data=data, answer=proposal.answer)
    tasks = tuple(
        Task(
            id=t.id,
            instruction=t.instruction,
            agent=t.agent,
            capability=t.capability if t.agent is None else None,
            needs=tuple(dict.fromkeys(t.needs)),  # a need given twice is still one need
        )
        for t in proposal.tasks or ()
    )
    if keep_empty:
        return Proposal(data=data, tasks=tasks)
    problems = tuple(p for t in tasks for p in _instruction_problems(t))
    return Proposal(data=data, tasks=tasks, problems=problems)


def _instruction_problems(task: Task) -> list[str]:
    where = f"tasks.{task.id}.instruction"
    if not task.instruction.strip():
        return [f"{where}: the instruction is empty"]
    words = re.findall(r"\w+", task.instruction.lower())
    if not words or " ".join(words) in _PLACEHOLDERS:
        return [
            f"{where}: {task.instruction!r} is a placeholder, not an instruction: say what "
            "the agent is to do for this goal"
        ]
    return []


def _shape_problem(proposal: _Proposal, *, answers: bool) -> str | None:
    if proposal.tasks is not None and proposal.answer is not None:
        return 'give either "tasks" or "answer", not both'
    if proposal.answer is not None and not answers:
        return 'answer with "tasks": a direct answer is not allowed here'
    if proposal.answer is not None and not re.search(r"\w", proposal.answer):
        return "the answer is empty"
    if proposal.tasks is None and proposal.answer is None:
        return 'the answer has no "tasks"'
    return None


def goal_steps(goal: str, *, limit: int) -> list[str]:
    """The goal's clauses in order, at most `limit` (the rest joins the last): example steps.

    ``"Find facts about reefs and write a report"`` gives ``["Find facts about reefs", "Write a
    report"]``. Each fits an instruction (`INSTRUCTION_MAX`) and renders to itself (`literal`).
    """
    parts = [_LEADING.sub("", p.strip(" ,;")) for p in _clauses(goal.strip())]
    parts = [p for p in parts if p] or [goal.strip()]
    if len(parts) > limit:
        parts = [*parts[: limit - 1], " and ".join(parts[limit - 1 :])]
    return [literal(_clip(p[:1].upper() + p[1:])) for p in parts]


def _clauses(text: str) -> list[str]:
    """`text` split at sentence ends, at "then", at ", and", and at an "and" between two clauses
    of `CLAUSE_MIN_WORDS` words or more."""
    out = []
    for sentence in _SENTENCE.split(text):
        start = 0
        for m in _AND.finditer(sentence):
            left, right = sentence[start : m.start()], sentence[m.end() :]
            long = min(len(left.split()), len(right.split())) >= CLAUSE_MIN_WORDS
            if m.group(1) or long:
                out.append(left)
                start = m.end()
        out.append(sentence[start:])
    return out


def _clip(text: str) -> str:
    if len(text) <= INSTRUCTION_MAX:
        return text
    return text[:INSTRUCTION_MAX].rsplit(" ", 1)[0]


def example_reply(steps: Sequence[str], ids: Sequence[str], *, needs: Sequence[str] = ()) -> str:
    """The JSON reply the prompt shows: one task per step, each needing the one before it.

    Instructions come from `steps` (the goal's, or the failed task's), agents are the
    `PLACEHOLDER_AGENT`: no instruction in it can belong to another goal. The first task needs
    `needs` (finished tasks, when re-planning).
    """
    tasks = [
        {
            "id": tid,
            "instruction": step,
            "agent": PLACEHOLDER_AGENT,
            "needs": [ids[i - 1]] if i else list(needs),
        }
        for i, (tid, step) in enumerate(zip(ids, steps, strict=False))
    ]
    return json.dumps({"tasks": tasks}, ensure_ascii=False)


def id_prefix(names: Collection[str], *, letters: str = "tsnpkqxz") -> str:
    """The first letter of `letters` that begins none of `names` (default ``t``).

    Small models copy the id's first letter into the next value they write: with ids ``t1``,
    ``t2`` and an agent named ``translator``, SmolLM2 names it for nearly every task.
    """
    taken = {n[:1].lower() for n in names}
    return next((c for c in letters if c not in taken), letters[0])


def repair_message(problems: Sequence[str]) -> str:
    """What the model reads after a rejected proposal."""
    listed = "\n".join(f"- {p}" for p in problems)
    return f"That plan has problems:\n{listed}\nReply with a corrected plan as JSON."


def literal(text: str) -> str:
    """`text` as an instruction that renders to itself (no ``{{ … }}`` template in it)."""
    return text.replace("{{", "{ {").replace("}}", "} }")


def only_new(problems: Sequence[str], new: Collection[str]) -> list[str]:
    """The problems about the tasks in `new` (validation of a grown plan reports all tasks)."""
    return [p for p in problems if any(p.startswith(f"tasks.{tid}.") for tid in new)]
