"""A Podium run seen as an A2A task: built from the run's journal, never stored twice.

The task id is the run id. The state follows the run's status: ``running`` is `working`, a
run parked on an approval is `input-required` (its status message says what waits and how to
answer), a finished run is `completed`, `failed`, `rejected` (a person said no) or `canceled`.
The history is the caller's message, the questions asked while parked and the answers given;
the run's output is the one artifact, ``output``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from a2a.types import Artifact, Message, Part, Role, Task, TaskState, TaskStatus

from podium.a2a._proto import value
from podium.events import (
    AnyEvent,
    ApprovalGranted,
    ApprovalRejected,
    ApprovalRequested,
    RunSubmitted,
    RunWaiting,
)
from podium.runtime import RunState

JSON = Any

OUTPUT_ARTIFACT = "output"

_STATES: Mapping[str, TaskState] = {
    "running": TaskState.TASK_STATE_WORKING,
    "interrupted": TaskState.TASK_STATE_WORKING,  # resumable: the server resumes it
    "waiting": TaskState.TASK_STATE_INPUT_REQUIRED,
    "succeeded": TaskState.TASK_STATE_COMPLETED,
    "partially_succeeded": TaskState.TASK_STATE_COMPLETED,
    "failed": TaskState.TASK_STATE_FAILED,
    "cancelled": TaskState.TASK_STATE_CANCELED,
}

TERMINAL = frozenset(
    {
        TaskState.TASK_STATE_COMPLETED,
        TaskState.TASK_STATE_FAILED,
        TaskState.TASK_STATE_CANCELED,
        TaskState.TASK_STATE_REJECTED,
    }
)
"""States after which a task never changes."""

ANSWER_HINT = "reply 'approve' or 'reject' (optionally followed by a comment)"


@dataclass(frozen=True, slots=True)
class Origin:
    """What the caller called its message and context (kept while the server lives; after a
    restart the context is the task id and message ids are derived from the journal)."""

    context_id: str
    message_id: str


def message_text(inputs: Mapping[str, JSON], goal: str | None) -> str:
    """The caller's message as the run recorded it (the goal, the ``message`` input or the
    only input)."""
    if goal is not None:
        return goal
    if "message" in inputs:
        return _as_text(inputs["message"])
    if len(inputs) == 1:
        return _as_text(next(iter(inputs.values())))
    return json.dumps(dict(inputs), sort_keys=True, default=str)


def _as_text(value: JSON) -> str:
    return value if isinstance(value, str) else json.dumps(value, default=str)


def task_state(state: RunState, events: Sequence[AnyEvent]) -> TaskState:
    if state.status == "failed" and any(isinstance(ev, ApprovalRejected) for ev in events):
        return TaskState.TASK_STATE_REJECTED
    return _STATES.get(state.status, TaskState.TASK_STATE_WORKING)


def text_message(
    text: str, *, role: Role, message_id: str, task_id: str, context_id: str
) -> Message:
    return Message(
        message_id=message_id,
        role=role,
        task_id=task_id,
        context_id=context_id,
        parts=[Part(text=text)],
    )


def waiting_text(events: Sequence[AnyEvent]) -> str:
    """What a parked run waits for, and how to answer."""
    decided = {
        (ev.task, ev.action_hash)
        for ev in events
        if isinstance(ev, ApprovalGranted | ApprovalRejected)
    }
    asks = [
        ev
        for ev in events
        if isinstance(ev, ApprovalRequested) and (ev.task, ev.action_hash) not in decided
    ]
    lines = [f"approval needed on task {ev.task!r}: {_describe(ev)}" for ev in asks]
    return "; ".join(lines or ["approval needed"]) + f"; {ANSWER_HINT}"


def _describe(ev: ApprovalRequested) -> str:
    if ev.action == "tool":
        return f"call {ev.tool!r} with {json.dumps(ev.arguments, sort_keys=True, default=str)}"
    return ev.reason or f"{ev.action} of the task"


def history(
    run_id: str, events: Sequence[AnyEvent], context_id: str, origin: Origin | None
) -> list[Message]:
    """The caller's message, each question the run asked while parked, each answer."""
    out: list[Message] = []
    for ev in events:
        if isinstance(ev, RunSubmitted):
            out.append(
                text_message(
                    message_text(ev.inputs, ev.goal),
                    role=Role.ROLE_USER,
                    message_id=origin.message_id if origin else f"{run_id}-0",
                    task_id=run_id,
                    context_id=context_id,
                )
            )
        elif isinstance(ev, RunWaiting):
            text = waiting_text(events[: ev.seq + 1])
            out.append(_agent_says(text, run_id, ev.seq, context_id))
        elif isinstance(ev, ApprovalGranted | ApprovalRejected):
            word = "approve" if isinstance(ev, ApprovalGranted) else "reject"
            text = f"{word} {ev.comment}".strip() if ev.comment else word
            out.append(
                text_message(
                    text,
                    role=Role.ROLE_USER,
                    message_id=f"{run_id}-{ev.seq}",
                    task_id=run_id,
                    context_id=context_id,
                )
            )
    return out


def _agent_says(text: str, run_id: str, seq: int, context_id: str) -> Message:
    return text_message(
        text,
        role=Role.ROLE_AGENT,
        message_id=f"{run_id}-{seq}",
        task_id=run_id,
        context_id=context_id,
    )


def output_artifact(run_id: str, output: JSON) -> Artifact:
    """The run's output: a text part for a string, a data part for anything else."""
    part = Part(text=output) if isinstance(output, str) else Part(data=value(output))
    return Artifact(artifact_id=f"{run_id}-{OUTPUT_ARTIFACT}", name=OUTPUT_ARTIFACT, parts=[part])


def status_text(state: RunState, events: Sequence[AnyEvent], now: TaskState) -> str:
    if now == TaskState.TASK_STATE_INPUT_REQUIRED:
        return waiting_text(events)
    if now in (TaskState.TASK_STATE_FAILED, TaskState.TASK_STATE_REJECTED):
        return f"{state.reason}: {state.message}".strip(": ")
    if now == TaskState.TASK_STATE_CANCELED:
        return state.message or "cancelled"
    return ""


def task_of(
    run_id: str,
    events: Sequence[AnyEvent],
    *,
    origin: Origin | None = None,
    updated: float | None = None,
    artifacts: bool = True,
) -> Task:
    """The A2A task of a run, from its journal."""
    state = RunState.from_events(run_id, events)
    context_id = origin.context_id if origin else run_id
    now = task_state(state, events)
    status = TaskStatus(state=now)
    status.timestamp.FromNanoseconds(int((updated or _last_ts(events)) * 1e9))
    text = status_text(state, events, now)
    if text:
        status.message.CopyFrom(_agent_says(text, run_id, state.seq, context_id))
    task = Task(
        id=run_id,
        context_id=context_id,
        status=status,
        history=history(run_id, events, context_id, origin),
    )
    if artifacts and now == TaskState.TASK_STATE_COMPLETED and state.output is not None:
        task.artifacts.append(output_artifact(run_id, state.output))
    return task


def _last_ts(events: Sequence[AnyEvent]) -> float:
    return events[-1].ts if events else 0.0


__all__ = [
    "ANSWER_HINT",
    "TERMINAL",
    "Origin",
    "message_text",
    "output_artifact",
    "task_of",
    "task_state",
]
