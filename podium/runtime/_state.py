"""A run's state as a fold over its journal.

`RunState.apply` is the only way state changes, in the scheduler and when a journal is read back,
so a resumed run sees exactly what the crashed one had committed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import msgspec

from podium.context import Blackboard, Entry
from podium.events import (
    AnyEvent,
    ContextWritten,
    ErrorInfo,
    ModelCalled,
    PlanAccepted,
    PlanExtended,
    RunCancelled,
    RunFailed,
    RunPartiallySucceeded,
    RunSubmitted,
    RunSucceeded,
    TaskAssigned,
    TaskFailed,
    TaskReady,
    TaskRetrying,
    TaskSkipped,
    TaskStarted,
    TaskSucceeded,
    ToolCalled,
    Usage,
)
from podium.plan import Plan, Task, task_from_data

JSON = Any

PENDING, READY, RUNNING, SUCCEEDED, FAILED, SKIPPED = (
    "pending",
    "ready",
    "running",
    "succeeded",
    "failed",
    "skipped",
)
TERMINAL = frozenset({SUCCEEDED, FAILED, SKIPPED})


class TaskState:
    """Where one task stands."""

    __slots__ = (
        "agent",
        "attempts",
        "ended_ts",
        "error",
        "failures",
        "output",
        "started_ts",
        "status",
        "task",
        "usage",
    )

    def __init__(self, task: Task) -> None:
        self.task = task
        self.status = PENDING
        self.agent: str | None = None
        self.attempts = 0
        self.failures = 0
        self.output: JSON = None
        self.error: ErrorInfo | None = None
        self.started_ts: float | None = None
        self.ended_ts: float | None = None
        self.usage = Usage()

    def to_json(self) -> dict[str, JSON]:
        return {
            "status": self.status,
            "agent": self.agent,
            "attempts": self.attempts,
            "output": self.output,
            "error": None if self.error is None else msgspec.to_builtins(self.error),
        }


class RunState:
    """Everything known about a run, rebuilt from its events."""

    def __init__(self, run_id: str) -> None:
        self.run_id = run_id
        self.status = "running"
        self.reason = ""
        self.message = ""
        self.submitted: RunSubmitted | None = None
        self.plan: Plan | None = None
        self.tasks: dict[str, TaskState] = {}
        self.board = Blackboard()
        self.usage = Usage()
        self.seq = -1
        self.created_ts = 0.0
        self.ended_ts: float | None = None
        self.output: JSON = None
        self.missing: list[str] = []
        self.failed_tasks: list[str] = []
        self.expanded: set[str] = set()

    @classmethod
    def from_events(cls, run_id: str, events: Iterable[AnyEvent]) -> RunState:
        state = cls(run_id)
        for ev in events:
            state.apply(ev)
        return state

    @property
    def finished(self) -> bool:
        return self.status not in ("running", "waiting")

    def apply(self, event: AnyEvent) -> None:
        self.seq = event.seq
        handler = _HANDLERS.get(type(event))
        if handler is not None:
            handler(self, event)

    # -- handlers -----------------------------------------------------------------------------

    def _submitted(self, ev: RunSubmitted) -> None:
        self.submitted = ev
        self.created_ts = ev.ts

    def _plan(self, ev: PlanAccepted) -> None:
        self.accept_plan(Plan.from_data(ev.tasks, output=ev.output))

    def accept_plan(self, plan: Plan) -> None:
        """Take the plan a `PlanAccepted` records (given as built, to skip decoding it)."""
        self.plan = plan
        self.tasks = {t.id: TaskState(t) for t in plan}

    def _extended(self, ev: PlanExtended) -> None:
        assert self.plan is not None
        tasks = [task_from_data(d) for d in ev.tasks]
        self.plan.add(tasks)
        for t in tasks:
            self.tasks[t.id] = TaskState(t)
        self.expanded.add(ev.parent)

    def _ready(self, ev: TaskReady) -> None:
        self.tasks[ev.task].status = READY

    def _assigned(self, ev: TaskAssigned) -> None:
        self.tasks[ev.task].agent = ev.agent

    def _started(self, ev: TaskStarted) -> None:
        ts = self.tasks[ev.task]
        ts.status = RUNNING
        ts.agent = ev.agent
        ts.attempts = ev.attempt
        ts.started_ts = ev.ts

    def _usage(self, ts: TaskState, usage: Usage | None) -> None:
        if usage is not None:
            ts.usage.add(usage)

    def _model(self, ev: ModelCalled) -> None:
        used = Usage(
            input_tokens=ev.input_tokens, output_tokens=ev.output_tokens, cost_usd=ev.cost_usd
        )
        self.usage.add(used)
        task = self.tasks.get(ev.task)
        if task is not None:
            task.usage.add(used)

    def _context(self, ev: ContextWritten) -> None:
        self.board.add(
            Entry(
                key=ev.key,
                value=ev.value,
                version=ev.version,
                task=ev.task,
                agent=ev.agent,
                sources=tuple(ev.sources),
                confidence=ev.confidence,
                ts=ev.ts,
            )
        )

    def _succeeded(self, ev: TaskSucceeded) -> None:
        ts = self.tasks[ev.task]
        ts.status = SUCCEEDED
        ts.output = ev.output
        ts.error = None
        ts.ended_ts = ev.ts
        if ev.agent is not None:
            ts.agent = ev.agent
        self._usage(ts, ev.usage)

    def _failed(self, ev: TaskFailed) -> None:
        ts = self.tasks[ev.task]
        ts.failures += 1
        ts.error = ev.error
        self._usage(ts, ev.usage)
        if ev.final:
            ts.status = FAILED
            ts.ended_ts = ev.ts
        else:
            ts.status = READY

    def _retrying(self, ev: TaskRetrying) -> None:
        self.tasks[ev.task].status = READY

    def _skipped(self, ev: TaskSkipped) -> None:
        ts = self.tasks[ev.task]
        ts.status = SKIPPED
        ts.error = ErrorInfo(type="skipped", message=ev.reason)
        ts.ended_ts = ev.ts

    def _end(self, status: str, ev: AnyEvent, output: JSON = None) -> None:
        self.status = status
        self.ended_ts = ev.ts
        self.output = output

    def _run_succeeded(self, ev: RunSucceeded) -> None:
        self._end("succeeded", ev, ev.output)

    def _run_partial(self, ev: RunPartiallySucceeded) -> None:
        self._end("partially_succeeded", ev, ev.output)
        self.missing = list(ev.missing)
        self.reason = ev.reason or "optional tasks missing"

    def _run_failed(self, ev: RunFailed) -> None:
        self._end("failed", ev)
        self.reason = ev.reason
        self.message = ev.message
        self.failed_tasks = list(ev.failed_tasks)

    def _run_cancelled(self, ev: RunCancelled) -> None:
        self._end("cancelled", ev)
        self.reason = ev.reason


def _tool(_state: RunState, _ev: ToolCalled) -> None:
    return None


_HANDLERS: dict[type, Callable[[RunState, Any], None]] = {
    RunSubmitted: RunState._submitted,
    PlanAccepted: RunState._plan,
    PlanExtended: RunState._extended,
    TaskReady: RunState._ready,
    TaskAssigned: RunState._assigned,
    TaskStarted: RunState._started,
    ModelCalled: RunState._model,
    ToolCalled: _tool,
    ContextWritten: RunState._context,
    TaskSucceeded: RunState._succeeded,
    TaskFailed: RunState._failed,
    TaskRetrying: RunState._retrying,
    TaskSkipped: RunState._skipped,
    RunSucceeded: RunState._run_succeeded,
    RunPartiallySucceeded: RunState._run_partial,
    RunFailed: RunState._run_failed,
    RunCancelled: RunState._run_cancelled,
}
