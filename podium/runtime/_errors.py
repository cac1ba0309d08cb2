"""Turning what an attempt raised into a typed, journaled error, and refusing what cannot be
journaled."""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import traceback
from collections.abc import Sequence
from typing import Any

from podium.context import PendingWrite
from podium.events import ErrorInfo, unencodable
from podium.exceptions import ConfigError, PodiumError, TaskError
from podium.models._errors import ProviderError

JSON = Any


def check_recordable(output: JSON, writes: Sequence[PendingWrite]) -> None:
    """Refuse an output or context write that the journal could not record exactly as it is
    (a NaN, an unpaired surrogate, …; see `podium.events.unencodable`)."""
    kind = type(output)
    if not writes and (kind is int or kind is bool or output is None):
        return  # nothing that could be wrong (the common case, checked without a walk)
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


def first_error(group: BaseExceptionGroup[BaseException]) -> BaseException:
    """The exception a failed task group stands for: an interrupt or exit first, then a
    Podium error, then whatever came first (never a bare cancellation if there is more)."""
    leaves: list[BaseException] = []
    stack: list[BaseException] = [group]
    while stack:
        exc = stack.pop()
        if isinstance(exc, BaseExceptionGroup):
            stack.extend(reversed(exc.exceptions))
        else:
            leaves.append(exc)
    for kinds in ((KeyboardInterrupt, SystemExit), (PodiumError,), (Exception,)):
        for exc in leaves:
            if isinstance(exc, kinds):
                return exc
    return leaves[0]


__all__ = [
    "TRACEBACK_CHARS",
    "check_recordable",
    "error_info",
    "first_error",
    "user_traceback",
]
