"""A run's state as a fold over its journal.

`RunState.apply` is the only way state changes, in the scheduler and when a journal is read back,
so a resumed run sees exactly what the crashed one had committed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, Literal

import msgspec

from podium.context import Blackboard, Entry
from podium.events import (
    AnyEvent,
    ApprovalGranted,
    ApprovalRejected,
    ApprovalRequested,
    ConfidenceMeasured,
    ContextWritten,
    ErrorInfo,
    ModelCalled,
    PlanAccepted,
    PlanExtended,
    PlanFallback,
    PlanProposed,
    PlanRevised,
    ProvenanceTainted,
    RunCancelled,
    RunFailed,
    RunFeedback,
    RunForked,
    RunInterrupted,
    RunPartiallySucceeded,
    RunResumed,
    RunStatus,
    RunSubmitted,
    RunSucceeded,
    RunUpgraded,
    RunWaiting,
    TaskAssigned,
    TaskCompensated,
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
from podium.policy import ApprovalBook
from podium.runtime._output import map_items, run_output
from podium.runtime._task_state import (
    CANCELLED,
    FAILED,
    PENDING,
    READY,
    RUNNING,
    SKIPPED,
    SUCCEEDED,
    UNFINISHED_RUN,
    WAITING,
    TaskState,
)

JSON = Any


class RunState:
    """Everything known about a run, rebuilt from its events."""

    def __init__(self, run_id: str) -> None:
        self.run_id = run_id
        self.status: RunStatus = "running"
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
        self.expanded: frozenset[str] = frozenset()
        self.steps = 0
        """Model calls and tool calls in the run."""
        self.progress_step = 0
        """`steps` when the run last wrote context or finished a task (for the stall guard)."""
        self.approvals = ApprovalBook()
        self.effects: dict[str, JSON] = {}
        """Results of completed side-effecting tool calls, by idempotency key."""
        self.revised: dict[str, str] = {}
        """Re-planned task → the new task whose output becomes its output (`PlanRevised`)."""
        self.replans = 0
        """Branches re-planned so far."""
        self.children: dict[str, list[str]] = {}
        """A mapped task → its sub-tasks, in item order."""
        self.digest = ""
        """The digest of the workflow the run is bound to (`RunSubmitted`, `RunUpgraded`)."""
        self.workflow: dict[str, JSON] = {}
        """What rebuilds the run's workflow (`RunSubmitted.workflow`, or an upgrade's)."""
        self.feedback: list[RunFeedback] = []
        """People's ratings of the run (`RunFeedback`), oldest first."""
        self.forked_from: RunForked | None = None
        """The parent run and the task this run was forked from, if it is a fork."""
        self.copied: frozenset[str] = frozenset()
        """Tasks whose success a fork copied from its parent (no agent ran for them here)."""
        self.compensable: list[str] = []
        """What to undo should the run fail, in the order it took effect: tasks with a
        `compensate:` that succeeded, and tool calls with an undo (their `call_undo_id`)."""
        self.compensations: dict[str, TaskCompensated] = {}
        """The latest step of undoing each task or call that has been undone (or tried)."""
        self.confidence: dict[str, float] = {}
        """The latest measured confidence of each task that has one (`ConfidenceMeasured`)."""
        self.call_undos: dict[str, ToolCalled] = {}
        """The tool calls to undo (`ToolCalled.undo`), by undo id (`call_undo_id`)."""
        self.tainted: dict[str, tuple[str, ...]] = {}
        """Task → the untrusted sources its attempts took in (`ProvenanceTainted`)."""

    @classmethod
    def from_events(cls, run_id: str, events: Iterable[AnyEvent]) -> RunState:
        state = cls(run_id)
        for ev in events:
            state.apply(ev)
        return state

    @property
    def finished(self) -> bool:
        return self.status not in UNFINISHED_RUN

    def apply(self, event: AnyEvent) -> None:
        self.seq = event.seq
        handler = _HANDLERS.get(type(event))
        if handler is not None:
            handler(self, event)

    # -- handlers -----------------------------------------------------------------------------

    def _submitted(self, ev: RunSubmitted) -> None:
        self.submitted = ev
        self.created_ts = ev.ts
        self.digest = ev.digest
        self.workflow = ev.workflow

    def _plan(self, ev: PlanAccepted) -> None:
        self.accept_plan(Plan.from_data(ev.tasks, output=ev.output))

    def accept_plan(self, plan: Plan) -> None:
        """Take the plan a `PlanAccepted` records (given as built, to skip decoding it)."""
        self.plan = plan
        self.tasks = {t.id: TaskState(t) for t in plan}

    def _extended(self, ev: PlanExtended) -> None:
        tasks = [task_from_data(d) for d in ev.tasks]
        if ev.derived_items:
            items = map_items(self, self.tasks[ev.parent].task)
            tasks = [
                msgspec.structs.replace(t, item=item) for t, item in zip(tasks, items, strict=True)
            ]
        self.extend(ev.parent, tasks)

    def extend(self, parent: str, tasks: list[Task]) -> None:
        """Add the sub-tasks of a mapped task (as `PlanExtended` records them)."""
        assert self.plan is not None
        self.plan.add(tasks)
        for t in tasks:
            self.tasks[t.id] = TaskState(t)
        self.expanded = self.expanded | {parent}  # rare: a frozenset costs nothing till then
        self.children[parent] = [t.id for t in tasks]

    def _ready(self, ev: TaskReady) -> None:
        self.tasks[ev.task].status = READY

    def _assigned(self, ev: TaskAssigned | TaskStarted) -> None:
        ts = self.tasks[ev.task]
        if isinstance(ev, TaskAssigned):
            ts.candidates = ev.candidates
        if ev.agent != ts.agent:
            ts.agent_failures = 0
            ts.agent = ev.agent
        if ev.agent not in ts.tried:
            ts.tried = (*ts.tried, ev.agent)

    def _started(self, ev: TaskStarted) -> None:
        ts = self.tasks[ev.task]
        agent = ev.agent
        if agent != ts.agent:  # a start on an agent assigns it too
            ts.agent_failures = 0
            ts.agent = agent
        if agent not in ts.tried:
            ts.tried = (*ts.tried, agent)
        ts.status = RUNNING
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
        self.steps += 1
        task = self.tasks.get(ev.task)
        if task is not None:
            task.usage.add(used)
            task.steps += 1

    def _context(self, ev: ContextWritten) -> None:
        self.progress_step = self.steps
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
        if self.approvals:
            self.approvals.use_attempt(ev.task)
        ts = self.tasks[ev.task]
        ts.status = SUCCEEDED
        self.progress_step = self.steps
        # an output the journal holds already is not written twice: a reused answer is its
        # source's, a mapped task's is its items' in order
        if ev.reused_from is not None and ev.reused_from in self.tasks:
            ts.output = self.tasks[ev.reused_from].output
        elif ev.task in self.children:
            ts.output = [self.tasks[c].output for c in self.children[ev.task]]
        else:
            ts.output = ev.output
        ts.error = None
        ts.ended_ts = ev.ts
        if ev.agent is not None:
            ts.agent = ev.agent
        self._usage(ts, ev.usage)
        if ev.copied_from is not None:
            self.copied = self.copied | {ev.task}
        elif ts.task.compensate is not None:
            self.compensable.append(ev.task)

    def _failed(self, ev: TaskFailed) -> None:
        if self.approvals:
            self.approvals.use_attempt(ev.task)
        ts = self.tasks[ev.task]
        ts.failures += 1
        ts.agent_failures += 1
        ts.error = ev.error
        self._usage(ts, ev.usage)
        if ev.final:
            ts.status = FAILED
            ts.ended_ts = ev.ts
        else:
            ts.status = READY

    def _retrying(self, ev: TaskRetrying) -> None:
        ts = self.tasks[ev.task]
        ts.status = READY
        ts.retry_at = ev.ts + ev.delay_s if ev.delay_s > 0 else None

    def _skipped(self, ev: TaskSkipped) -> None:
        ts = self.tasks[ev.task]
        ts.status = SKIPPED
        ts.error = ErrorInfo(type="skipped", message=ev.reason)
        ts.ended_ts = ev.ts

    def _end(self, status: RunStatus, ev: AnyEvent, output: JSON = None) -> None:
        self.status = status
        self.ended_ts = ev.ts
        self.output = output
        for ts in self.tasks.values():
            if ts.status == RUNNING:  # cut short by the run's end: it will never finish
                ts.status = CANCELLED

    def _run_output(self, recorded: JSON) -> JSON:
        """The run's output: as recorded (older journals, direct answers), else rendered from
        the plan's `output` over the task outputs, which the journal already holds."""
        if recorded is not None or self.plan is None or not len(self.plan):
            return recorded
        return run_output(self)

    def _run_succeeded(self, ev: RunSucceeded) -> None:
        self._end("succeeded", ev, self._run_output(ev.output))

    def _run_partial(self, ev: RunPartiallySucceeded) -> None:
        self._end("partially_succeeded", ev, self._run_output(ev.output))
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


