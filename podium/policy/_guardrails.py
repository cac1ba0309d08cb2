"""Guardrails: rules over what goes into and comes out of attempts, model calls and tool calls.

A guardrail looks at one value at a time — an attempt's input (instruction and inputs) or its
output, a model request's messages or its response, a tool call's arguments or its result — and
returns a `Verdict`: ``allow`` it, ``redact`` it (the verdict carries the value to use instead),
``flag`` it (it goes through, the finding is journaled) or ``block`` it. It never sees the run's
state and never does I/O of its own, so it is plain, testable code; the runtime's guardrail
interceptor (`podium.runtime._guardrails`) shows it the values, applies its verdicts and
journals each decision as a `GuardrailDecided` event, whose `findings` count what was found by
kind and never hold the values themselves.

The standard set: `PII` (Microsoft Presidio, the ``guardrails`` extra), `Deny` and `Allow`
(patterns), `MaxSize` and `Schema` (`podium.policy._guardrail_rules`). A guardrail of one's own
is a `Guardrail` given a ``check`` function, or a subclass that overrides `Guardrail.check`.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal, get_args

from podium.exceptions import ConfigError, TaskError, ToolError

JSON = Any
Stage = Literal["attempt", "model", "tool"]
Direction = Literal["input", "output"]
Decision = Literal["allow", "redact", "block", "flag"]
STAGES: tuple[Stage, ...] = get_args(Stage)
DIRECTIONS: tuple[Direction, ...] = get_args(Direction)
DECISIONS: tuple[Decision, ...] = get_args(Decision)
SEVERITY: dict[str, int] = {"allow": 0, "flag": 1, "redact": 2, "block": 3}
"""Which decision wins when one guardrail decides several values of one call."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Subject:
    """Where a value a guardrail is shown comes from.

    Attributes:
        stage: ``attempt``, ``model`` (a model call) or ``tool`` (a tool call).
        direction: ``input`` (what goes in) or ``output`` (what comes out).
        part: which value: ``input`` (an attempt's instruction and inputs, as one mapping),
            ``output``, ``write:KEY`` (a blackboard write), ``message`` (one message of a model
            request), ``response``, ``arguments`` or ``result``.
        task, agent: the attempt's task and the agent at work.
        tool: the tool, for a tool call.
    """

    stage: Stage
    direction: Direction
    part: str
    task: str
    agent: str
    tool: str | None = None


@dataclass(frozen=True, slots=True)
class Verdict:
    """What a guardrail decided about one value.

    Attributes:
        decision: ``allow``, ``redact`` (use `value` instead), ``block`` or ``flag`` (let it
            through, journal the finding).
        reason: why, for people; never the offending text itself.
        findings: what was found, by kind (an entity type, a rule), with counts.
        value: with ``redact``, the value to use instead.
    """

    decision: Decision = "allow"
    reason: str = ""
    findings: Mapping[str, int] = field(default_factory=dict)
    value: JSON = None

    def __post_init__(self) -> None:
        if self.decision not in DECISIONS:
            raise ConfigError(f"Verdict.decision must be one of {DECISIONS}, not {self.decision!r}")
        for kind, n in self.findings.items():
            if not isinstance(kind, str) or isinstance(n, bool) or not isinstance(n, int) or n < 0:
                raise ConfigError(
                    "Verdict.findings counts what was found by kind: a mapping of strings to"
                    f" counts, not {kind!r}: {n!r}"
                )


ALLOW = Verdict()

Check = Callable[[JSON, Subject], Verdict]
"""A guardrail's rule: a value and where it comes from in, a `Verdict` out."""


