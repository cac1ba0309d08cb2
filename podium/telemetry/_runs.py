"""Run spans, opened and closed from the journal (Podium's `Tracing` is a listener for this).

One run span covers one *drive* of a run in one process: from the first event this process
journals for it (`RunSubmitted` for a new run) to the event that ends the drive — the run's end,
`RunWaiting` (it parks for an approval) or `RunInterrupted`. A run resumed later, here or in
another process, gets a new run span in the same trace (`podium.telemetry._ids`): a child of the
first run span, linked to it.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace import Link, SpanContext, SpanKind, Status, StatusCode, TraceFlags

from podium.events import (
    AnyEvent,
    ModelCalled,
    RunCancelled,
    RunFailed,
    RunFeedback,
    RunInterrupted,
    RunPartiallySucceeded,
    RunSubmitted,
    RunSucceeded,
    RunWaiting,
)
from podium.telemetry import _conventions as sc
from podium.telemetry._ids import force, run_span_id, run_trace_id, unforce

log = logging.getLogger(__name__)

_ENDS: dict[type[Any], str] = {
    RunSucceeded: "succeeded",
    RunPartiallySucceeded: "partially_succeeded",
    RunFailed: "failed",
    RunCancelled: "cancelled",
    RunWaiting: "waiting",
    RunInterrupted: "interrupted",
}
_IGNORED = (RunFeedback,)  # journaled about a run, not by driving it


def run_context(run_id: str) -> trace.NonRecordingSpan:
    """The run's first run span, as a parent (its ids are derived from the run id)."""
    ctx = SpanContext(
        run_trace_id(run_id),
        run_span_id(run_id),
        is_remote=False,
        trace_flags=TraceFlags(TraceFlags.SAMPLED),
    )
    return trace.NonRecordingSpan(ctx)


def _ns(ts: float) -> int:
    return int(ts * 1e9)


class Segment:
    """One run span and what it adds up while open."""

    __slots__ = ("context", "cost", "input_tokens", "named", "output_tokens", "span")

    def __init__(self, span: trace.Span, *, named: bool) -> None:
        self.span = span
        self.named = named
        self.context = trace.set_span_in_context(span)
        self.input_tokens = 0
        self.output_tokens = 0
        self.cost = 0.0

    def name_after(self, workflow: object) -> None:
        """Name the span after its workflow (a resumed drive learns it from the run's state)."""
        self.named = True
        if isinstance(workflow, str) and workflow:
            self.span.update_name(f"{sc.INVOKE_WORKFLOW} {workflow}")
            self.span.set_attribute(sc.WORKFLOW_NAME, workflow)

    def close(self, event: AnyEvent | None, status: str) -> None:
        span = self.span
        span.set_attribute(sc.STATUS, status)
        span.set_attribute(sc.INPUT_TOKENS, self.input_tokens)
        span.set_attribute(sc.OUTPUT_TOKENS, self.output_tokens)
        span.set_attribute(sc.COST, self.cost)
        if event is None:
            span.end()
            return
        span.set_attribute(sc.END_SEQ, event.seq)
        if isinstance(event, RunFailed):
            span.set_attribute(sc.ERROR_TYPE, event.reason)
            span.set_status(Status(StatusCode.ERROR, f"{event.reason}: {event.message}"[:1000]))
        elif isinstance(event, (RunSucceeded, RunPartiallySucceeded)):
            span.set_status(Status(StatusCode.OK))
        span.end(end_time=_ns(event.ts))


class RunSpans:
    """The open run spans of one `Tracing`, by run id (see the module docstring)."""

    def __init__(self, tracer: trace.Tracer, *, forced_ids: bool) -> None:
        self.tracer = tracer
        self.forced_ids = forced_ids
        self.open: dict[str, Segment] = {}
        self.names: dict[str, str] = {}
        """Workflow names by run (a resumed drive's journal does not repeat `RunSubmitted`)."""
        self.waiters: dict[str, asyncio.Future[None]] = {}
        self.listening = False
        self.idle = asyncio.Event()
        """Set while no run span is open."""
        self.idle.set()

    def on_event(self, event: AnyEvent) -> None:
        self.listening = True
        run_id = event.run_id
        segment = self.open.get(run_id)
        if segment is None:
            if isinstance(event, _IGNORED):
                return
            segment = self.open[run_id] = self._open(event)
            self.idle.clear()
            waiter = self.waiters.pop(run_id, None)
            if waiter is not None and not waiter.done():
                waiter.set_result(None)
        if isinstance(event, ModelCalled):
            segment.input_tokens += event.input_tokens
            segment.output_tokens += event.output_tokens
            segment.cost += event.cost_usd
        status = _ENDS.get(type(event))
        if status is not None:
            del self.open[run_id]
            segment.close(event, status)
            if not self.open:
                self.idle.set()

    def _open(self, event: AnyEvent) -> Segment:
        run_id = event.run_id
        first = isinstance(event, RunSubmitted)
        if isinstance(event, RunSubmitted):
            self.names[run_id] = str(event.workflow.get("name") or "goal")
        name = self.names.get(run_id, "")
        attributes: dict[str, Any] = {
            sc.OPERATION: sc.INVOKE_WORKFLOW,
            sc.RUN_ID: run_id,
            sc.SEQ: event.seq,
            sc.RESUMED: not first,
        }
        if name:
            attributes[sc.WORKFLOW_NAME] = name
        title = f"{sc.INVOKE_WORKFLOW} {name}" if name else sc.INVOKE_WORKFLOW
        start = _ns(event.ts)
        origin = run_context(run_id)
        if first and self.forced_ids:
            token = force(run_trace_id(run_id), run_span_id(run_id))
            try:  # a root span with the derived ids
                span = self.tracer.start_span(
                    title, Context(), SpanKind.INTERNAL, attributes, start_time=start
                )
            finally:
                unforce(token)
        else:  # a resumed drive, or a tracer whose ids cannot be chosen: under the first span
            links = (
                [] if first else [Link(origin.get_span_context(), {sc.LINK_RELATION: "resumes"})]
            )
            span = self.tracer.start_span(
                title,
                trace.set_span_in_context(origin),
                SpanKind.INTERNAL,
                attributes,
                links,
                start_time=start,
            )
        return Segment(span, named=bool(name))

    def end_all(self) -> None:
        """End the run spans still open (their drive stopped without an event saying so)."""
        for run_id in list(self.open):
            self.open.pop(run_id).close(None, "unfinished")
        self.idle.set()
        for waiter in self.waiters.values():
            if not waiter.done():
                waiter.set_result(None)
        self.waiters.clear()


__all__ = ["RunSpans", "Segment", "run_context"]
