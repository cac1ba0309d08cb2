"""Traces of runs as OpenTelemetry spans, following the GenAI semantic conventions.

Off by default, and then free: importing this package imports nothing of OpenTelemetry;
`Tracing` (which needs ``pip install 'podium[otel]'``) is imported when first used. See
``docs/tracing.md`` for the spans, their attributes and how to switch tracing on.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from podium.telemetry._settings import MODES, TraceMode, trace_mode, tracing_for

if TYPE_CHECKING:
    from podium.telemetry._tracing import Tracing


def __getattr__(name: str) -> Any:
    if name == "Tracing":  # imports OpenTelemetry: only on use
        from podium.telemetry._tracing import Tracing

        return Tracing
    raise AttributeError(f"module 'podium.telemetry' has no attribute {name!r}")


__all__ = ["MODES", "TraceMode", "Tracing", "trace_mode", "tracing_for"]
