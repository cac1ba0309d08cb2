"""Group commit: writes of many callers that arrive together go to the store in one transaction.

A caller `submit`s its write and waits. When nobody is writing, its write is committed at once,
alone, so a lone writer never waits for company (with ``gather``, the other tasks ready in this
turn of the event loop may join it first). Writes that arrive while a batch is being committed
queue up; when the leader is done, the first of them leads the next batch, which takes every
queued write (up to `max_batch`). Each write keeps its own result or error, set by the backend's
`commit`.

No task is created: the leader commits in its own task and hands the lead over by waking the
next caller. A caller cancelled while it waits leaves the queue (its write was never sent) or,
if it was about to lead, passes the lead on. A leader cancelled during its commit puts the other
writes of its batch back at the head of the queue, marked `retried` (the cancelled commit may or
may not have landed: the backend checks before it writes them again).
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable, Hashable, Sequence
from typing import Generic, TypeVar

from podium.exceptions import StoreError

T = TypeVar("T")

DEFAULT_MAX_BATCH = 512


class Write(Generic[T]):
    """One caller's write in a group: what to write, and, once committed, its outcome."""

    __slots__ = ("_wake", "error", "item", "result", "retried", "settled")

    def __init__(self, item: T, wake: asyncio.Future[bool] | None) -> None:
        self.item = item
        self.retried = False
        """An earlier try of this write may have landed: check before writing it again."""
        self.settled = False
        self.result: object = None
        self.error: BaseException | None = None
        self._wake = wake

    def done(self, result: object = None) -> None:
        """The write landed (or, for a write that reports one, this is its result)."""
        self.settled, self.result, self.error = True, result, None

    def fail(self, error: BaseException) -> None:
        """The write did not land; its caller gets `error`."""
        self.settled, self.result, self.error = True, None, error


Commit = Callable[[Sequence[Write[T]]], Awaitable[None]]
"""Commits a batch and settles each of its writes (`Write.done` or `Write.fail`); a write it
leaves unsettled fails with a `RuntimeError`."""


class GroupCommit(Generic[T]):
    """Batches the writes of concurrent callers into group commits.

    Args:
        commit: the backend's batch commit.
        key: writes with the same key never share a batch (a second write of one run waits for
            the next batch, so a batch holds at most one write per run, in order).
        max_batch: most writes in one batch.
    """

    def __init__(
        self,
        commit: Commit[T],
        *,
        key: Callable[[T], Hashable] | None = None,
        max_batch: int = DEFAULT_MAX_BATCH,
    ) -> None:
        self._commit = commit
        self._key = key
        self.max_batch = max_batch
        self._queue: deque[Write[T]] = deque()
        self._leading = False
        self.batches = 0
        """Batches committed (for tests and benchmarks)."""

    @property
    def idle(self) -> bool:
        """Nobody is committing and nothing waits: a write now would commit at once."""
        return not self._leading

    async def submit(self, item: T, *, gather: bool = False) -> object:
        """Commit `item` with whatever else is queued; its result, or raise its error.

        With `gather`, a caller that would lead at once first lets the other tasks that are
        ready in this turn of the event loop run, so the writes they make join its batch.
        """
        if not self._leading and not gather:
            # nobody is writing: this write is committed at once, alone (nothing is queued
            # while nobody leads), without a queue entry or anything to wake
            write = Write(item, None)
            self._leading = True
            try:
                await self._commit_batch([write])
            except asyncio.CancelledError:
                _remove(self._queue, write)
                raise
            finally:
                self._hand_over()
            return _outcome(write)
        wake: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        write = Write(item, wake)
        self._queue.append(write)
        gathering = not self._leading
        if not gathering:
            try:
                lead = await wake
            except asyncio.CancelledError:
                self._abandon(write)
                raise
            if not lead:
                return _outcome(write)
        self._leading = True
        try:
            if gathering:
                await asyncio.sleep(0)  # let this turn's other writers queue up
            await self._commit_batch(self._take())
        except asyncio.CancelledError:
            if not write.settled:
                _remove(self._queue, write)
            raise
        finally:
            self._hand_over()
        return _outcome(write)

    async def _commit_batch(self, batch: list[Write[T]]) -> None:
        """Commit one batch and wake its other callers. A leader cancelled meanwhile puts the
        batch's unsettled writes back at the head of the queue, marked `retried`."""
        try:
            await self._commit(batch)
        except asyncio.CancelledError:
            unsettled = [w for w in batch if not w.settled]
            for w in unsettled:
                w.retried = True
            self._queue.extendleft(reversed(unsettled))
            raise
        except Exception as exc:  # a backend bug: no caller may be left waiting
            for w in batch:
                if not w.settled:
                    error = RuntimeError(f"group commit failed: {exc!r}")
                    error.__cause__ = exc
                    w.fail(error)
        self.batches += 1
        for w in batch:
            if not w.settled:
                w.fail(RuntimeError("group commit left a write unsettled"))
            wake = w._wake
            if wake is not None and not wake.done():
                wake.set_result(False)

    def _take(self) -> list[Write[T]]:
        batch: list[Write[T]] = []
        keys: set[Hashable] = set()
        skipped: list[Write[T]] = []
        queue = self._queue
        while queue and len(batch) < self.max_batch:
            w = queue.popleft()
            if w._wake is not None and w._wake.cancelled():
                continue  # its caller gave up before it was sent
            if self._key is not None:
                k = self._key(w.item)
                if k in keys:
                    skipped.append(w)
                    continue
                keys.add(k)
            batch.append(w)
        queue.extendleft(reversed(skipped))
        return batch

    def _hand_over(self) -> None:
        """Wake the first waiting caller to lead the next batch; or stop leading."""
        queue = self._queue
        while queue:
            head = queue[0]
            if head._wake is None or head._wake.done():  # its caller is gone
                queue.popleft()
                continue
            head._wake.set_result(True)
            return
        self._leading = False

    def _abandon(self, write: Write[T]) -> None:
        """A waiting caller was cancelled: its write leaves the queue if it was not sent yet,
        and if it had been woken to lead the next batch, the lead passes on."""
        wake = write._wake
        woken = wake is not None and wake.done() and not wake.cancelled() and wake.result()
        _remove(self._queue, write)
        if woken:
            self._hand_over()


def fail_all(batch: Sequence[Write[T]], error: StoreError) -> None:
    """Fail every unsettled write of `batch` with `error` (a copy each: one exception object
    is raised in one task only)."""
    for w in batch:
        if not w.settled:
            copy = StoreError(str(error))
            copy.__cause__ = error.__cause__
            w.fail(copy)


def _remove(queue: deque[Write[T]], write: Write[T]) -> bool:
    try:
        queue.remove(write)
    except ValueError:
        return False
    return True


def _outcome(write: Write[T]) -> object:
    if write.error is not None:
        raise write.error
    return write.result


__all__ = ["DEFAULT_MAX_BATCH", "Commit", "GroupCommit", "Write", "fail_all"]
