"""The attempt boundary: what crosses from the scheduler to where an attempt runs, and back.

An attempt is plain data in — `AttemptInput`: the task, the agent by name, the rendered
instruction, the inputs, the task's scoped context (the entries of the keys it reads), its
limits, what it may replay (its recorded side effects, its approvals) and a trace context — and
plain data out: `AttemptOutcome`, with the events the attempt made on the way (journaled as they
happen by executors that can, returned with the outcome by those that cannot). No live state and
no closure crosses, so an executor can run an attempt in another process or on another machine;
the journal and the run's lease stay with the orchestrator.

`attempt_input` builds the input from the run's state, on the scheduler's side.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import msgspec

from podium.context import Entry, PendingWrite
from podium.context._drift import read_versions
from podium.context._summarise import summary_key
from podium.events import AnyEvent, ErrorInfo, Usage
from podium.exceptions import TaskError
from podium.plan import Task, TemplateError, render
from podium.policy import Approval, ApprovalRequest
from podium.reliability._budget import Budget
from podium.reliability._guards import Guards
from podium.reliability._retry import retry_note
from podium.runtime._state import RunState
from podium.tools import result_text

JSON = Any
EventSink = Callable[..., Awaitable[None]]
"""Where an attempt's events go: ``await sink(EventClass, **fields)`` (run id, seq and time are
added by the journal)."""


class Spent(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """What a budget's scope had spent when the attempt started."""

    tokens: int = 0
    usd: float = 0.0
    steps: int = 0
    started: float | None = None


