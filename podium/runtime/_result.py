"""`RunResult`: what a run produced, as its journal has it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from podium.events import Usage
from podium.runtime._state import RunState, rollback_status, run_confidence

JSON = Any


@dataclass(frozen=True, slots=True, kw_only=True)
class RunResult:
    """The outcome of a run.

    Attributes:
        run_id: the run.
        status: ``succeeded``, ``partially_succeeded``, ``failed``, ``cancelled``, ``waiting``
            or ``running``.
        reason: why it ended as it did (for failures: error, timeout, stall, …).
        message: a human-readable explanation.
        output: the workflow's output.
        tasks: per task: status, agent, attempts, output, error.
        usage: tokens and cost of the whole run.
        elapsed_s: from submission to the end (or to now, while running).
        missing: tasks a partially succeeded run did without.
        confidence: the run's measured confidence, its weakest step's: the lowest of the
            confidences measured for the tasks that succeeded (``None``: none was measured; see
            `podium.verify.Confidence`).
        rollback: how far undoing what the run did got (`compensate:` of tasks and tools):
            ``none`` (nothing to undo), ``pending``, ``complete`` or ``incomplete`` (an undo
            failed; `podium rollback` tries again).
    """

    run_id: str
    status: str
    reason: str = ""
    message: str = ""
    output: JSON = None
    tasks: dict[str, dict[str, JSON]] = field(default_factory=dict)
    usage: Usage = field(default_factory=Usage)
    elapsed_s: float = 0.0
    missing: list[str] = field(default_factory=list)
    confidence: float | None = None
    rollback: str = "none"

    @property
    def ok(self) -> bool:
        return self.status == "succeeded"

    @classmethod
    def from_state(cls, state: RunState, *, now: float | None = None) -> RunResult:
        end = state.ended_ts if state.ended_ts is not None else (now or state.created_ts)
        return cls(
            run_id=state.run_id,
            status=state.status,
            reason=state.reason,
            message=state.message,
            output=state.output,
            tasks={tid: ts.to_json() for tid, ts in state.tasks.items()},
            usage=Usage(
                input_tokens=state.usage.input_tokens,
                output_tokens=state.usage.output_tokens,
                cost_usd=state.usage.cost_usd,
            ),
            elapsed_s=max(0.0, end - state.created_ts),
            missing=list(state.missing),
            confidence=run_confidence(state),
            rollback=rollback_status(state),
        )

    def to_json(self) -> dict[str, JSON]:
        """The result as `podium run --json` prints it."""
        return {
            "run_id": self.run_id,
            "status": self.status,
            "reason": self.reason,
            "message": self.message,
            "output": self.output,
            "tasks": self.tasks,
            "usage": {
                "input_tokens": self.usage.input_tokens,
                "output_tokens": self.usage.output_tokens,
                "cost_usd": round(self.usage.cost_usd, 6),
            },
            "elapsed_s": round(self.elapsed_s, 4),
            "missing": self.missing,
            "confidence": None if self.confidence is None else round(self.confidence, 4),
            "rollback": self.rollback,
        }


__all__ = ["RunResult"]
