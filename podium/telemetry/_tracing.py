"""`Tracing`: a run, its attempts, model calls and tool calls as OpenTelemetry spans.

Attempt, model-call and tool-call spans come from interceptors, so each span is the current
span while its call runs (an instrumented HTTP client's spans nest under ``chat``); run spans
come from the journal (`podium.telemetry._runs`). Nothing here changes what a run does: a span
that cannot be made is the tracer's business, never the run's.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import msgspec
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace import SpanKind, Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from podium.events import AnyEvent
from podium.models._base import ModelResponse
from podium.models._calls import CallModel, ModelCallInput
from podium.models._prices import PriceTable
from podium.policy import ApprovalNeeded
from podium.runtime import AttemptCall, AttemptOutcome, AttemptScope, ExecuteAttempt
from podium.telemetry import _content
from podium.telemetry import _conventions as sc
from podium.telemetry._ids import adopt
from podium.telemetry._redact import RedactingTracer
from podium.telemetry._runs import RunSpans, run_context
from podium.tools._calls import CallTool, ToolCallInput, ToolCallResult

log = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")
WAIT_S = 1.0
"""How long a run's first attempt waits for the listener to open the run's span."""
FLUSH_MS = 3_000
"""How long `Tracing.aclose` waits for the exporter (it then gives up on what is left)."""
CONTENT_ENV = ("PODIUM_TRACE_CONTENT", "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT")
_TRUE = {"1", "true", "yes", "on"}
_PROPAGATOR = TraceContextTextMapPropagator()


class _Spent:
    """The tokens and dollars of one attempt's model calls (added up by its ``chat`` spans)."""

    __slots__ = ("calls", "cost", "input_tokens", "output_tokens")

    def __init__(self) -> None:
        self.calls = 0
        self.input_tokens = 0
        self.output_tokens = 0
        self.cost = 0.0


_SPENT = otel_context.create_key("podium-attempt-spent")


def content_from_env() -> bool:
    """Whether the environment asks for message content: ``PODIUM_TRACE_CONTENT=1``, or
    ``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=true`` (the GenAI instrumentations')."""
    return any(os.environ.get(name, "").strip().lower() in _TRUE for name in CONTENT_ENV)