def _tool(state: RunState, ev: ToolCalled) -> None:
    state.steps += 1
    task = state.tasks.get(ev.task)
    if task is not None:
        task.steps += 1
    if ev.effect != "read" and ev.error is None and ev.idempotency_key:
        state.effects[ev.idempotency_key] = ev.result
    # a call to undo should the run fail; a task's own `compensate` undoes it whole, calls too
    whole = task is not None and task.task.compensate is not None
    if ev.undo is not None and ev.error is None and not ev.replayed and not whole:
        n = sum(1 for c in state.call_undos.values() if c.task == ev.task) + 1
        uid = call_undo_id(ev.task, ev.tool, n)
        state.call_undos[uid] = ev
        state.compensable.append(uid)
    if ev.action_hash and not ev.replayed:
        state.approvals.use_call(ev.task, ev.action_hash, ev.result, ok=ev.error is None)


def _approval_requested(state: RunState, ev: ApprovalRequested) -> None:
    state.approvals.request(ev)
    task = state.tasks.get(ev.task)
    if task is not None:
        task.status = WAITING


def _approval_decided(state: RunState, ev: ApprovalGranted | ApprovalRejected) -> None:
    state.approvals.decide(ev)  # the task stays waiting until the scheduler acts on it


def _run_waiting(state: RunState, ev: RunWaiting) -> None:
    state.status = "waiting"
    state.reason = "approval"
    state.message = ev.message


