"""Spans without secrets: a tracer whose spans redact what is set on them.

Every attribute, event, status message, exception text and span name passes through
`podium.secrets.redact` before it reaches the SDK, so no exporter ever receives a registered
secret value, whatever code sets it (content capture of prompts, tool arguments and results,
error messages).
"""

from __future__ import annotations

import traceback
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace import Link, SpanKind, Status
from opentelemetry.util import types

from podium.secrets import redact, redact_text


def _attributes(attributes: types.Attributes) -> types.Attributes:
    return None if attributes is None else redact(dict(attributes))


class RedactingSpan(trace.Span):
    """Wraps an SDK span: what is set on it is redacted first."""

    def __init__(self, inner: trace.Span) -> None:
        self.inner = inner

    def end(self, end_time: int | None = None) -> None:
        self.inner.end(end_time)

    def get_span_context(self) -> trace.SpanContext:
        return self.inner.get_span_context()

    def set_attributes(self, attributes: Mapping[str, types.AttributeValue]) -> None:
        self.inner.set_attributes(redact(dict(attributes)))

    def set_attribute(self, key: str, value: types.AttributeValue) -> None:
        self.inner.set_attribute(key, redact(value))

    def add_event(
        self, name: str, attributes: types.Attributes = None, timestamp: int | None = None
    ) -> None:
        self.inner.add_event(redact_text(name), _attributes(attributes), timestamp)

    def add_link(self, context: trace.SpanContext, attributes: types.Attributes = None) -> None:
        self.inner.add_link(context, _attributes(attributes))

    def update_name(self, name: str) -> None:
        self.inner.update_name(redact_text(name))

    def is_recording(self) -> bool:
        return self.inner.is_recording()

    def set_status(self, status: Status | trace.StatusCode, description: str | None = None) -> None:
        if isinstance(status, Status) and status.description:
            status = Status(status.status_code, redact_text(status.description))
        self.inner.set_status(status, None if description is None else redact_text(description))

    def record_exception(
        self,
        exception: BaseException,
        attributes: types.Attributes = None,
        timestamp: int | None = None,
        escaped: bool = False,
    ) -> None:
        # the SDK would put str(exception) and the traceback in verbatim: give them redacted
        texts = {
            "exception.message": redact_text(str(exception)),
            "exception.stacktrace": redact_text(
                "".join(traceback.format_exception(type(exception), exception, None))
            ),
        }
        texts.update(_attributes(attributes) or {})  # type: ignore[arg-type]
        self.inner.record_exception(exception, texts, timestamp, escaped)


class RedactingTracer(trace.Tracer):
    """Wraps a tracer: its spans are `RedactingSpan`s."""

    def __init__(self, inner: trace.Tracer) -> None:
        self.inner = inner

    def start_span(  # noqa: PLR0917 (the signature of OpenTelemetry's Tracer)
        self,
        name: str,
        context: Context | None = None,
        kind: SpanKind = SpanKind.INTERNAL,
        attributes: types.Attributes = None,
        links: Sequence[Link] | None = None,
        start_time: int | None = None,
        record_exception: bool = True,
        set_status_on_exception: bool = True,
    ) -> trace.Span:
        span = self.inner.start_span(
            redact_text(name),
            context,
            kind,
            _attributes(attributes),
            links,
            start_time,
            record_exception,
            set_status_on_exception,
        )
        return RedactingSpan(span)

    @contextmanager
    def start_as_current_span(  # type: ignore[override]  # noqa: PLR0917
        self,
        name: str,
        context: Context | None = None,
        kind: SpanKind = SpanKind.INTERNAL,
        attributes: types.Attributes = None,
        links: Sequence[Link] | None = None,
        start_time: int | None = None,
        record_exception: bool = True,
        set_status_on_exception: bool = True,
        end_on_exit: bool = True,
    ) -> Iterator[trace.Span]:
        span = self.start_span(name, context, kind, attributes, links, start_time, False, False)
        with trace.use_span(
            span,
            end_on_exit=end_on_exit,
            record_exception=record_exception,
            set_status_on_exception=set_status_on_exception,
        ) as current:
            yield current


__all__ = ["RedactingSpan", "RedactingTracer"]
