"""Where an attempt runs: an `AttemptInput` in, an `AttemptOutcome` out.

`AttemptWorker` holds what the executing side needs — the agents by name, the model and tool
interceptors, the threads synchronous agents run on, the clock, the prices — and nothing of the
run: it rebuilds the task's `TaskCall` (its scoped context from the entries the input carries),
runs the Python agent or the model-driven loop through the interceptors, checks the output, and
turns whatever happens into an outcome. Only cancellation and a journal that cannot be written
(`StoreError`) go through.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import Any

import msgspec

from podium._chain import chain
from podium.agents import Agent, ModelAgentLoop, TaskCall, ToolBox
from podium.agents._run import AgentOutcome, call_function, function_outcome
from podium.context import Blackboard, ContextView
from podium.events import ErrorInfo, Handoff
from podium.exceptions import StoreError
from podium.models._base import Model
from podium.models._calls import call_model
from podium.models._prices import PriceTable
from podium.models._registry import resolve_model
from podium.policy import ApprovalNeeded
from podium.policy._approval import GRANTED
from podium.reliability._clock import SYSTEM_CLOCK, Clock
from podium.reliability._guards import HandoffGuard
from podium.runtime._attempt import AttemptInput, AttemptOutcome, EventSink
from podium.runtime._errors import check_recordable, error_info
from podium.runtime._interceptors import AttemptScope, Interceptors
from podium.runtime._scopes import journal_denials, scoped_view
from podium.runtime._watchdog import LoopBlocked, Watchdog
from podium.tools._calls import call_tool
from podium.verify import validate_output

log = logging.getLogger(__name__)

JSON = Any

_EMPTY_BOARD = Blackboard()


@dataclass(slots=True, kw_only=True)
class AttemptWorker:
    """Runs attempts of one drive's agents (see the module docstring).

    Args:
        agents: the run's agents, by name.
        interceptors: the model and tool interceptors, outermost first.
        clock: what task timeouts wait on.
        prices: what model calls cost.
        resolve: turns an agent's model name into a model (a replayed run's resolves none).
        watchdog: stops an attempt that blocks this event loop past its deadline (an executor
            whose attempts run elsewhere has none).
    """

    agents: Mapping[str, Agent]
    interceptors: Interceptors = field(default_factory=Interceptors)
    clock: Clock = SYSTEM_CLOCK
    prices: PriceTable | None = None
    resolve: Callable[[Model | str], Model] = resolve_model
    watchdog: Watchdog | None = None

    async def run(self, input: AttemptInput, emit: EventSink, *, pool: Executor) -> AttemptOutcome:
        """Run one attempt (synchronous agents on `pool`); every failure becomes an outcome
        with a typed error."""
        task = input.task
        view = scoped_view(_board(input), task, self.agents.get(input.agent))
        watchdog = self.watchdog
        watched = None
        if watchdog is not None and (task.timeout_s is not None or watchdog.run_deadlines):
            watched = watchdog.watch(input.run_id, task.timeout_s, task.id, input.agent)
        call = TaskCall(
            run_id=input.run_id,
            task_id=task.id,
            agent=input.agent,
            instruction=input.instruction,
            inputs=input.inputs,
            run_inputs=input.run_inputs,
            task_outputs=input.task_outputs,
            context=view,
            item=task.item,
            attempt=input.attempt,
            output_schema=task.output_schema,
            explicit_inputs=input.explicit_inputs,
            context_budget=task.context_budget,
            approved=frozenset(
                a.action_hash for a in input.approvals if a.status == GRANTED and not a.used
            ),
        )
        given = self.agents.get(input.agent)
        if given is not None and given.function is not None and given.tools:
            # a Python agent calls its own tools, as a model's calls are made
            call = msgspec.structs.replace(call, tools=self._toolbox(given, input, emit))
        try:  # the agent's work, checked: its output matches the task's schema and, like its
            # context writes, can be journaled exactly
            agent = self.agents[input.agent]
            python = agent.function is not None
            work = (
                call_function(agent, call, pool)
                if python
                else self._model_loop(agent, call, input, emit).run()
            )
            if task.timeout_s is None:
                result = await work
            else:
                async with self.clock.timeout(task.timeout_s):
                    result = await work
            outcome: AgentOutcome = function_outcome(agent, result) if python else result
            if task.output_schema is not None:
                validate_output(outcome.output, task.output_schema)
            check_recordable(outcome.output, view.pending)
        except (asyncio.CancelledError, GeneratorExit, StoreError):
            raise  # a journal that cannot be written is not this task's failure
        except BaseException as exc:  # SystemExit, KeyboardInterrupt too: the agent's, not ours
            await _denials(emit, view, input)
            return failed(input, exc)
        finally:
            if watched is not None:
                watchdog.unwatch(watched)  # type: ignore[union-attr]
        await _denials(emit, view, input)
        return AttemptOutcome(
            output=outcome.output, writes=list(view.pending), final_agent=outcome.agent
        )

    def _toolbox(self, agent: Agent, input: AttemptInput, emit: EventSink) -> ToolBox:
        """A Python agent's tools, called through the interceptors as a model's calls are."""
        scope = AttemptScope(
            input=input, emit=emit, agents=self.agents, clock=self.clock, prices=self.prices
        )
        _, tools = self.interceptors.for_attempt(scope)
        return ToolBox(
            agent.tools,
            run_id=input.run_id,
            task_id=input.task.id,
            agent=agent.name,
            attempt=input.attempt,
            emit=emit,
            call_tool=chain(tools, "call", call_tool),
            max_result_chars=agent.max_tool_result_chars,
        )

    def _model_loop(
        self, agent: Agent, call: TaskCall, input: AttemptInput, emit: EventSink
    ) -> ModelAgentLoop:
        """The model-driven loop of one attempt, its calls through the interceptors."""
        guarded = _HandoffWatch(emit, HandoffGuard(input.limits.guards))
        scope = AttemptScope(
            input=input, emit=guarded, agents=self.agents, clock=self.clock, prices=self.prices
        )
        models, tools = self.interceptors.for_attempt(scope)
        return ModelAgentLoop(
            agent,
            call,
            guarded,
            agents=self.agents,
            prices=self.prices,
            call_model=chain(models, "request", call_model),
            call_tool=chain(tools, "call", call_tool),
            resolve=self.resolve,
        )


async def _denials(emit: EventSink, view: ContextView, input: AttemptInput) -> None:
    """Journal the blackboard accesses the attempt was refused (those its agent caught and
    went on from too)."""
    if view.denied:
        await journal_denials(
            emit, view.denied, task=input.task.id, agent=input.agent, attempt=input.attempt
        )


def _board(input: AttemptInput) -> Blackboard:
    """The blackboard of the entries the attempt may read (a view only reads its board: its
    writes stay in the view, so an attempt that reads nothing shares one empty board)."""
    if not input.context:
        return _EMPTY_BOARD
    board = Blackboard()
    for entries in input.context.values():
        for entry in entries:
            board.add(entry)
    return board


def failed(input: AttemptInput, exc: BaseException) -> AttemptOutcome:
    """The outcome of an attempt that raised `exc`."""
    task = input.task
    if isinstance(exc, ApprovalNeeded):
        return AttemptOutcome(approval=exc.request)
    if isinstance(exc, TimeoutError):
        message = f"task {task.id!r} took longer than {task.timeout_s}s"
        return AttemptOutcome(error=ErrorInfo(type="timeout", message=message, retryable=True))
    if isinstance(exc, LoopBlocked):
        message = (
            f"task {task.id!r} blocked the event loop past its deadline: its agent runs"
            " blocking code (time.sleep, a synchronous client, a busy loop) inside"
            " `async def`; make it a plain `def` (it then runs on a worker thread)"
        )
        return AttemptOutcome(error=ErrorInfo(type="loop_blocked", message=message))
    log.debug("task %s attempt %d failed", task.id, input.attempt, exc_info=exc)
    return AttemptOutcome(error=error_info(exc))


class _HandoffWatch:
    """The attempt's event sink, raising `LoopDetected` when the agents hand the task round in a
    cycle (or too often)."""

    __slots__ = ("emit", "guard")

    def __init__(self, emit: EventSink, guard: HandoffGuard) -> None:
        self.emit = emit
        self.guard = guard

    async def __call__(self, kind: Any, **fields: Any) -> None:
        await self.emit(kind, **fields)
        if kind is Handoff:
            if not self.guard.agents:
                self.guard.observe(str(fields.get("from_agent", "")))
            self.guard.observe(str(fields.get("to_agent", "")))


__all__ = ["AttemptWorker"]
