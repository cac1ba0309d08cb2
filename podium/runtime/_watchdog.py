"""A watchdog for the event loop: an async agent that blocks it is reported, and stopped once
one of its deadlines has passed.

Timeouts in asyncio are timers of the loop, so an ``async def`` agent that calls blocking code
(``time.sleep``, a synchronous HTTP client, a tight loop) stops every timer along with the loop:
its task timeout and the run's timeout never fire, and the command hangs. A daemon thread
watches the loop's heartbeat instead. When the loop has not turned for `warn_s`, it logs which
task holds it and where (file and line). When the task holding it is an attempt whose deadline
(its task's ``timeout_s``, or the end of the run's ``timeout_s``) has passed, it raises
`LoopBlocked` inside that task — the attempt fails with ``loop_blocked``, and the run goes on
and ends as its timeouts say. A blocking system call is interrupted with a signal so the
exception is raised at once.
"""

from __future__ import annotations

import asyncio
import ctypes
import logging
import signal
import sys
import threading
import time
import traceback

log = logging.getLogger(__name__)

_KICK = signal.SIGURG
"""Interrupts a blocking system call in the loop's thread (its default action is to ignore)."""


class LoopBlocked(BaseException):
    """Raised by the watchdog inside an attempt that blocks the event loop past its deadline.

    A `BaseException`, so an agent's ``except Exception`` cannot swallow it.
    """


class Watchdog:
    """Watches one event loop from a daemon thread (see the module docstring).

    Args:
        warn_s: how long the loop may stand still before it is reported.
        check_s: how often the thread looks.
    """

    def __init__(self, *, warn_s: float = 2.0, check_s: float = 0.2) -> None:
        self.warn_s = warn_s
        self.check_s = check_s
        self.stopped_attempts = 0
        """Attempts stopped for blocking the loop past their deadline."""
        self._deadlines: dict[asyncio.Task[object], tuple[float, str]] = {}
        self.run_deadlines: dict[str, float] = {}
        self._beat = time.monotonic()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread = 0
        self._timer: asyncio.TimerHandle | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._kick = False

    def start(self) -> None:
        """Start watching the running loop (from its thread)."""
        if self._thread is not None:
            return
        self._loop = asyncio.get_running_loop()
        self._loop_thread = threading.get_ident()
        self._kick = _install_kick()
        self._stop.clear()
        self._heartbeat()
        self._thread = threading.Thread(target=self._watch, name="podium-watchdog", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._thread = None

    def run_deadline(self, run_id: str, seconds: float | None) -> None:
        """The run's attempts may not block the loop past `seconds` from now (its timeout);
        until `run_ended`."""
        if seconds is not None:
            self.run_deadlines[run_id] = time.monotonic() + seconds

    def run_ended(self, run_id: str) -> None:
        self.run_deadlines.pop(run_id, None)

    def watch(
        self, run_id: str, seconds: float | None, task_id: str, agent: str
    ) -> asyncio.Task[object] | None:
        """Watch the current task (an attempt of `task_id` on `agent`) until `unwatch`: it is
        stopped with `LoopBlocked` if it blocks the loop past `seconds` from now or past its
        run's deadline. ``None`` (nothing to watch) when neither is set."""
        run_end = self.run_deadlines.get(run_id)
        if (seconds is None and run_end is None) or self._thread is None:
            return None
        task = asyncio.current_task()
        if task is None:
            return None
        end = time.monotonic() + seconds if seconds is not None else float("inf")
        label = f"task {task_id!r} (agent {agent!r})"
        self._deadlines[task] = (min(end, run_end or end), label)
        return task

    def unwatch(self, task: asyncio.Task[object] | None) -> None:
        if task is not None:
            self._deadlines.pop(task, None)

    def _heartbeat(self) -> None:
        self._beat = time.monotonic()
        assert self._loop is not None
        self._timer = self._loop.call_later(self.check_s, self._heartbeat)

    def _watch(self) -> None:
        reported = 0.0
        while not self._stop.wait(self.check_s):
            beat = self._beat
            stuck = time.monotonic() - beat
            if stuck < self.warn_s:
                continue
            task = self._current()
            if reported != beat:
                reported = beat
                log.warning(
                    "the event loop has not turned for %.1fs: %s blocks it%s (blocking code"
                    " inside `async def`?)",
                    stuck,
                    _name(task),
                    self._where(),
                )
            self._enforce(task, beat)

    def _enforce(self, task: asyncio.Task[object] | None, beat: float) -> None:
        """Stop `task` if it is an attempt past its deadline and the loop is still stuck."""
        entry = None if task is None else self._deadlines.get(task)
        if entry is None:
            return
        deadline, label = entry
        if time.monotonic() < deadline or self._beat != beat or self._current() is not task:
            return
        assert task is not None
        self._deadlines.pop(task, None)
        self.stopped_attempts += 1
        log.error("%s blocked the event loop past its deadline: stopping it", label)
        ctypes.pythonapi.PyThreadState_SetAsyncExc(
            ctypes.c_ulong(self._loop_thread), ctypes.py_object(LoopBlocked)
        )
        if self._kick:
            signal.pthread_kill(self._loop_thread, _KICK)

    def _current(self) -> asyncio.Task[object] | None:
        loop = self._loop
        if loop is None:
            return None
        try:
            return asyncio.current_task(loop)
        except RuntimeError:  # pragma: no cover - the loop closed meanwhile
            return None

    def _where(self) -> str:
        frame = sys._current_frames().get(self._loop_thread)
        if frame is None:
            return ""
        last = traceback.extract_stack(frame)[-1]
        return f" at {last.filename}:{last.lineno} in {last.name}"


def _name(task: asyncio.Task[object] | None) -> str:
    return "no task (a callback)" if task is None else f"task {task.get_name()!r}"


def _install_kick() -> bool:
    """A no-op Python handler for the kick signal, so that it interrupts a blocking call (only
    in the main thread, and only where nobody handles the signal already)."""
    if threading.current_thread() is not threading.main_thread():
        return False
    try:
        current = signal.getsignal(_KICK)
        if current in (signal.SIG_DFL, signal.SIG_IGN, None):
            signal.signal(_KICK, _ignore)
        return signal.getsignal(_KICK) is _ignore
    except (ValueError, OSError):  # pragma: no cover - platforms without it
        return False


def _ignore(signum: int, frame: object) -> None:
    return None


"""The watchdog of the orchestrator driving the current run."""

__all__ = ["LoopBlocked", "Watchdog"]
