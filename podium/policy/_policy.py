"""`Policy`: which actions wait for a human. Deterministic code, never prompt text."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from podium.exceptions import ConfigError
from podium.policy._guardrails import Guardrail
from podium.policy._provenance import UntrustedRules
from podium.tools._effects import canonical_json
from podium.tools._tool import EFFECTS
from podium.verify import Check, Confidence

if TYPE_CHECKING:
    from podium.context import PendingWrite
    from podium.plan import Task
    from podium.tools import Tool

JSON = Any
RISKS = ("low", "medium", "high")


@dataclass(frozen=True, slots=True, kw_only=True)
class ResultReview:
    """A task's result before it is committed, as a review rule sees it."""

    task: Task
    agent: str
    output: JSON
    writes: Sequence[PendingWrite] = ()

    def confidence(self) -> float | None:
        """The lowest confidence the result states: its context writes' and, for an object
        output, a numeric ``confidence`` field; ``None`` when it states none."""
        found = [w.confidence for w in self.writes if w.confidence is not None]
        if isinstance(self.output, Mapping):
            stated = self.output.get("confidence")
            if isinstance(stated, int | float) and not isinstance(stated, bool):
                found.append(float(stated))
        return min(found, default=None)

    def data(self) -> dict[str, JSON]:
        """The result as JSON (what a `result` approval records and commits)."""
        return {
            "agent": self.agent,
            "output": self.output,
            "writes": [
                {
                    "key": w.key,
                    "value": w.value,
                    "sources": list(w.sources),
                    "confidence": w.confidence,
                }
                for w in self.writes
            ],
        }

    def digest(self) -> str:
        """SHA-256 of the task id and the result: what a `result` approval binds to."""
        data = {"task": self.task.id, **self.data()}
        return hashlib.sha256(canonical_json(data)).hexdigest()


