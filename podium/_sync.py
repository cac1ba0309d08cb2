"""Where synchronous code called from a run (tools, test fakes) runs: the run's threads.

The orchestrator sets `SYNC_EXECUTOR` to its pool of agent threads while it drives a run (see
`podium.runtime._threads`), so a synchronous tool that hangs can be abandoned like a
synchronous agent, and never keeps the process from exiting. Outside a run, calls go to the
event loop's default executor.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from concurrent.futures import Executor
from contextvars import ContextVar
from typing import Any, TypeVar

T = TypeVar("T")

SYNC_EXECUTOR: ContextVar[Executor | None] = ContextVar("podium_sync_executor", default=None)


async def run_sync(function: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
    """Call a synchronous function on the run's threads and wait for it (cancellable)."""
    loop = asyncio.get_running_loop()
    call = functools.partial(function, *args, **kwargs)
    return await loop.run_in_executor(SYNC_EXECUTOR.get(), call)


__all__ = ["SYNC_EXECUTOR", "run_sync"]
