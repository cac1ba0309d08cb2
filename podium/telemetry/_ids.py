"""Trace ids from run ids, so that every process that drives a run writes to the same trace.

A run's trace id and the span id of its first run span are derived from the run id (SHA-256),
not journaled: a `podium resume` in another process, on another machine, computes the same ones
and continues the trace — its run span a new span, a child of the first one and linked to it.
"""

from __future__ import annotations

import contextvars
import hashlib
from typing import Any

_forced: contextvars.ContextVar[tuple[int, int] | None] = contextvars.ContextVar(
    "podium_trace_ids", default=None
)


def _derive(label: bytes, run_id: str, size: int) -> int:
    digest = hashlib.sha256(label + run_id.encode("utf-8", "surrogatepass")).digest()
    return int.from_bytes(digest[:size], "big") or 1  # all zeros is the invalid id


def run_trace_id(run_id: str) -> int:
    """The trace id of every span of run `run_id` (128 bits)."""
    return _derive(b"podium-trace:", run_id, 16)


def run_span_id(run_id: str) -> int:
    """The span id of the run's first run span (64 bits)."""
    return _derive(b"podium-run:", run_id, 8)


class RunIds:
    """An OpenTelemetry SDK id generator that hands out the derived ids while `forced` is set,
    and the wrapped generator's otherwise (see `force`)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def generate_trace_id(self) -> int:
        forced = _forced.get()
        return forced[0] if forced is not None else int(self.inner.generate_trace_id())

    def generate_span_id(self) -> int:
        forced = _forced.get()
        return forced[1] if forced is not None else int(self.inner.generate_span_id())

    def is_trace_id_random(self) -> bool:
        if _forced.get() is not None:
            return False
        probe = getattr(self.inner, "is_trace_id_random", None)
        return bool(probe()) if callable(probe) else False


def adopt(tracer: Any) -> bool:
    """Let `tracer` (an SDK tracer) start spans with forced ids; ``False`` for a tracer that
    has no id generator to wrap (another SDK, a no-op tracer)."""
    inner = getattr(tracer, "id_generator", None)
    if inner is None:
        return False
    if not isinstance(inner, RunIds):
        tracer.id_generator = RunIds(inner)
    return True


def force(trace_id: int, span_id: int) -> contextvars.Token[tuple[int, int] | None]:
    """Make the next span started in this context get these ids (reset the token after)."""
    return _forced.set((trace_id, span_id))


def unforce(token: contextvars.Token[tuple[int, int] | None]) -> None:
    _forced.reset(token)


__all__ = ["RunIds", "adopt", "force", "run_span_id", "run_trace_id", "unforce"]