class Tracing:
    """Traces runs as OpenTelemetry spans that follow the GenAI semantic conventions.

    Give it to an orchestrator both as an interceptor (attempt, model-call and tool-call spans)
    and as a listener (run spans, read from the journal), and close it before the orchestrator
    so the last run spans are ended and exported:

    ```python
    tracing = Tracing(tracer_provider=provider)
    async with Orchestrator(interceptors=[tracing], listeners=[tracing]) as orch:
        await orch.run(workflow)
        await tracing.aclose()
    ```

    Args:
        tracer_provider: where spans go (default: OpenTelemetry's global provider).
        capture_content: record prompts, responses, instructions, outputs and tool arguments
            and results (default: ``PODIUM_TRACE_CONTENT=1`` or
            ``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=true``; off otherwise).
        shutdown_provider: `aclose` also shuts the provider down (for one made just for this).
    """

    def __init__(
        self,
        *,
        tracer_provider: trace.TracerProvider | None = None,
        capture_content: bool | None = None,
        shutdown_provider: bool = False,
    ) -> None:
        self.provider = tracer_provider or trace.get_tracer_provider()
        self.capture_content = content_from_env() if capture_content is None else capture_content
        self.shutdown_provider = shutdown_provider
        sdk_tracer = self.provider.get_tracer("podium", schema_url=None)
        forced_ids = adopt(sdk_tracer)
        self.tracer: trace.Tracer = RedactingTracer(sdk_tracer)  # no secret reaches a span
        self.runs = RunSpans(self.tracer, forced_ids=forced_ids)
        self._unheard = False  # no event ever came: not a listener, so never wait for one

    def __reduce__(self) -> tuple[Callable[..., Tracing], tuple[Any, ...]]:
        """Sent to another process (a Ray worker): spans there go to that process's global
        provider, under the attempt's span (its ``traceparent`` in `AttemptInput.trace`)."""
        return (_remote, (self.capture_content,))

    # -- the listener -------------------------------------------------------------------------

    def on_event(self, event: AnyEvent) -> None:
        """Open, add up and close run spans from the journal."""
        self.runs.on_event(event)

    async def aclose(self) -> None:
        """End the run spans still open (after giving the listener a moment to see the events
        that end them) and export what is buffered."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.runs.idle.wait(), WAIT_S)
        self.runs.end_all()
        flush = getattr(self.provider, "force_flush", None)
        if callable(flush):  # bounded: a collector that is down must not hold the process
            await asyncio.to_thread(flush, FLUSH_MS)
        stop = getattr(self.provider, "shutdown", None)
        if self.shutdown_provider and callable(stop):
            await asyncio.to_thread(stop)

    # -- attempts -----------------------------------------------------------------------------

    async def _run_parent(self, run_id: str) -> None:
        """Wait (once per drive, briefly) for the listener to open the run's span."""
        runs = self.runs
        if not self._unheard:
            waiter = runs.waiters.get(run_id)
            if waiter is None:
                waiter = runs.waiters[run_id] = asyncio.get_running_loop().create_future()
            try:
                await asyncio.wait_for(asyncio.shield(waiter), WAIT_S)
            except TimeoutError:
                runs.waiters.pop(run_id, None)
                if not runs.listening:
                    self._unheard = True
                    log.warning(
                        "Tracing got no events: give it to the orchestrator as a listener too"
                        " (Orchestrator(interceptors=[tracing], listeners=[tracing]))"
                    )

    async def execute(self, call: AttemptCall, next: ExecuteAttempt) -> AttemptOutcome:
        """An ``invoke_agent`` span around the attempt, under its run span."""
        i = call.input
        segment = self.runs.open.get(i.run_id)
        if segment is None:
            await self._run_parent(i.run_id)
            segment = self.runs.open.get(i.run_id)
        if segment is not None and not segment.named:
            segment.name_after(call.state.workflow.get("name"))
        parent = segment.context if segment is not None else _first_run(i.run_id)
        attributes: dict[str, Any] = {
            sc.OPERATION: sc.INVOKE_AGENT,
            sc.AGENT_NAME: i.agent,
            sc.RUN_ID: i.run_id,
            sc.TASK: i.task.id,
            sc.ATTEMPT: i.attempt,
            sc.SEQ: call.state.seq,
        }
        if self.capture_content and i.instruction:
            attributes[sc.INPUT_MESSAGES] = _content.text_message("user", i.instruction)
        span = self.tracer.start_span(
            f"{sc.INVOKE_AGENT} {i.agent}", parent, SpanKind.INTERNAL, attributes
        )
        spent = _Spent()
        current = otel_context.set_value(_SPENT, spent, trace.set_span_in_context(span, parent))
        ids = span.get_span_context()
        trace_context = {  # for an executor whose attempts run in another process
            **i.trace,
            "traceparent": f"00-{ids.trace_id:032x}-{ids.span_id:016x}-{ids.trace_flags:02x}",
        }
        call = AttemptCall(msgspec.structs.replace(i, trace=trace_context), call.state, call.emit)
        outcome = await _around(span, current, next, call)
        _attempt_ended(span, outcome, spent, self.capture_content)
        return outcome

    # -- model and tool calls -----------------------------------------------------------------

    def for_attempt(self, scope: AttemptScope) -> Calls:
        """The model- and tool-call spans of one attempt (which knows the prices and, where the
        attempt runs in another process, its span's context)."""
        return Calls(self, scope.prices, _parent_of(scope.input.trace))

    async def request(self, input: ModelCallInput, next: CallModel) -> ModelResponse:
        """A ``chat`` span around a model call (outside an attempt)."""
        return await Calls(self, None, None).request(input, next)

    async def call(self, input: ToolCallInput, next: CallTool) -> ToolCallResult:
        """An ``execute_tool`` span around a tool call (outside an attempt)."""
        return await Calls(self, None, None).call(input, next)


class Calls:
    """The model and tool calls of one attempt, as ``chat`` and ``execute_tool`` spans."""

    __slots__ = ("content", "parent", "prices", "tracer")

    def __init__(self, tracing: Tracing, prices: PriceTable | None, parent: Context | None):
        self.tracer = tracing.tracer
        self.content = tracing.capture_content
        self.prices = prices
        self.parent = parent

    def _start(self, name: str, kind: SpanKind, attributes: dict[str, Any]) -> tuple[Any, Context]:
        parent = None
        if self.parent is not None and not trace.get_current_span().get_span_context().is_valid:
            parent = self.parent  # in another process: under the attempt's span
        span = self.tracer.start_span(name, parent, kind, attributes)
        return span, trace.set_span_in_context(span, parent)

    async def request(self, input: ModelCallInput, next: CallModel) -> ModelResponse:
        name = input.model.name
        wire, attributes = _chat_attributes(input, self.content)
        span, current = self._start(f"{sc.CHAT} {wire}", SpanKind.CLIENT, attributes)
        response = await _around(span, current, next, input)
        usage = response.usage
        span.set_attribute(sc.INPUT_TOKENS, usage.input_tokens)
        span.set_attribute(sc.OUTPUT_TOKENS, usage.output_tokens)
        span.set_attribute(sc.FINISH_REASONS, (response.finish_reason,))
        if response.model:
            span.set_attribute(sc.RESPONSE_MODEL, response.model)
        cost = 0.0 if self.prices is None else self.prices.cost_usd(name, usage)
        span.set_attribute(sc.COST, cost)
        spent = otel_context.get_value(_SPENT)
        if isinstance(spent, _Spent):
            spent.calls += 1
            spent.input_tokens += usage.input_tokens
            spent.output_tokens += usage.output_tokens
            spent.cost += cost
        if self.content:
            span.set_attribute(sc.OUTPUT_MESSAGES, _content.output_messages(response))
        span.end()
        return response

    async def call(self, input: ToolCallInput, next: CallTool) -> ToolCallResult:
        tool, ctx = input.tool, input.context
        attributes: dict[str, Any] = {
            sc.OPERATION: sc.EXECUTE_TOOL,
            sc.TOOL_NAME: tool.name,
            sc.TOOL_TYPE: "function",
            sc.TOOL_CALL_ID: ctx.call_id,
            sc.EFFECT: tool.effect,
            sc.AGENT_NAME: ctx.agent,
            sc.RUN_ID: ctx.run_id,
            sc.TASK: ctx.task_id,
            sc.ATTEMPT: input.attempt,
        }
        if self.content:
            attributes[sc.TOOL_ARGUMENTS] = _content.dump(dict(input.arguments))
        span, current = self._start(f"{sc.EXECUTE_TOOL} {tool.name}", SpanKind.INTERNAL, attributes)
        result = await _around(span, current, next, input)
        span.set_attribute(sc.REPLAYED, result.replayed)
        if self.content:
            span.set_attribute(sc.TOOL_RESULT, _content.dump(result.result))
        span.end()
        return result


