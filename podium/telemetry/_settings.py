"""Switching tracing on from the command line and the environment.

``--trace otlp|console|off`` wins; then ``PODIUM_TRACE``; then ``OTEL_EXPORTER_OTLP_ENDPOINT``
(or ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``) being set means ``otlp``; else tracing is off, and
nothing of OpenTelemetry is imported. ``OTEL_SDK_DISABLED=true`` turns it off whatever is asked.
The OTLP exporter (HTTP/protobuf) reads the standard ``OTEL_EXPORTER_OTLP_*`` variables.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Literal, cast, get_args

from podium.exceptions import ConfigError

if TYPE_CHECKING:
    from podium.telemetry._tracing import Tracing

log = logging.getLogger(__name__)

TraceMode = Literal["otlp", "console", "off"]
MODES: tuple[str, ...] = get_args(TraceMode)
TIMEOUT_ENV = ("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "OTEL_EXPORTER_OTLP_TIMEOUT")
EXPORT_TIMEOUT_S = 3.0
ENDPOINT_ENV = ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT")


def trace_mode(choice: str | None = None, environ: Mapping[str, str] | None = None) -> TraceMode:
    """Which exporter tracing uses: `choice` (``--trace``), else the environment (see the
    module docstring).

    Raises:
        ConfigError: `choice` or ``PODIUM_TRACE`` is not one of ``otlp``, ``console``, ``off``.
    """
    env = os.environ if environ is None else environ
    if env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return "off"
    where = "--trace"
    if choice is None:
        choice, where = env.get("PODIUM_TRACE", "").strip().lower() or None, "PODIUM_TRACE"
    if choice is None:
        return "otlp" if any(env.get(name, "").strip() for name in ENDPOINT_ENV) else "off"
    if choice not in MODES:
        raise ConfigError(f"{where}={choice!r}: give one of {', '.join(MODES)}")
    return cast(TraceMode, choice)


def tracing_for(
    choice: str | None = None, *, capture_content: bool | None = None
) -> Tracing | None:
    """A `Tracing` with its own tracer provider for the mode `trace_mode` picks, or ``None``
    when tracing is off. Its `Tracing.aclose` exports what is left and shuts the provider down.

    Raises:
        ConfigError: an unknown mode, or OpenTelemetry is not installed.
    """
    mode = trace_mode(choice)
    if mode == "off":
        return None
    try:
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor

        from podium.telemetry._tracing import Tracing

        exporter = _exporter(mode)
    except ImportError as exc:
        raise ConfigError(
            f"tracing ({mode}) needs OpenTelemetry, which is not installed ({exc.name}):"
            " pip install 'podium[otel]'"
        ) from None
    attributes = {} if os.environ.get("OTEL_SERVICE_NAME") else {"service.name": "podium"}
    provider = TracerProvider(resource=Resource.create(attributes))
    provider.add_span_processor(BatchSpanProcessor(exporter))
    log.debug("tracing on: %s", mode)
    return Tracing(
        tracer_provider=provider, capture_content=capture_content, shutdown_provider=True
    )


def _exporter(mode: TraceMode) -> Any:
    if mode == "console":
        from opentelemetry.sdk.trace.export import ConsoleSpanExporter

        return ConsoleSpanExporter(out=sys.stderr)  # stdout is the run's live view
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    if any(os.environ.get(name) for name in TIMEOUT_ENV):
        return OTLPSpanExporter()
    # the SDK's default (10 s of retries per batch) would hold a CLI whose collector is down
    return OTLPSpanExporter(timeout=EXPORT_TIMEOUT_S)


__all__ = ["MODES", "TraceMode", "trace_mode", "tracing_for"]