class Allowance(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """One budget an attempt must stay within: ``run``, or a task and its map children."""

    label: str
    budget: Budget
    spent: Spent


class AttemptLimits(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """The limits an attempt runs under.

    Attributes:
        timeout_s: the task's time limit.
        allowances: the budgets that apply, with what their scopes had spent at the start.
        guards: the run's loop and stall guards.
        steps: model and tool calls the run had made at the start.
        since_progress: of those, made since the run last produced something.
        retry_at: when the attempt may start (a retry's delay), by the run's clock.
        approve_effects: tool effects whose calls wait for a person's approval.
    """

    timeout_s: float | None = None
    allowances: tuple[Allowance, ...] = ()
    guards: Guards = Guards()
    steps: int = 0
    since_progress: int = 0
    retry_at: float | None = None
    approve_effects: tuple[str, ...] = ()


class AttemptInput(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """One attempt of one task, as data (see the module docstring)."""

    run_id: str
    task: Task
    agent: str
    attempt: int
    instruction: str
    inputs: dict[str, JSON]
    run_inputs: dict[str, JSON]
    task_outputs: dict[str, JSON]
    context: dict[str, list[Entry]] = {}
    """Every version of each key the task reads."""
    read_versions: dict[str, int] | None = None
    """The latest version of each key the task reads (0: none yet), checked for drift when the
    attempt commits (``None``: an input that read nothing, such as an approved result's)."""
    explicit_inputs: bool = False
    failures: int = 0
    previous_error: ErrorInfo | None = None
    effects: dict[str, JSON] = {}
    """Results of the task's side-effecting tool calls already journaled, by idempotency key."""
    approvals: tuple[Approval, ...] = ()
    """The task's approvals so far (granted, used, rejected)."""
    limits: AttemptLimits = AttemptLimits()
    trace: dict[str, str] = {}
    """A trace context (W3C ``traceparent`` and friends) the attempt continues."""
    tainted_by: tuple[str, ...] = ()
    """Untrusted sources in what the attempt is given (see `podium.policy.Provenance`)."""


class AttemptOutcome(msgspec.Struct, kw_only=True, gc=False):
    """What an attempt produced: an output and context writes, or an error, or (`approval`)
    an action that waits for a person.

    Attributes:
        final_agent: the agent that finished the task when a handoff moved it.
        events: events the attempt made that its executor could not journal as they happened
            (a remote worker's); the scheduler journals them, in order, before the outcome.
        decision: what the scheduler does about a failure (filled by the retry interceptor).
    """

    output: JSON = None
    error: ErrorInfo | None = None
    writes: list[PendingWrite] = []
    usage: Usage | None = None
    approval: ApprovalRequest | None = None
    final_agent: str | None = None
    events: list[AnyEvent] = []
    decision: JSON = None


def render_instruction(task: Task, state: RunState) -> str:
    """The task's instruction as its agent gets it (before any note about a retry).

    Raises:
        TaskError: a template cannot be rendered (``template``, not retried).
    """
    templated = "{{" in task.instruction
    if not templated and task.parent is None:
        return task.instruction
    run_inputs = state.submitted.inputs if state.submitted else {}
    refs = task.referenced_tasks() if templated else ()
    outputs = {tid: state.tasks[tid].output for tid in refs if tid in state.tasks}
    scope = {"inputs": run_inputs, "tasks": outputs, "item": task.item}
    try:
        instruction = render(task.instruction, scope)
    except TemplateError as exc:
        raise TaskError(f"task {task.id!r}: {exc}", kind="template", retryable=False) from None
    if not isinstance(instruction, str):
        instruction = render(task.instruction + " ", scope).rstrip()
    if task.parent is not None and "item" not in task.instruction:
        instruction += "\n\nItem: " + result_text(task.item)
    return str(instruction)


def bare_input(
    state: RunState, task: Task, agent: str, *, attempt: int | None = None
) -> AttemptInput:
    """An input that only names an attempt (of one that could not be built, or whose result a
    person approved): the task's latest attempt, unless `attempt` says which."""
    return AttemptInput(
        run_id=state.run_id,
        task=task,
        agent=agent,
        attempt=state.tasks[task.id].attempts if attempt is None else attempt,
        instruction="",
        inputs={},
        run_inputs={},
        task_outputs={},
    )


def attempt_input(
    state: RunState,
    task: Task,
    agent: str,
    *,
    limits: AttemptLimits,
    trace: dict[str, str] | None = None,
) -> AttemptInput:
    """The attempt of `task` on `agent` that the run just started (`TaskStarted` is folded).

    Raises:
        TaskError: the instruction's template cannot be rendered.
    """
    st = state.tasks[task.id]
    attempt = st.attempts
    instruction = render_instruction(task, state)
    if st.error is not None and st.failures:
        instruction += retry_note(attempt, st.error)
    run_inputs = state.submitted.inputs if state.submitted else {}
    tasks = state.tasks
    needed = {dep: tasks[dep].output for dep in task.needs} if task.needs else {}
    board = state.board
    context = (  # each key's summaries too (`podium.context._summarise`), to reuse
        {
            key: board.history(key)
            for key in (*task.reads, *(summary_key(k) for k in task.reads))
            if board.latest(key) is not None
        }
        if task.reads
        else {}
    )
    effects: dict[str, JSON] = {}
    if state.effects:
        prefix = f"{state.run_id}/{task.id}/"
        effects = {k: v for k, v in state.effects.items() if k.startswith(prefix)}
    approvals = state.approvals
    return AttemptInput(
        run_id=state.run_id,
        task=task,
        agent=agent,
        attempt=attempt,
        instruction=instruction,
        inputs={**run_inputs, **needed} if needed else dict(run_inputs),
        run_inputs=run_inputs,
        task_outputs=needed,
        context=context,
        read_versions=read_versions(context, task.reads),
        explicit_inputs="{{" in task.instruction,
        failures=st.failures,
        previous_error=st.error if st.failures else None,
        effects=effects,
        approvals=tuple(approvals.of_task(task.id)) if approvals else (),
        limits=limits,
        trace=trace or {},
    )


__all__ = [
    "Allowance",
    "AttemptInput",
    "AttemptLimits",
    "AttemptOutcome",
    "EventSink",
    "Spent",
    "attempt_input",
    "bare_input",
    "render_instruction",
]