def _chat_attributes(input: ModelCallInput, content: bool) -> tuple[str, dict[str, Any]]:
    """The model's name as its provider knows it, and a ``chat`` span's first attributes."""
    provider, name = input.model.provider, input.model.name
    wire = name[len(provider) + 1 :] if name.startswith(f"{provider}:") else name
    request = input.request
    attributes: dict[str, Any] = {
        sc.OPERATION: sc.CHAT,
        sc.PROVIDER: provider,
        sc.REQUEST_MODEL: wire,
        sc.AGENT_NAME: input.agent,
        sc.RUN_ID: input.run_id,
        sc.TASK: input.task_id,
        sc.ATTEMPT: input.attempt,
    }
    if request.max_tokens is not None:
        attributes[sc.REQUEST_MAX_TOKENS] = request.max_tokens
    if request.temperature is not None:
        attributes[sc.REQUEST_TEMPERATURE] = request.temperature
    if content:
        messages, system = _content.input_messages(request.messages)
        attributes[sc.INPUT_MESSAGES] = messages
        if system is not None:
            attributes[sc.SYSTEM_INSTRUCTIONS] = system
    return wire, attributes


async def _around(span: Any, current: Context, step: Callable[[T], Awaitable[R]], arg: T) -> R:
    """`step(arg)` with `span` current; a span whose step raises is ended here."""
    token = otel_context.attach(current)
    try:
        return await step(arg)
    except BaseException as exc:
        _raised(span, exc)
        raise
    finally:
        if otel_context.get_current() is current:  # else: closed from another context
            otel_context.detach(token)


def _raised(span: Any, exc: BaseException) -> None:
    if isinstance(exc, ApprovalNeeded):  # a control signal: the call waits for a person
        span.set_attribute(sc.APPROVAL, "requested")
    elif isinstance(exc, (asyncio.CancelledError, GeneratorExit)):
        span.set_attribute(sc.CANCELLED, True)
    else:
        kind = type(exc)
        span.set_attribute(sc.ERROR_TYPE, f"{kind.__module__}.{kind.__qualname__}")
        span.record_exception(exc)
        span.set_status(Status(StatusCode.ERROR, f"{kind.__name__}: {exc}"[:1000]))
    span.end()


def _attempt_ended(span: Any, outcome: AttemptOutcome, spent: _Spent, content: bool) -> None:
    if spent.calls:  # an agent that called no model (a Python one) has no usage to tell
        span.set_attributes(
            {
                sc.INPUT_TOKENS: spent.input_tokens,
                sc.OUTPUT_TOKENS: spent.output_tokens,
                sc.COST: spent.cost,
            }
        )
    error = outcome.error
    if error is not None:
        span.set_attribute(sc.ERROR_TYPE, error.type)
        span.set_status(Status(StatusCode.ERROR, error.message[:1000]))
    elif outcome.approval is not None:
        span.set_attribute(sc.APPROVAL, outcome.approval.action)
    elif content:
        span.set_attribute(sc.OUTPUT_MESSAGES, _content.text_message("assistant", outcome.output))
    if outcome.final_agent is not None:
        span.set_attribute(sc.AGENT_NAME, outcome.final_agent)
    span.end()


def _first_run(run_id: str) -> Context:
    """The context of the run's first run span (derived from the run id): the parent of
    attempts when no run span is open here."""
    return trace.set_span_in_context(run_context(run_id))


def _parent_of(carrier: dict[str, str]) -> Context | None:
    if "traceparent" not in carrier:
        return None
    return _PROPAGATOR.extract(carrier)


def _remote(capture_content: bool) -> Tracing:
    return Tracing(capture_content=capture_content)


__all__ = ["CONTENT_ENV", "Calls", "Tracing", "content_from_env"]