ReviewRule = Callable[[ResultReview], str | None]
"""Looks at a result; returns why a human should see it before it is committed, or ``None``."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Policy:
    """Approval rules: which actions wait for a human, and for how long.

    Args:
        approve_effects: tool effects whose every call waits for approval (default:
            ``irreversible``). The approval binds to the exact call (tool and arguments).
        approve_risks: task risk levels that wait for approval before the task runs (default:
            ``high``). A task with ``approval="required"`` always waits.
        min_confidence: a result stating a confidence below this (a context write's, or an
            object output's ``confidence`` field) waits for approval before it is committed.
        review: more rules over results, e.g. checks that disagree; each returns a reason to ask
            a human, or ``None``.
        approval_ttl_s: how long a request stays open; undecided after it, it counts as
            rejected with reason ``expired`` (checked when approvals are listed and when the run
            resumes). ``None``: requests never expire.
        goal_checks: the checks of a run from a goal's final outputs (model-driven agents'
            answers to the tasks nothing else needs, and the planner's direct answer): ``True``
            (default) relevance to the goal, and grounding where the task was given documents;
            ``False`` none; or the `Check` objects to apply (grounding only where there are
            documents). An operator's setting other than ``True`` holds over a workflow's.
        untrusted: what untrusted content in an attempt's context may cause (default: a
            person approves every ``write`` and ``irreversible`` call made with it in context;
            see `UntrustedRules`).
        confidence: the workflow-wide `Confidence` of every task whose task and agent set none:
            how it is measured (samples) and what happens below its ``min``.
        guardrails: rules over what goes into and comes out of attempts, model calls and tool
            calls (`Guardrail`: `PII`, `Deny`, `Allow`, `MaxSize`, `Schema` or one's own); a
            workflow's are added to the operator's, which look first.

    Example:
        ```python
        policy = Policy(min_confidence=0.7, approval_ttl_s=24 * 3600)
        async with Orchestrator(store="podium.db", policy=policy) as orch: ...
        ```
    """

    approve_effects: Collection[str] = ("irreversible",)
    approve_risks: Collection[str] = ("high",)
    min_confidence: float | None = None
    review: Sequence[ReviewRule] = field(default=())
    approval_ttl_s: float | None = None
    goal_checks: bool | Sequence[Check] = True
    untrusted: UntrustedRules = field(default_factory=UntrustedRules)
    confidence: Confidence | None = None
    guardrails: Sequence[Guardrail] = ()

    def __post_init__(self) -> None:
        bad = [e for e in self.approve_effects if e not in EFFECTS]
        if bad:
            raise ConfigError(f"Policy.approve_effects: unknown effect(s) {bad}; use {EFFECTS}")
        bad = [r for r in self.approve_risks if r not in RISKS]
        if bad:
            raise ConfigError(f"Policy.approve_risks: unknown risk(s) {bad}; use {RISKS}")
        if self.min_confidence is not None and not 0.0 <= self.min_confidence <= 1.0:
            raise ConfigError("Policy.min_confidence must be within [0, 1]")
        if self.approval_ttl_s is not None and self.approval_ttl_s <= 0:
            raise ConfigError("Policy.approval_ttl_s must be positive")
        if not isinstance(self.goal_checks, bool) and not all(
            isinstance(c, Check) for c in self.goal_checks
        ):
            raise ConfigError("Policy.goal_checks must be True, False or a sequence of `Check`s")
        bad_guards = [g for g in self.guardrails if not isinstance(g, Guardrail)]
        if bad_guards:
            raise ConfigError(
                f"Policy.guardrails: {bad_guards[0]!r} is not a `podium.policy.Guardrail`"
            )

    @property
    def reviews_results(self) -> bool:
        """Whether any rule looks at results (else they are committed without a look)."""
        return self.min_confidence is not None or bool(self.review)

    def task_reason(self, task: Task) -> str | None:
        """Why `task` waits for approval before it runs, or ``None``."""
        if task.approval == "required":
            return "the task requires approval"
        if task.risk is not None and task.risk in self.approve_risks:
            return f"the task is {task.risk} risk"
        return None

    def tool_reason(self, tool: Tool) -> str | None:
        """Why a call of `tool` waits for approval, or ``None``."""
        if tool.effect in self.approve_effects:
            return f"tool {tool.name!r} is {tool.effect}"
        return None

    def result_reason(self, review: ResultReview) -> str | None:
        """Why a result waits for approval before it is committed, or ``None``."""
        if self.min_confidence is not None:
            confidence = review.confidence()
            if confidence is not None and confidence < self.min_confidence:
                return f"confidence {confidence:g} is below {self.min_confidence:g}"
        for rule in self.review:
            reason = rule(review)
            if reason:
                return reason
        return None

    def tightened(self, other: Policy | None) -> Policy:
        """This policy with `other`'s stricter rules added: more effects and risks wait, the
        higher confidence threshold and the shorter expiry hold, both sets of review rules
        apply. A workflow's policy goes through here, so it can tighten the operator's policy
        and never loosen it."""
        if other is None or other is self:
            return self
        return Policy(
            approve_effects=_union(self.approve_effects, other.approve_effects),
            approve_risks=_union(self.approve_risks, other.approve_risks),
            min_confidence=_strictest(self.min_confidence, other.min_confidence, max),
            review=(*self.review, *(r for r in other.review if r not in self.review)),
            approval_ttl_s=_strictest(self.approval_ttl_s, other.approval_ttl_s, min),
            goal_checks=self.goal_checks if self.goal_checks is not True else other.goal_checks,
            untrusted=self.untrusted.tightened(other.untrusted),
            confidence=_stricter(self.confidence, other.confidence),
            guardrails=(
                *self.guardrails,
                *(g for g in other.guardrails if g not in self.guardrails),
            ),
        )

    def expiry(self, now: float) -> float | None:
        """When a request made at `now` expires."""
        return None if self.approval_ttl_s is None else now + self.approval_ttl_s


_ON_LOW = ("accept", "ask", "fail")  # from the most lenient


def _stricter(a: Confidence | None, b: Confidence | None) -> Confidence | None:
    """Both defaults' stricter parts: more samples, the higher `min`, the sterner `on_low`."""
    if a is None or b is None:
        return a if b is None else b
    return Confidence(
        samples=max(a.samples, b.samples),
        min=_strictest(a.min, b.min, max),
        on_low=max(a.on_low, b.on_low, key=_ON_LOW.index),
    )


def _union(a: Collection[str], b: Collection[str]) -> tuple[str, ...]:
    return (*a, *(x for x in b if x not in a))


def _strictest(
    a: float | None, b: float | None, pick: Callable[[float, float], float]
) -> float | None:
    if a is None or b is None:
        return a if b is None else b
    return pick(a, b)


__all__ = ["RISKS", "Policy", "ResultReview", "ReviewRule"]
