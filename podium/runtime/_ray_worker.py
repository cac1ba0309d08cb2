"""The Ray side of `RayExecutor`: what runs in a Ray worker process, and how the user's code
gets there.

`attempt_on_worker` is the Ray task of one attempt. Each Ray worker process keeps one `_Host`:
its event loop, its threads for synchronous agents, and the `AttemptWorker`s it loaded (by key,
the most recent `KEEP`), so an attempt runs in a process that is already warm. The user's own
modules are pickled by value (`user_modules`, `by_value`) so that ``python: module:function``
agents need nothing installed on the workers.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import sysconfig
import threading
from collections import OrderedDict
from collections.abc import Iterable, Iterator
from types import ModuleType
from typing import Any

from podium._allowed_modules import folder_roots
from podium._sync import SYNC_EXECUTOR
from podium.events import AnyEvent, ErrorInfo
from podium.exceptions import ConfigError
from podium.runtime._attempt import AttemptInput, AttemptOutcome, EventSink
from podium.runtime._executor import DEFAULT_THREADS
from podium.runtime._threads import AgentThreads
from podium.runtime._work import AttemptWorker

KEEP = 8
"""Workers kept shipped (by the driver) and loaded (by a Ray worker process), most recent first."""
_WAKE_S = 0.1  # how soon a Ray worker's event loop notices that its task was cancelled


def import_ray() -> Any:
    """The `ray` module, or a `ConfigError` that says how to install it."""
    try:
        import ray
    except ImportError:
        raise ConfigError(
            "the Ray executor needs Ray: pip install 'podium[ray]' (or pip install ray)"
        ) from None
    return ray


def user_modules() -> list[ModuleType]:
    """The loaded modules of the user's own code: pure-Python files outside the Python
    installation (its standard library, ``site-packages``), on a folder of ``sys.path`` or one
    an allow-list found allowed modules in (`folder_roots`); not Podium's (the workers import
    their own)."""
    paths = sysconfig.get_paths()
    places: tuple[str, ...] = (sys.prefix, sys.base_prefix, sys.exec_prefix)
    places += tuple(paths.get(k, "") for k in ("stdlib", "platstdlib", "purelib", "platlib"))
    installed = _spellings(p for p in places if p)
    folders = _spellings(p or os.curdir for p in [*sys.path, *folder_roots()])
    folders = tuple(f for f in folders if not f.startswith(installed) and os.path.isdir(f))
    found = []
    for name, module in list(sys.modules.items()):
        file = getattr(module, "__file__", None)
        if name == "__main__" or name.partition(".")[0] == "podium":
            continue
        if not isinstance(file, str) or not file.endswith(".py"):
            continue
        path = os.path.abspath(file)
        if path.startswith(folders) and not path.startswith(installed):
            found.append(module)
    return found


def _spellings(paths: Iterable[str]) -> tuple[str, ...]:
    """Each folder as written and with its links resolved, ending in a separator."""
    out: set[str] = set()
    for path in paths:
        for spelling in (os.path.abspath(path), os.path.realpath(path)):
            out.add(spelling.rstrip(os.sep) + os.sep)
    return tuple(sorted(out))


@contextlib.contextmanager
def by_value(ray: Any, modules: list[ModuleType] | tuple[()]) -> Iterator[None]:
    """Pickle what `modules` define by value (not by reference) meanwhile."""
    pickler = ray.cloudpickle
    registered = []
    for module in modules:
        try:
            pickler.register_pickle_by_value(module)
        except ValueError:  # already registered, or not importable by its name
            continue
        registered.append(module)
    try:
        yield
    finally:
        for module in registered:
            pickler.unregister_pickle_by_value(module)


# -- the Ray worker's side ------------------------------------------------------------------


def attempt_on_worker(
    key: str, shipped: list[Any] | None, input: AttemptInput
) -> AttemptOutcome | None:
    """The Ray task of one attempt (in a Ray worker process): its outcome, or ``None`` when
    this process has not loaded the worker `key` and `shipped` does not bring it."""
    host = _host()
    worker = host.workers.get(key)
    if worker is not None:
        host.workers.move_to_end(key)
    elif shipped is None:
        return None
    else:
        try:
            worker = host.load(key, shipped[0])
        except Exception as exc:  # the user's code is not importable here
            message = (
                f"the Ray worker cannot load the run's agents ({type(exc).__name__}: {exc}):"
                " make their modules importable there (RayExecutor(runtime_env=...))"
            )
            return AttemptOutcome(error=ErrorInfo(type="executor_error", message=message))
    return host.run(worker, input)


class _Host:
    """What one Ray worker process keeps between attempts: its event loop, its threads and
    the workers it loaded, by key."""

    def __init__(self) -> None:
        self.loop: asyncio.AbstractEventLoop | None = None
        self.pool = AgentThreads(DEFAULT_THREADS, name="podium-ray")
        self.workers: OrderedDict[str, AttemptWorker] = OrderedDict()

    def load(self, key: str, ref: Any) -> AttemptWorker:
        worker: AttemptWorker = import_ray().get(ref)
        self.workers[key] = worker
        while len(self.workers) > KEEP:
            self.workers.popitem(last=False)
        return worker

    def run(self, worker: AttemptWorker, input: AttemptInput) -> AttemptOutcome:
        events: list[AnyEvent] = []

        async def emit(kind: Any, **fields: Any) -> None:  # journaled by the scheduler
            events.append(kind(run_id=input.run_id, seq=0, ts=0.0, **fields))

        loop = self.loop
        if loop is None or loop.is_closed():
            loop = self.loop = asyncio.new_event_loop()
        main = loop.create_task(self._attempt(worker, input, emit))
        try:
            with _sigint_cancels(loop, main):
                outcome = loop.run_until_complete(main)
        except asyncio.CancelledError:  # by ray.cancel: Ray's way of saying so
            raise KeyboardInterrupt from None
        except BaseException:
            self._discard_loop(loop)
            raise
        outcome.events = events
        return outcome

    async def _attempt(
        self, worker: AttemptWorker, input: AttemptInput, emit: EventSink
    ) -> AttemptOutcome:
        SYNC_EXECUTOR.set(self.pool)  # synchronous tools run on the worker's threads too
        return await worker.run(input, emit, pool=self.pool)

    def _discard_loop(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = None
        for task in asyncio.all_tasks(loop):
            task.cancel()
        with contextlib.suppress(BaseException):
            loop.run_until_complete(asyncio.sleep(0))
        loop.close()


@contextlib.contextmanager
def _sigint_cancels(loop: asyncio.AbstractEventLoop, main: asyncio.Task[Any]) -> Iterator[None]:
    """Meanwhile, an interrupt of the main thread (how ``ray.cancel`` stops a Ray task) cancels
    `main`, so that the attempt's agent sees a `CancelledError`.

    The handler runs when the main thread next runs Python code, so the loop is woken every
    `_WAKE_S` while it waits.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupted(_signum: int, _frame: Any) -> None:
        main.cancel()

    def wake() -> None:
        ticking[0] = loop.call_later(_WAKE_S, wake)

    ticking = [loop.call_later(_WAKE_S, wake)]
    previous = signal.signal(signal.SIGINT, interrupted)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        ticking[0].cancel()


_HOST: _Host | None = None


def _host() -> _Host:
    global _HOST  # noqa: PLW0603 - one per Ray worker process, made on its first attempt
    if _HOST is None:
        _HOST = _Host()
    return _HOST


__all__ = ["KEEP", "attempt_on_worker", "by_value", "import_ray", "user_modules"]
