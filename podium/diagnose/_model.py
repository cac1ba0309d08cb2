"""What a diagnosis says: labelled findings, each with the journal events that show it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

JSON = Any

Label = Literal[
    "step_repetition",
    "loop",
    "unaware_of_termination",
    "derailment",
    "verification",
    "task_misallocation",
    "ignored_inputs",
    "budget_exhausted",
    "breaker_open",
    "approval_rejected",
    "timeout",
]
"""The failure modes `diagnose` labels."""


@dataclass(frozen=True, slots=True)
class Mode:
    """One failure mode: where it sits in the MAST taxonomy (Cemri et al. 2025) and what it is."""

    mast: str
    """The MAST mode (``FM-1.3``), or ``podium`` for stops of Podium's own limits."""
    category: str
    meaning: str


MODES: dict[str, Mode] = {
    "step_repetition": Mode(
        "FM-1.3", "specification", "work already done is done again (same call, same step)"
    ),
    "loop": Mode(
        "FM-1.3", "specification", "the run went round in circles: a loop guard or a handoff cycle"
    ),
    "unaware_of_termination": Mode(
        "FM-1.5", "specification", "the agents did not stop: a step, round or stall limit ended it"
    ),
    "derailment": Mode("FM-2.3", "inter-agent", "the output is not about the instruction"),
    "ignored_inputs": Mode(
        "FM-2.5", "inter-agent", "a task's output does not use the outputs it needed"
    ),
    "verification": Mode(
        "FM-3.2/3.3", "verification", "a check rejected an output, or none caught a bad one"
    ),
    "task_misallocation": Mode(
        "FM-1.2", "specification", "the task's agent was corrected later: backup, handoff, fork"
    ),
    "budget_exhausted": Mode("podium", "podium", "a token, dollar, time or step budget ran out"),
    "breaker_open": Mode("podium", "podium", "an open circuit breaker stopped work"),
    "approval_rejected": Mode("podium", "podium", "a person rejected an action, or it expired"),
    "timeout": Mode("podium", "podium", "a task, a call or the run took longer than allowed"),
}
LABELS: tuple[str, ...] = tuple(MODES)


@dataclass(frozen=True, slots=True)
class Evidence:
    """One journal event and what it shows."""

    seq: int
    kind: str
    note: str
    task: str = ""

    def to_json(self) -> dict[str, JSON]:
        out: dict[str, JSON] = {"seq": self.seq, "kind": self.kind, "note": self.note}
        if self.task:
            out["task"] = self.task
        return out


@dataclass(slots=True)
class Finding:
    """One failure mode seen in a run, how sure the rule is, and the events that show it."""

    label: str
    confidence: float
    summary: str
    evidence: list[Evidence] = field(default_factory=list)

    @property
    def mode(self) -> Mode:
        return MODES[self.label]

    def to_json(self) -> dict[str, JSON]:
        return {
            "label": self.label,
            "mast": self.mode.mast,
            "category": self.mode.category,
            "confidence": round(self.confidence, 2),
            "summary": self.summary,
            "evidence": [e.to_json() for e in self.evidence],
        }


@dataclass(frozen=True, slots=True)
class Diagnosis:
    """The failure modes of one run, from its journal.

    Attributes:
        run_id: the run.
        status: where the run stands (``succeeded``, ``failed``, ``running``, …).
        finished: whether the run has ended; a diagnosis of an unfinished run is what its
            journal shows so far.
        events: how many events were read.
        findings: one per label seen, in the order of `LABELS`.
    """

    run_id: str
    status: str
    finished: bool
    events: int
    findings: tuple[Finding, ...]

    @property
    def labels(self) -> list[str]:
        return [f.label for f in self.findings]

    def to_json(self) -> dict[str, JSON]:
        return {
            "run_id": self.run_id,
            "status": self.status,
            "finished": self.finished,
            "events": self.events,
            "labels": self.labels,
            "findings": [f.to_json() for f in self.findings],
        }


__all__ = ["LABELS", "MODES", "Diagnosis", "Evidence", "Finding", "Label", "Mode"]