class Guardrail:
    """A rule over the inputs and outputs of attempts, model calls and tool calls.

    Args:
        name: what `GuardrailDecided` events and error messages call it.
        stages: where it applies: ``attempt`` (an attempt's instruction and inputs, its output
            and context writes), ``model`` (each model request's messages, each response) and
            ``tool`` (each tool call's arguments and result).
        direction: ``input``, ``output`` or ``both``.
        tasks, agents, tools: only these tasks, agents, tools (``None``: all).
        audit: journal ``allow`` decisions too (by default only what it redacts, blocks or
            flags is journaled).
        check: the rule, for a guardrail made without subclassing (`Check`).

    Example:
        ```python
        def no_drafts(value, subject):
            if "DRAFT" in str(value):
                return Verdict("block", reason="the output is a draft", findings={"draft": 1})
            return Verdict()

        Policy(guardrails=[Guardrail(name="no-drafts", direction="output", check=no_drafts)])
        ```
    """

    threaded: ClassVar[bool] = False
    """Whether `check` is slow enough to run on a worker thread (it must be thread-safe)."""
    default_stages: ClassVar[tuple[Stage, ...]] = ("attempt",)

    def __init__(
        self,
        *,
        name: str,
        stages: Collection[Stage] | None = None,
        direction: Direction | Literal["both"] = "both",
        tasks: Collection[str] | None = None,
        agents: Collection[str] | None = None,
        tools: Collection[str] | None = None,
        audit: bool = False,
        check: Check | None = None,
    ) -> None:
        if not isinstance(name, str) or not name.strip():
            raise ConfigError("a guardrail needs a `name`")
        stages = self.default_stages if stages is None else tuple(stages)
        bad = [s for s in stages if s not in STAGES]
        if bad or not stages:
            raise ConfigError(f"guardrail {name!r}: `stages` are some of {STAGES}, not {bad}")
        if direction not in (*DIRECTIONS, "both"):
            raise ConfigError(
                f"guardrail {name!r}: `direction` is input, output or both, not {direction!r}"
            )
        self.name = name
        self.stages = frozenset(stages)
        self.directions = frozenset(DIRECTIONS if direction == "both" else (direction,))
        self.tasks = None if tasks is None else frozenset(tasks)
        self.agents = None if agents is None else frozenset(agents)
        self.tools = None if tools is None else frozenset(tools)
        self.audit = audit
        self._check = check

    def applies(
        self, stage: Stage, *, task: str, agent: str | None = None, tool: str | None = None
    ) -> bool:
        """Whether it looks at `stage` of `task` (and `agent`, `tool` when given)."""
        return (
            stage in self.stages
            and (self.tasks is None or task in self.tasks)
            and (agent is None or self.agents is None or agent in self.agents)
            and (tool is None or self.tools is None or tool in self.tools)
        )

    def check(self, value: JSON, subject: Subject) -> Verdict:
        """Decide about `value`; the built-in guardrails override this."""
        if self._check is None:
            raise ConfigError(
                f"guardrail {self.name!r} has no rule: give `check=` or override `check`"
            )
        return self._check(value, subject)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"


class GuardrailBlocked(TaskError):
    """A guardrail blocked an attempt's input or output, or a model call: the attempt fails
    (``guardrail``, not retried: the same content would be blocked again).

    Attributes:
        guardrail: the guardrail's name.
        stage, direction: what it blocked.
    """

    def __init__(self, message: str, *, guardrail: str, stage: str, direction: str) -> None:
        super().__init__(message, kind="guardrail", retryable=False)
        self.guardrail = guardrail
        self.stage = stage
        self.direction = direction


class ToolCallBlocked(ToolError):
    """A guardrail blocked a tool call's arguments or its result; the model reads the message
    and goes on without it.

    Attributes:
        guardrail: the guardrail's name.
        tool: the tool.
        direction: ``input`` (the call was not made) or ``output`` (its result was withheld).
    """

    def __init__(self, message: str, *, guardrail: str, tool: str, direction: str) -> None:
        super().__init__(message)
        self.guardrail = guardrail
        self.tool = tool
        self.direction = direction


def texts(value: JSON) -> Iterator[str]:
    """Every string in `value` (the values of mappings and items of lists, at any depth)."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            yield item
        elif isinstance(item, Mapping):
            stack.extend(reversed(list(item.values())))
        elif isinstance(item, list | tuple):
            stack.extend(reversed(item))


def map_texts(value: JSON, change: Callable[[str], str]) -> JSON:
    """`value` with every string changed by `change` (mappings' keys kept as they are)."""
    if isinstance(value, str):
        return change(value)
    if isinstance(value, Mapping):
        return {k: map_texts(v, change) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [map_texts(v, change) for v in value]
    return value


def counted(findings: Mapping[str, int]) -> str:
    """``2 EMAIL_ADDRESS, 1 PHONE_NUMBER``: findings as a reason says them."""
    return ", ".join(f"{n} {kind}" for kind, n in sorted(findings.items()))


__all__ = [
    "ALLOW",
    "DECISIONS",
    "DIRECTIONS",
    "STAGES",
    "Check",
    "Decision",
    "Direction",
    "Guardrail",
    "GuardrailBlocked",
    "Stage",
    "Subject",
    "ToolCallBlocked",
    "Verdict",
    "counted",
    "map_texts",
    "texts",
]
