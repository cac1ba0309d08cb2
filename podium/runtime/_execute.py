"""Executing one attempt of a task: routing, the call an agent receives, the agent, the checks.

`TaskRunner` is the seam between the scheduler and where work happens: the scheduler asks it to
`assign` an agent and to `run` an attempt, and gets back an `AttemptResult` — never an exception,
except cancellation.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import os
import traceback
from collections.abc import Awaitable, Callable, Mapping, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import Any

from podium.agents import Agent, ModelAgentLoop, TaskCall, run_function_agent
from podium.agents._run import AgentOutcome
from podium.context import ContextPolicy, ContextView, PendingWrite
from podium.events import ErrorInfo, Usage, unencodable
from podium.exceptions import (
    ConfigError,
    PodiumError,
    StoreError,
    TaskError,
)
from podium.models._errors import ProviderError
from podium.models._prices import PriceTable
from podium.plan import Task, TemplateError, render
from podium.policy import ApprovalNeeded, ApprovalRequest, Policy
from podium.reliability._retry import retry_note
from podium.routing import LearningRouter, Router, task_kind
from podium.runtime._approvals import ApprovalGate
from podium.runtime._state import FAILED, SUCCEEDED, RunState
from podium.runtime._watchdog import WATCHDOG, LoopBlocked
from podium.store import Outcome
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
    """What an attempt produced: an output and context writes, or an error, or (`approval`)
    an action that waits for a human."""

    attempt: Attempt
    output: JSON = None
    error: ErrorInfo | None = None
    writes: Sequence[PendingWrite] = ()
    usage: Usage | None = None
    approval: ApprovalRequest | None = None
    final_agent: str | None = None
    """The agent that finished the task when a handoff moved it off `attempt.agent`."""


def check_recordable(output: JSON, writes: Sequence[PendingWrite]) -> None:
    """Refuse an output or context write that the journal could not record exactly as it is
    (a NaN, an unpaired surrogate, …; see `podium.events.unencodable`)."""
    problem = unencodable(output, "output")
    for w in writes:
        if problem is not None:
            break
        problem = unencodable(w.key, "context key") or unencodable(w.value, f"context[{w.key!r}]")
        problem = problem or unencodable(list(w.sources), f"context[{w.key!r}].sources")
    if problem is not None:
        raise TaskError(
            f"the result cannot be journaled: {problem}", kind="output_not_json", retryable=False
        )


def error_info(exc: BaseException) -> ErrorInfo:
    """A typed, serialisable description of an exception.

    An exception that is not Podium's own (a bug or a refusal in an agent's or a tool's code)
    keeps its traceback, without Podium's and asyncio's frames, so the journal says where it
    was raised. `SystemExit` and `KeyboardInterrupt` raised by an agent are its failure
    (``agent_exit``, not retried), never the process's.
    """
    if isinstance(exc, TaskError):  # OutputValidationError keeps the raw output too
        return ErrorInfo(
            type=exc.kind,
            message=str(exc),
            retryable=exc.retryable,
            retry_after_s=getattr(exc, "retry_after_s", None),
            raw_output=getattr(exc, "raw_output", None),
        )
    if isinstance(exc, ProviderError):
        return ErrorInfo(
            type=type(exc).__name__,
            message=str(exc),
            retryable=exc.retryable,
            retry_after_s=getattr(exc, "retry_after_s", None),
        )
    if isinstance(exc, TimeoutError):
        return ErrorInfo(type="timeout", message=str(exc) or "timed out", retryable=True)
    if isinstance(exc, ConfigError):  # misconfigured, not unlucky: no retry fixes it
        return ErrorInfo(type="config", message=str(exc), retryable=False)
    if isinstance(exc, PodiumError):  # a class may say it is never retried (retryable = False)
        retryable = bool(getattr(exc, "retryable", True))
        return ErrorInfo(type=type(exc).__name__, message=str(exc), retryable=retryable)
    return _foreign_error(exc)


def _foreign_error(exc: BaseException) -> ErrorInfo:
    """An exception of an agent's or a tool's own code, with where it was raised."""
    name = type(exc).__name__
    if not isinstance(exc, Exception):
        return ErrorInfo(
            type="agent_exit",
            message=f"the agent raised {name}({exc}): it is the agent's failure, not the run's",
            retryable=False,
            traceback=user_traceback(exc),
        )
    return ErrorInfo(
        type=name, message=f"{name}: {exc}", retryable=True, traceback=user_traceback(exc)
    )


_INTERNAL = (
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))),  # podium itself
    os.path.dirname(asyncio.__file__),
    os.path.dirname(concurrent.futures.__file__),
)
TRACEBACK_CHARS = 8000


def user_traceback(exc: BaseException) -> str | None:
    """The traceback of `exc` as text, without Podium's, asyncio's and the thread pool's
    frames, at most `TRACEBACK_CHARS` (its end, where it was raised)."""
    frames = [
        frame
        for frame in traceback.extract_tb(exc.__traceback__)
        if not frame.filename.startswith(_INTERNAL)
    ]
    if not frames:
        return None
    lines = traceback.format_list(frames)
    lines += traceback.format_exception_only(type(exc), exc)
    text = "Traceback (most recent call last):\n" + "".join(lines)
    return text if len(text) <= TRACEBACK_CHARS else "…" + text[-TRACEBACK_CHARS:]


@dataclass(slots=True)
class TaskRunner:
    """Runs attempts on the agents of a run, and collects the final outcomes of its tasks."""

    agents: Mapping[str, Agent]
    router: Router
    pool: Executor
    context_policy: ContextPolicy = field(default_factory=ContextPolicy)
    policy: Policy = field(default_factory=Policy)
    outcomes: list[Outcome] = field(default_factory=list)
    _learner: LearningRouter | None = field(init=False, default=None, repr=False)
    prices: PriceTable | None = None
    """What model calls cost (``None``: the built-in table; the orchestrator sets the run's)."""

    def __post_init__(self) -> None:
        if isinstance(self.router, LearningRouter):
            self._learner = self.router

    def assign(
        self, task: Task, has_room: Callable[[str], bool]
    ) -> tuple[str, str, list[dict[str, JSON]]] | None:
        """(agent, reason, candidates) for a task, or ``None`` when no fitting agent has room."""
        decision = self.router.route(task, self.agents, has_room)
        if decision is None:
            return None
        return decision.agent, decision.reason, decision.candidates

    def observe(self, attempt: Attempt, state: RunState) -> None:
        """Collect the task's outcome, and tell a learning router, once it is final.

        The driver calls this after recording each attempt; a task that will be retried has no
        outcome yet. The outcome goes to the agent of the final attempt, with the cost of all
        attempts (``None`` when the agent reports no usage) and the final attempt's latency.
        """
        st = state.tasks[attempt.task.id]
        if st.status not in (SUCCEEDED, FAILED):
            return
        succeeded = st.status == SUCCEEDED
        usage = st.usage
        reported = usage.cost_usd > 0 or usage.input_tokens > 0 or usage.output_tokens > 0
        checks: bool | None = None
        if attempt.task.output_schema is not None:
            if succeeded:
                checks = True
            elif st.error is not None and st.error.type == "output_invalid":
                checks = False
        started, ended = st.started_ts, st.ended_ts
        outcome = Outcome(
            kind=task_kind(attempt.task),
            agent=attempt.agent,
            success=succeeded,
            checks_passed=checks,
            cost_usd=usage.cost_usd if reported else None,
            latency_s=max(0.0, ended - started) if started is not None and ended else 0.0,
            ts=ended or 0.0,
        )
        self.outcomes.append(outcome)
        if self._learner is not None and attempt.task.agent is None:
            # only routed tasks teach the router during a run; fixed-agent outcomes still
            # reach the store and count from the next run on
            self._learner.observe(outcome)

    def instruction(self, task: Task, state: RunState) -> str:
        """The task's instruction as its agent gets it (before any note about a retry)."""
        run_inputs = state.submitted.inputs if state.submitted else {}
        refs = task.referenced_tasks() if "{{" in task.instruction else ()
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

    def _call(self, attempt: Attempt, state: RunState, view: ContextView) -> TaskCall:
        task = attempt.task
        run_inputs = state.submitted.inputs if state.submitted else {}
        needed = {dep: state.tasks[dep].output for dep in task.needs}
        instruction = self.instruction(task, state)
        explicit = "{{" in task.instruction
        if attempt.previous_error is not None:
            instruction += retry_note(attempt.attempt, attempt.previous_error)
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

    async def run(
        self, attempt: Attempt, state: RunState, emit: EmitNow, *, agent: Agent | None = None
    ) -> AttemptResult:
        """Run one attempt; every failure becomes an `AttemptResult` with a typed error.

        `agent` stands in for the attempt's agent (a wrapper may pass it with its model and
        tools wrapped). Whatever the agent raises — `SystemExit` and `KeyboardInterrupt`
        included — is its failure; only cancellation and a journal that cannot be written
        (`StoreError`) go through.
        """
        task = attempt.task
        view = ContextView(state.board, task=task.id, reads=task.reads)
        watchdog = WATCHDOG.get()
        watched = None
        if watchdog is not None:
            watched = watchdog.watch(state.run_id, task.timeout_s, task.id, attempt.agent)
        try:
            outcome = await self._attempt(attempt, state, emit, view, agent)
        except (asyncio.CancelledError, GeneratorExit):
            raise
        except StoreError:
            raise  # the journal cannot be written: not this task's failure
        except ApprovalNeeded as signal:
            return AttemptResult(attempt, approval=signal.request)
        except TimeoutError:
            message = f"task {task.id!r} took longer than {task.timeout_s}s"
            return AttemptResult(
                attempt, error=ErrorInfo(type="timeout", message=message, retryable=True)
            )
        except LoopBlocked:
            message = (
                f"task {task.id!r} blocked the event loop past its deadline: its agent runs"
                " blocking code (time.sleep, a synchronous client, a busy loop) inside"
                " `async def`; make it a plain `def` (it then runs on a worker thread)"
            )
            return AttemptResult(attempt, error=ErrorInfo(type="loop_blocked", message=message))
        except BaseException as exc:  # SystemExit, KeyboardInterrupt too: the agent's, not ours
            log.debug("task %s attempt %d failed", task.id, attempt.attempt, exc_info=True)
            return AttemptResult(attempt, error=error_info(exc))
        finally:
            if watchdog is not None:
                watchdog.unwatch(watched)
        return AttemptResult(
            attempt, output=outcome.output, writes=view.pending, final_agent=outcome.agent
        )

    async def _attempt(
        self,
        attempt: Attempt,
        state: RunState,
        emit: EmitNow,
        view: ContextView,
        agent: Agent | None,
    ) -> AgentOutcome:
        """The agent's work in one attempt, checked: its output matches the task's schema and,
        like its context writes, can be journaled exactly."""
        task = attempt.task
        call = self._call(attempt, state, view)
        if agent is None:
            agent = self.agents[attempt.agent]
        if agent.function is not None:
            work = run_function_agent(agent, call, self.pool)
        else:
            gate = ApprovalGate(state, self.policy, task.id)
            work = ModelAgentLoop(
                agent,
                call,
                emit,
                gate=gate,
                agents=self.agents,
                prices=self.prices,
                prepare=lambda target: self.handoff_agent(target, attempt),
            ).run()
        if task.timeout_s is None:
            outcome = await work
        else:
            async with asyncio.timeout(task.timeout_s):
                outcome = await work
        if task.output_schema is not None:
            validate_output(outcome.output, task.output_schema)
        check_recordable(outcome.output, view.pending)
        return outcome

    def handoff_agent(self, agent: Agent, attempt: Attempt) -> Agent:
        """The agent a handoff within `attempt` goes to, as the attempt will run it.

        A runner that wraps the attempt's agent (its model, its tools) wraps the target here too.
        """
        return agent
