"""One open session to an MCP server, owned by a task of its own.

The SDK's `Client` is an async context manager whose cancel scopes must be left by the task that
entered them, while Podium calls tools from many tasks (parallel attempts, several runs). So a
`Link` enters the client in a task it owns, publishes the open client, and leaves it when told to
close, when it has been idle for `idle_s`, or when its event loop shuts down (``asyncio.run``
cancels the task, which closes the session and ends a stdio server's process). Requests from
other tasks of the same loop go through the open client.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mcp import Client

log = logging.getLogger(__name__)

CLOSE_TIMEOUT_S = 10.0
ClientFactory = Callable[[], AbstractAsyncContextManager["Client"]]


class Link:
    """A session opened on `start`, closed on `close` or after `idle_s` without calls.

    Args:
        name: the server's name (for logs).
        connect: makes the (not yet entered) client context.
        idle_s: close the session after this long without a call in flight.
    """

    def __init__(self, name: str, connect: ClientFactory, *, idle_s: float) -> None:
        self.name = name
        self._connect = connect
        self._idle_s = idle_s
        self.client: Client | None = None
        self._ready = asyncio.Event()
        self._closing = asyncio.Event()
        self._error: BaseException | None = None
        self._task: asyncio.Task[None] | None = None
        self.in_flight = 0
        self._used = asyncio.get_running_loop().time()

    @property
    def dead(self) -> bool:
        """Closed, closing, or failed to open (a link still opening is not dead)."""
        return self._closing.is_set() or (self._ready.is_set() and self.client is None)

    async def ready(self) -> None:
        """Wait until the session is open or failed to open."""
        await self._ready.wait()

    async def start(self, timeout_s: float) -> Client:
        """Open the session (within `timeout_s`); raise what opening it raised."""
        # The task is kept on the link and ended by `close` (or by the loop's shutdown).
        self._task = asyncio.get_running_loop().create_task(self._own(), name=f"mcp:{self.name}")
        try:
            async with asyncio.timeout(timeout_s):
                await self._ready.wait()
        except TimeoutError:
            await self.close()
            raise
        if self.client is None:
            await self.close()
            raise self._error or RuntimeError("the session closed while opening")
        return self.client

    async def _own(self) -> None:
        try:
            async with self._connect() as client:
                self.client = client
                self._ready.set()
                await self._wait_until_done()
        except Exception as exc:  # reported to `start`, or logged for an open session
            if not self._ready.is_set():
                self._error = exc
            else:
                log.warning("MCP server %r: session ended: %s", self.name, describe(exc))
        finally:
            self.client = None
            self._ready.set()

    async def _wait_until_done(self) -> None:
        loop = asyncio.get_running_loop()
        while not self._closing.is_set():
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._idle_s):
                    await self._closing.wait()
            if self.in_flight == 0 and loop.time() - self._used >= self._idle_s:
                log.debug("MCP server %r: closing an idle session", self.name)
                return

    def touch(self) -> None:
        """A call starts or ends: the idle clock starts again."""
        self._used = asyncio.get_running_loop().time()

    async def close(self) -> None:
        """Close the session and wait for it to be closed."""
        self._closing.set()
        task, self._task = self._task, None
        if task is None or task is asyncio.current_task():
            return
        _, pending = await asyncio.wait({task}, timeout=CLOSE_TIMEOUT_S)
        if pending:  # a transport that does not let go: stop waiting for it
            task.cancel()
            await asyncio.wait({task})


def describe(exc: BaseException) -> str:
    """An exception as a short message (its type when it has no text)."""
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


__all__ = ["ClientFactory", "Link", "describe"]