def _run_resumed(state: RunState, _ev: RunResumed) -> None:
    state.status = "running"
    state.reason = state.message = ""


def _run_interrupted(state: RunState, ev: RunInterrupted) -> None:
    """Not an end: the attempts it cut short run again when the run is resumed."""
    state.status = "interrupted"
    state.reason = ev.reason
    state.message = ""
    for tid in ev.tasks:
        task = state.tasks.get(tid)
        if task is not None and task.status == RUNNING:
            task.status = READY


def _run_forked(state: RunState, ev: RunForked) -> None:
    state.forked_from = ev


def _run_feedback(state: RunState, ev: RunFeedback) -> None:
    state.feedback.append(ev)


def _run_upgraded(state: RunState, ev: RunUpgraded) -> None:
    state.digest = ev.digest
    if ev.workflow:
        state.workflow = ev.workflow


_INCOMPLETE = "(rollback incomplete: "


def call_undo_id(task: str, tool: str, n: int) -> str:
    """The id of the undo of a task's `n`-th undoable tool call: ``TASK/TOOL#N``."""
    return f"{task}/{tool}#{n}"


def _compensated(state: RunState, ev: TaskCompensated) -> None:
    """The run's message says when undoing it is incomplete (an undo failed), and which."""
    state.compensations[ev.call or ev.task] = ev
    failed = [tid for tid, c in state.compensations.items() if c.phase == "failed"]
    message = state.message.partition(_INCOMPLETE)[0].rstrip()
    if failed:
        note = f"{_INCOMPLETE}undoing {', '.join(map(repr, failed))} failed)"
        message = f"{message} {note}" if message else note
    state.message = message


