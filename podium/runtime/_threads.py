"""The threads synchronous agents and tools run on.

Like `concurrent.futures.ThreadPoolExecutor`, at most `max_workers` calls run at once and idle
threads are reused. Unlike it, a synchronous call that never returns cannot hold the run, the
pool or the process hostage:

- a call whose caller stopped waiting for it (a task timeout, a run cancelled or timed out)
  gives its slot back at once: its thread is left to finish on its own, outside the count, and
  another thread takes the queue over — so hung agents cannot starve the others;
- the threads are daemons and are not joined when the interpreter exits, so once the run has
  ended, a thread stuck in ``time.sleep(10**9)`` does not keep ``podium run`` from exiting.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Executor, Future
from typing import Any, TypeVar

from podium.exceptions import TaskError

log = logging.getLogger(__name__)

T = TypeVar("T")

_Item = tuple["_Call[Any]", Callable[..., Any], tuple[Any, ...], dict[str, Any]]


class _Call(Future[T]):
    """A submitted call; cancelling it while it runs abandons its thread (see the module)."""

    def __init__(self, pool: AgentThreads) -> None:
        super().__init__()
        self._pool = pool
        self.abandoned = False

    def cancel(self) -> bool:
        if self.running():
            self._pool._abandon(self)
        return super().cancel()


class AgentThreads(Executor):
    """A bounded pool of daemon threads whose stuck calls can be abandoned.

    Args:
        max_workers: calls that run at once (abandoned ones not counted).
        name: the prefix of the threads' names.
    """

    def __init__(self, max_workers: int, *, name: str = "podium") -> None:
        if max_workers < 1:
            raise ValueError("max_workers must be at least 1")
        self.max_workers = max_workers
        self.name = name
        self._queue: queue.SimpleQueue[_Item | None] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._threads = 0  # counted threads: working or idle
        self._idle = 0
        self._unclaimed = 0  # calls queued that no thread has taken yet
        self._shutdown = False
        self._serial = 0
        self.abandoned = 0
        """Calls given up on while they ran (their threads finish on their own)."""

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> Future[T]:
        future: _Call[T] = _Call(self)
        with self._lock:
            if self._shutdown:
                raise RuntimeError("cannot submit to a pool that was shut down")
            self._queue.put((future, fn, args, kwargs))
            self._unclaimed += 1
            # an idle thread takes one call: more calls than idle threads need another thread
            # (comparing with the idle count alone misses a thread about to take an earlier call)
            if self._unclaimed > self._idle and self._threads < self.max_workers:
                self._spawn()
        return future

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Stop the threads once they are idle; with `cancel_futures`, drop queued calls.

        `wait` is ignored: a stuck call is never waited for.
        """
        with self._lock:
            if self._shutdown:
                return
            self._shutdown = True
            threads = self._threads
        if cancel_futures:
            while True:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is not None:
                    item[0].cancel()
        for _ in range(threads):
            self._queue.put(None)

    def _spawn(self) -> None:
        """Start one more counted thread (the lock is held)."""
        self._threads += 1
        self._serial += 1
        thread = threading.Thread(
            target=self._work, name=f"{self.name}-{self._serial}", daemon=True
        )
        thread.start()

    def _abandon(self, call: _Call[Any]) -> None:
        """The caller of a running call stopped waiting: free its slot."""
        with self._lock:
            if call.abandoned or call.done():
                return
            call.abandoned = True
            self.abandoned += 1
            self._threads -= 1
            if not self._shutdown and self._unclaimed > self._idle:
                self._spawn()
        log.warning("a synchronous call was abandoned while it ran; its thread is left to finish")

    def _work(self) -> None:
        while True:
            with self._lock:
                self._idle += 1
            item = self._queue.get()
            with self._lock:
                self._idle -= 1
                if item is None:
                    self._threads -= 1
                    return
                self._unclaimed -= 1
            call, fn, args, kwargs = item
            if not call.set_running_or_notify_cancel():
                continue
            try:
                result = fn(*args, **kwargs)
            except GeneratorExit:
                # thrown into an awaiting coroutine, it would close it instead of reaching it
                call.set_exception(
                    TaskError("the call raised GeneratorExit", kind="agent_exit", retryable=False)
                )
            except BaseException as exc:  # the caller decides what an exception means
                call.set_exception(exc)
            else:
                call.set_result(result)
            if call.abandoned:  # its slot went to another thread meanwhile
                return


__all__ = ["AgentThreads"]
