"""Provenance: where what an agent sees came from, and the rules for untrusted content.

Every value an attempt takes in has a label. Run inputs come from the submitter and are trusted
as the submitter is. A tool's output is *untrusted* when it carries content from outside the
deployment: the built-in web, document and MCP tools, any result labelled ``"trust":
"untrusted"``, and any tool an operator names in `UntrustedRules.untrusted_tools`. A task whose
attempt took untrusted content in is *tainted* (the model wrote its output with that content in
its context), and so are its output, the blackboard entries it wrote and the items a `map` over
that output fans out. Labels are journaled as `ProvenanceTainted` events and folded into the
run's state, so they survive a resume.

A plain Python tool's output is trusted by default: it is the operator's own code, and most
such tools read the deployment's own data (an order table, a calculator). Treating every tool
output as untrusted would make every read-then-write workflow wait for a person, and approvals
asked for all the time get waved through. A Python tool that passes outside text on (a scraper,
an inbox reader) should say so: label its result ``{"trust": "untrusted", ...}`` or list it in
`untrusted_tools`.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from podium.exceptions import ConfigError

if TYPE_CHECKING:
    from podium.agents import Agent
    from podium.context import Entry
    from podium.plan import Task
    from podium.tools import Tool

JSON = Any
Action = Literal["allow", "ask", "block"]
ACTIONS: tuple[Action, ...] = ("allow", "ask", "block")
Judge = Literal["context", "arguments"]
JUDGES: tuple[Judge, ...] = ("context", "arguments")
_STRICTNESS = {"allow": 0, "ask": 1, "block": 2}

OUTSIDE_MODULES = (
    "podium.tools._web",
    "podium.tools.web",
    "podium.tools.documents",
    "podium.mcp",
    "podium.a2a",
)
"""Modules whose tools return content from outside the deployment (web pages, documents, MCP
servers, remote agents)."""

MIN_MATCH = 6
"""The shortest argument text that counts as copied from an untrusted source."""


@dataclass(frozen=True, slots=True, kw_only=True)
class UntrustedRules:
    """What untrusted content in an attempt's context may cause.

    Args:
        on_side_effect: what happens to a ``write`` or ``irreversible`` tool call made while
            untrusted content is in context: ``ask`` a person (the default), ``block`` it (the
            model gets `PolicyBlocked`) or ``allow`` it (journaled all the same).
        tools: per side-effecting tool, an action that replaces `on_side_effect`.
        agents: per agent, an action that replaces `on_side_effect` (a tool's rule wins).
        trusted_tools: tools whose output counts as trusted even if it would not by default
            (e.g. a documents tool over the company's own handbook).
        untrusted_tools: more tools whose output is untrusted (Python tools that pass outside
            text on).
        untrusted_agents: agents whose answers are untrusted besides remote (A2A) agents,
            which always are (e.g. a Python agent that wraps another vendor's service).
        judge: which calls the action applies to. ``context`` (the default): every
            side-effecting call made while untrusted content is in context. ``arguments``: only
            those with an argument whose text appears in that content (the injection chose the
            recipient, the amount, the text); the others are allowed and journaled. Kinder to
            work that reads outside text and then acts on trusted data, but it cannot see an
            injection that chooses only *which* call to make with trusted arguments ("delete
            every file") — use it where every side effect is also reversible or approved.

    Example:
        ```python
        rules = UntrustedRules(on_side_effect="block", tools={"draft_reply": "allow"})
        Orchestrator(policy=Policy(untrusted=rules))
        ```
    """

    on_side_effect: Action = "ask"
    tools: Mapping[str, Action] | None = None
    agents: Mapping[str, Action] | None = None
    trusted_tools: Collection[str] = ()
    untrusted_tools: Collection[str] = ()
    untrusted_agents: Collection[str] = ()
    judge: Judge = "context"

    def __post_init__(self) -> None:
        found = [("on_side_effect", self.on_side_effect)]
        found += [(f"tools.{k}", v) for k, v in (self.tools or {}).items()]
        found += [(f"agents.{k}", v) for k, v in (self.agents or {}).items()]
        for where, action in found:
            if action not in ACTIONS:
                raise ConfigError(
                    f"policy.untrusted.{where}: unknown action {action!r}; use one of {ACTIONS}"
                )
        if self.judge not in JUDGES:
            raise ConfigError(
                f"policy.untrusted.judge: unknown {self.judge!r}; use one of {JUDGES}"
            )
        both = set(self.trusted_tools) & set(self.untrusted_tools)
        if both:
            raise ConfigError(
                f"policy.untrusted: tools {sorted(both)} are both trusted and untrusted"
            )

    def action(self, tool: str, agent: str) -> Action:
        """What happens to a side-effecting call of `tool` by `agent` with untrusted context."""
        if self.tools and tool in self.tools:
            return self.tools[tool]
        if self.agents and agent in self.agents:
            return self.agents[agent]
        return self.on_side_effect

    def output_untrusted(self, tool: Tool, result: JSON) -> bool:
        """Whether `tool`'s `result` is untrusted content (see the module docstring)."""
        if tool.name in self.trusted_tools:
            return False
        if tool.name in self.untrusted_tools or labelled_untrusted(result):
            return True
        module = getattr(tool.function, "__module__", "") or ""
        return module.startswith(OUTSIDE_MODULES)

    def tightened(self, other: UntrustedRules) -> UntrustedRules:
        """These rules (the operator's) with `other`'s (a workflow's): the stricter action
        wins everywhere, untrusted tools and agents add up, and judging by the context holds
        over judging by the arguments. A workflow may name its own data sources trusted, but
        not a tool the operator names untrusted."""
        if other is self or other == UntrustedRules():
            return self
        return UntrustedRules(
            on_side_effect=_stricter(self.on_side_effect, other.on_side_effect),
            tools=_merge(self.tools, other.tools, self.on_side_effect, other.on_side_effect),
            agents=_merge(self.agents, other.agents, self.on_side_effect, other.on_side_effect),
            trusted_tools=_union(
                [t for t in self.trusted_tools if t not in other.untrusted_tools],
                [t for t in other.trusted_tools if t not in self.untrusted_tools],
            ),
            untrusted_tools=_union(self.untrusted_tools, other.untrusted_tools),
            untrusted_agents=_union(self.untrusted_agents, other.untrusted_agents),
            judge="context" if "context" in (self.judge, other.judge) else "arguments",
        )

    def untrusted_answers(self, agents: Mapping[str, Agent]) -> frozenset[str]:
        """The agents whose answers are untrusted: remote (A2A) ones and those named."""
        remote = {
            name
            for name, agent in agents.items()
            if "a2a" in agent.metadata
            or type(agent.function).__module__.startswith(OUTSIDE_MODULES)
        }
        return frozenset({*remote, *self.untrusted_agents})


def _union(a: Collection[str], b: Collection[str]) -> tuple[str, ...]:
    return (*a, *(x for x in b if x not in a))


def _stricter(a: Action, b: Action) -> Action:
    return a if _STRICTNESS[a] >= _STRICTNESS[b] else b


def _merge(
    a: Mapping[str, Action] | None,
    b: Mapping[str, Action] | None,
    a_default: Action,
    b_default: Action,
) -> dict[str, Action] | None:
    if not a and not b:
        return None
    a, b = a or {}, b or {}
    return {k: _stricter(a.get(k, a_default), b.get(k, b_default)) for k in {*a, *b}}


def labelled_untrusted(result: JSON) -> bool:
    """Whether a result says it is untrusted: ``"trust": "untrusted"`` at its top, or in any
    item of a list at its top or under its ``results`` (what a search returns)."""
    if isinstance(result, Mapping):
        if result.get("trust") == "untrusted":
            return True
        items = result.get("results")
        return isinstance(items, list) and any(labelled_untrusted(i) for i in items)
    if isinstance(result, list):
        return any(isinstance(i, Mapping) and i.get("trust") == "untrusted" for i in result)
    return False


def texts(value: JSON) -> Iterator[str]:
    """Every string in a JSON value (keys too), depth first."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            yield item
        elif isinstance(item, Mapping):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list | tuple):
            stack.extend(item)


def matching_arguments(arguments: Mapping[str, JSON], untrusted: Iterable[str]) -> list[str]:
    """The arguments whose text appears in untrusted text (case and spacing ignored): what an
    injection most likely chose. Short strings (under `MIN_MATCH` characters) never count."""
    corpus = [_fold(t) for t in untrusted]
    if not corpus:
        return []
    found: list[str] = []
    for name, value in arguments.items():
        for text in texts(value):
            needle = _fold(text)
            if len(needle) >= MIN_MATCH and any(needle in hay for hay in corpus):
                found.append(name)
                break
    return found


def _fold(text: str) -> str:
    return " ".join(text.lower().split())


def input_sources(
    task: Task,
    task_outputs: Iterable[str],
    context: Mapping[str, list[Entry]],
    tainted: Mapping[str, tuple[str, ...]],
    parent: Task | None = None,
) -> list[str]:
    """The untrusted sources in an attempt's inputs: ``task:ID`` for a tainted task's output
    it is given (a mapped sub-task's item comes from what its `parent` maps over),
    ``context:KEY`` for a blackboard entry a tainted task wrote."""
    if not tainted:
        return []
    upstream = {*task_outputs, *task.needs, *task.referenced_tasks()}
    if parent is not None:
        upstream |= {parent.id, *parent.needs, *parent.referenced_tasks()}
    found = [f"task:{tid}" for tid in sorted(upstream) if tid in tainted]
    for key, entries in sorted(context.items()):
        if any(e.task in tainted for e in entries):
            found.append(f"context:{key}")
    return found


class Provenance:
    """A run's provenance labels, from its state (`RunState.tainted`).

    Args:
        tainted: task id → the untrusted sources its attempts took in.
    """

    __slots__ = ("_tainted",)

    def __init__(self, tainted: Mapping[str, tuple[str, ...]]) -> None:
        self._tainted = tainted

    def task(self, task_id: str) -> tuple[str, ...]:
        """The untrusted sources behind a task's output (empty: trusted)."""
        return self._tainted.get(task_id, ())

    def entry(self, entry: Entry) -> tuple[str, ...]:
        """The untrusted sources behind a blackboard entry: its writer's."""
        return self.task(entry.task)

    def label(self, task_id: str) -> Literal["trusted", "tainted"]:
        return "tainted" if task_id in self._tainted else "trusted"


__all__ = [
    "ACTIONS",
    "Action",
    "Provenance",
    "UntrustedRules",
    "input_sources",
    "labelled_untrusted",
    "matching_arguments",
    "texts",
]