def _confidence_measured(state: RunState, ev: ConfidenceMeasured) -> None:
    if ev.confidence is not None:
        state.confidence[ev.task] = ev.confidence


Rollback = Literal["none", "pending", "complete", "incomplete"]


def to_undo(state: RunState, *, retry_failed: bool = False) -> list[str]:
    """The tasks whose undo is still to run, the latest success first.

    An undo started but never recorded as done (a crash) is among them; one that failed only
    with `retry_failed`. A mapped task is undone item by item, through its sub-tasks.
    """
    tasks = []
    for tid in reversed(state.compensable):
        if tid in state.children:
            continue
        last = state.compensations.get(tid)
        if last is None or last.phase == "started" or (retry_failed and last.phase == "failed"):
            tasks.append(tid)
    return tasks


def rollback_status(state: RunState) -> Rollback:
    """``none``: nothing to undo; ``pending``: undos not run yet; ``complete``: all undone;
    ``incomplete``: an undo failed."""
    if not state.compensable:
        return "none"
    if any(c.phase == "failed" for c in state.compensations.values()):
        return "incomplete"
    return "pending" if to_undo(state) else "complete"


def run_confidence(state: RunState) -> float | None:
    """How confident Podium is in a run: its weakest measured step — the lowest confidence of
    the tasks that succeeded with one (``None``: no task measured one)."""
    measured = [c for tid, c in state.confidence.items() if state.tasks[tid].status == SUCCEEDED]
    return min(measured) if measured else None


def _tainted(state: RunState, ev: ProvenanceTainted) -> None:
    known = state.tainted.get(ev.task, ())
    if ev.source not in known:
        state.tainted[ev.task] = (*known, ev.source)


def _plan_proposed(state: RunState, ev: PlanProposed) -> None:
    """The planner's tokens count in the run's usage."""
    state.usage.add(Usage(input_tokens=ev.input_tokens, output_tokens=ev.output_tokens))


def _plan_fallback(_state: RunState, _ev: PlanFallback) -> None:
    return None  # the plan it led to is recorded by `PlanAccepted` or `PlanRevised`


def _plan_revised(state: RunState, ev: PlanRevised) -> None:
    """New tasks join the plan; each replaced task waits again, for the new output."""
    assert state.plan is not None
    tasks = [task_from_data(d) for d in ev.tasks]
    state.plan.add(tasks)
    for t in tasks:
        state.tasks[t.id] = TaskState(t)
    for tid in ev.replaced:
        ts = state.tasks[tid]
        ts.status = PENDING
        ts.ended_ts = None
        state.revised[tid] = ev.output_task or tasks[-1].id
    state.replans += 1


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
    ApprovalRequested: _approval_requested,
    ApprovalGranted: _approval_decided,
    ApprovalRejected: _approval_decided,
    RunWaiting: _run_waiting,
    RunResumed: _run_resumed,
    RunInterrupted: _run_interrupted,
    RunUpgraded: _run_upgraded,
    RunFeedback: _run_feedback,
    RunForked: _run_forked,
    TaskCompensated: _compensated,
    ProvenanceTainted: _tainted,
    ConfidenceMeasured: _confidence_measured,
    PlanProposed: _plan_proposed,
    PlanFallback: _plan_fallback,
    PlanRevised: _plan_revised,
}


__all__ = ["Rollback", "RunState", "rollback_status", "run_confidence", "to_undo"]
