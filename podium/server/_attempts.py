"""Each task's attempts, read from the journal: agent, why it was chosen, calls, outcome."""

from __future__ import annotations

from collections.abc import Iterable

from podium.events import (
    ErrorInfo,
    ModelCalled,
    TaskAssigned,
    TaskFailed,
    TaskStarted,
    TaskSucceeded,
    ToolCalled,
)
from podium.server._models import Attempt, ErrorOut, ModelCall, Routing, ToolCall

AttemptEvent = TaskAssigned | TaskStarted | TaskSucceeded | TaskFailed | ModelCalled | ToolCalled


def error_out(error: ErrorInfo | None) -> ErrorOut | None:
    if error is None:
        return None
    return ErrorOut(
        type=error.type,
        message=error.message,
        retryable=error.retryable,
        traceback=error.traceback,
    )


class _Task:
    """The attempts of one task so far, and the routing decision waiting for the next start."""

    def __init__(self) -> None:
        self.attempts: list[Attempt] = []
        self.routing: Routing | None = None

    def current(self) -> Attempt | None:
        last = self.attempts[-1] if self.attempts else None
        return last if last is not None and last.status == "running" else None

    def apply(self, ev: AttemptEvent) -> None:
        if isinstance(ev, TaskAssigned):
            self.routing = Routing(reason=ev.reason, candidates=list(ev.candidates))
        elif isinstance(ev, TaskStarted):
            self._start(ev)
        elif isinstance(ev, ModelCalled | ToolCalled):
            self._call(ev)
        else:
            self._end(ev)

    def _start(self, ev: TaskStarted) -> None:
        previous = self.current()
        if previous is not None:  # started again without an end: cut short (a resume)
            previous.status = "cancelled"
        routing = self.routing
        self.routing = None
        self.attempts.append(
            Attempt(
                attempt=ev.attempt,
                agent=ev.agent,
                status="running",
                routing=routing,
                started_ts=ev.ts,
            )
        )

    def _call(self, ev: ModelCalled | ToolCalled) -> None:
        attempt = self.current()
        if attempt is None:
            return
        if isinstance(ev, ModelCalled):
            attempt.tokens_in += ev.input_tokens
            attempt.tokens_out += ev.output_tokens
            attempt.cost_usd = round(attempt.cost_usd + ev.cost_usd, 6)
            attempt.model_calls.append(
                ModelCall(
                    seq=ev.seq,
                    model=ev.model,
                    provider=ev.provider,
                    tokens_in=ev.input_tokens,
                    tokens_out=ev.output_tokens,
                    cost_usd=ev.cost_usd,
                    latency_s=ev.latency_s,
                )
            )
        else:
            attempt.tool_calls.append(
                ToolCall(
                    seq=ev.seq,
                    tool=ev.tool,
                    arguments=dict(ev.arguments),
                    effect=ev.effect,
                    result=ev.result,
                    error=ev.error,
                    latency_s=ev.latency_s,
                )
            )

    def _end(self, ev: TaskSucceeded | TaskFailed) -> None:
        attempt = self.current()
        if attempt is None:  # an outcome with no start: reused, copied by a fork, a direct answer
            return
        attempt.ended_ts = ev.ts
        if isinstance(ev, TaskSucceeded):
            attempt.status = "succeeded"
        else:
            attempt.status = "failed"
            attempt.error = error_out(ev.error)


def attempts_by_task(events: Iterable[AttemptEvent]) -> dict[str, list[Attempt]]:
    """Task id → its attempts, in order (``running`` while one has not ended)."""
    tasks: dict[str, _Task] = {}
    for ev in events:
        tasks.setdefault(ev.task, _Task()).apply(ev)
    return {tid: t.attempts for tid, t in tasks.items()}


__all__ = ["attempts_by_task", "error_out"]
