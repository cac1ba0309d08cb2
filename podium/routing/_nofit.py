"""The relevance step of `ScoringRouter`: scores, the no-fit verdict, the tie-break.

Kept apart from the scoring so each rule reads on its own:

- no fit: a task goes to no agent when the best candidate's fit (`Assessment.fit`) is under the
  threshold — with or without a capability, since a capability many agents share ("llm",
  "language") says little about the task — unless no candidate has a description or examples
  to judge it by;
- tie-break: when a `TieBreaker` is configured and the best candidates are within its margin in
  relevance, it may pick among them (it suggests, the router checks the name).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from podium.agents import Agent
from podium.plan import Task
from podium.routing._hybrid import Assessment, Assessor
from podium.routing._router import NoFit, Relevance
from podium.routing._tiebreak import TieBreaker

JSON = Any


@dataclass(frozen=True, slots=True)
class Fit:
    """The relevance of each eligible candidate, and the assessment behind it (if any)."""

    scores: dict[str, float]
    assessment: Assessment | None


def measure(
    relevance: Relevance, text: str, agents: Mapping[str, Agent], eligible: Collection[str]
) -> Fit:
    if not eligible:
        return Fit({}, None)
    if isinstance(relevance, Assessor):
        assessment = relevance.assess(text, agents, eligible)
        return Fit(assessment.scores, assessment)
    return Fit(relevance.scores(text, agents, eligible), None)


def threshold(relevance: Relevance, min_score: float | None) -> float:
    """The no-fit threshold: the router's own, else its relevance's (0: no check)."""
    if min_score is not None:
        return min_score
    return relevance.min_score if isinstance(relevance, Assessor) else 0.0


def no_fit(
    fit: Fit,
    limit: float,
    candidates: list[dict[str, JSON]],
    agents: Mapping[str, Agent],
    *,
    kind: str,
    ask: bool,
) -> NoFit | None:
    """A `NoFit` when the best candidate fits under `limit` (and fit could be judged)."""
    a = fit.assessment
    if a is None or limit <= 0 or (a.fit >= limit and a.rival is None):
        return None
    if not any(agents[n].description.strip() or agents[n].examples for n in a.scores):
        return None  # nothing says what the candidates do: no ground to refuse the task
    best = max(a.scores, key=lambda n: a.scores[n]) if a.scores else None
    duty = _duty(a, best)
    near = f"; the closest is {best!r}" if best is not None else ""
    near += f" (closest duty: {duty!r})" if duty else ""
    then = "a person is asked" if ask else "the task fails rather than guess"
    if a.fit < limit:
        why = f"best fit {a.fit:.3f} is under the threshold {limit:g}"
    else:
        assert a.rival is not None
        why = (
            f"it reads as the work of the occupation {a.rival.occupation!r} ({a.rival.score:.3f}),"
            f" which no candidate resembles, more than as any candidate's (best fit {a.fit:.3f})"
        )
    reason = f"no agent fits: {why} ({a.method}){near}; {then}"
    return NoFit(reason, candidates, kind=kind, best=best, escalate=ask)


def with_details(candidates: list[dict[str, JSON]], fit: Fit) -> list[dict[str, JSON]]:
    """The candidates' entries with their relevance components added."""
    if fit.assessment is None:
        return candidates
    details = fit.assessment.details
    return [{**c, **details.get(c["agent"], {})} for c in candidates]


def method_note(fit: Fit, limit: float, agent: str | None = None) -> str:
    """How relevance was measured, for the decision's reason (``""`` for a plain relevance),
    with the clause of the chosen `agent`'s description the task matched best."""
    a = fit.assessment
    if a is None:
        return ""
    check = f", no-fit under {limit:g}" if limit > 0 else ""
    duty = _duty(a, agent)
    why = f"; closest duty of {agent!r}: {duty!r}" if duty else ""
    return f"; {a.method}: best fit {a.fit:.3f}{check}{why}"


def _duty(a: Assessment, agent: str | None) -> str:
    """The `agent`'s clause (of its description) closest to the task (``""``: not known)."""
    return a.matched.get(agent, "") if agent is not None else ""


def break_tie(
    breaker: TieBreaker | None,
    task: Task,
    agents: Mapping[str, Agent],
    ranked: Sequence[tuple[str, float]],
) -> tuple[str | None, str]:
    """(the tie-breaker's choice or ``None``, a note for the reason) among `ranked` — (agent,
    relevance) of the candidates with room, best first."""
    if breaker is None or len(ranked) < 2:
        return None, ""
    top = ranked[0][1]
    close = [name for name, score in ranked if top - score <= breaker.margin]
    if len(close) < 2:
        return None, ""
    chosen, why = breaker.choose(task, [agents[n] for n in close])
    return (chosen if chosen in close else None), f"; {why}"


__all__ = ["Fit", "break_tie", "measure", "method_note", "no_fit", "threshold", "with_details"]
