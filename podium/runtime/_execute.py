"""Executing one attempt of a task: routing, the call an agent receives, the agent, the checks.

`TaskRunner` is the seam between the scheduler and where work happens: the scheduler asks it to
`assign` an agent and to `run` an attempt, and gets back an `AttemptResult` — never an exception,
except cancellation.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import Any

from podium.agents import Agent, ModelAgentLoop, TaskCall, run_function_agent
from podium.context import ContextPolicy, ContextView, PendingWrite
from podium.events import ErrorInfo, Usage
from podium.exceptions import OutputValidationError, PodiumError, TaskError
from podium.plan import Task, TemplateError, render
from podium.routing import Router
from podium.runtime._state import RunState
from podium.tools import result_text
from podium.verify import validate_output

log = logging.getLogger(__name__)

JSON = Any
EmitNow = Callable[..., Awaitable[None]]


@dataclass(slots=True)
class Attempt:
    """One attempt of one task on one agent."""

    task: Task
    agent: str
    attempt: int
    failures: int = 0
    previous_error: ErrorInfo | None = None


@dataclass(slots=True)
class AttemptResult:
    """What an attempt produced: an output and context writes, or an error."""

    attempt: Attempt
    output: JSON = None
    error: ErrorInfo | None = None
    writes: Sequence[PendingWrite] = ()
    usage: Usage | None = None


def error_info(exc: BaseException) -> ErrorInfo:
    """A typed, serialisable description of an exception."""
    if isinstance(exc, OutputValidationError):
        return ErrorInfo(
            type=exc.kind, message=str(exc), retryable=exc.retryable, raw_output=exc.raw_output
        )
    if isinstance(exc, TaskError):
        return ErrorInfo(type=exc.kind, message=str(exc), retryable=exc.retryable)
    if isinstance(exc, TimeoutError):
        return ErrorInfo(type="timeout", message=str(exc) or "timed out", retryable=True)
    if isinstance(exc, PodiumError):
        return ErrorInfo(type=type(exc).__name__, message=str(exc), retryable=True)
    return ErrorInfo(
        type=type(exc).__name__, message=f"{type(exc).__name__}: {exc}", retryable=True
    )


@dataclass(slots=True)
class TaskRunner:
    """Runs attempts on the agents of a run."""

    agents: Mapping[str, Agent]
    router: Router
    pool: Executor
    context_policy: ContextPolicy = field(default_factory=ContextPolicy)

    def assign(
        self, task: Task, has_room: Callable[[str], bool]
    ) -> tuple[str, str, list[dict[str, JSON]]] | None:
        """(agent, reason, candidates) for a task, or ``None`` when no fitting agent has room."""
        decision = self.router.route(task, self.agents, has_room)
        if decision is None:
            return None
        return decision.agent, decision.reason, decision.candidates

    def _call(self, attempt: Attempt, state: RunState, view: ContextView) -> TaskCall:
        task = attempt.task
        run_inputs = state.submitted.inputs if state.submitted else {}
        needed = {dep: state.tasks[dep].output for dep in task.needs}
        refs = task.referenced_tasks() if "{{" in task.instruction else ()
        outputs = {tid: state.tasks[tid].output for tid in refs if tid in state.tasks}
        scope = {"inputs": run_inputs, "tasks": outputs, "item": task.item}
        try:
            instruction = render(task.instruction, scope)
        except TemplateError as exc:
            raise TaskError(f"task {task.id!r}: {exc}", kind="template", retryable=False) from None
        if not isinstance(instruction, str):
            instruction = render(task.instruction + " ", scope).rstrip()
        explicit = "{{" in task.instruction
        if task.parent is not None and "item" not in task.instruction:
            instruction += "\n\nItem: " + result_text(task.item)
        if attempt.previous_error is not None:
            instruction += (
                f"\n\n(Attempt {attempt.attempt}; the previous attempt failed: "
                f"{attempt.previous_error.message})"
            )
        return TaskCall(
            run_id=state.run_id,
            task_id=task.id,
            agent=attempt.agent,
            instruction=instruction,
            inputs={**run_inputs, **needed},
            run_inputs=run_inputs,
            task_outputs=needed,
            context=view,
            item=task.item,
            attempt=attempt.attempt,
            output_schema=task.output_schema,
            explicit_inputs=explicit,
        )

    async def run(self, attempt: Attempt, state: RunState, emit: EmitNow) -> AttemptResult:
        """Run one attempt; every failure becomes an `AttemptResult` with a typed error."""
        task = attempt.task
        view = ContextView(state.board, task=task.id, reads=task.reads)
        try:
            call = self._call(attempt, state, view)
            agent = self.agents[attempt.agent]
            if agent.function is not None:
                work = run_function_agent(agent, call, self.pool)
            else:
                work = ModelAgentLoop(agent, call, emit).run()
            if task.timeout_s is None:
                outcome = await work
            else:
                async with asyncio.timeout(task.timeout_s):
                    outcome = await work
            if task.output_schema is not None:
                validate_output(outcome.output, task.output_schema)
        except asyncio.CancelledError:
            raise
        except TimeoutError:
            return AttemptResult(
                attempt,
                error=ErrorInfo(
                    type="timeout",
                    message=f"task {task.id!r} took longer than {task.timeout_s}s",
                    retryable=True,
                ),
            )
        except Exception as exc:
            log.debug("task %s attempt %d failed", task.id, attempt.attempt, exc_info=True)
            return AttemptResult(attempt, error=error_info(exc))
        return AttemptResult(attempt, output=outcome.output, writes=view.pending)
