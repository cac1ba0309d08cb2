"""Group commit for the SQLite store: the writes that several tasks make in one turn of the event
loop, in one transaction.

SQLite's calls are synchronous, so nothing is ever "in flight" to queue behind: a write commits
at once, as it always did, unless another task has already written in this turn of the event loop
(`Turn.company`: many runs are stepping together). Then it leads a group (`GroupCommit` with
``gather``): it lets the turn's other ready tasks run first, and commits their writes with its
own in one transaction, each write in its own savepoint, so one write's conflict or refused
lease rolls back that write only and goes to its caller only.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Sequence

from podium.exceptions import RunNotFound, StoreError
from podium.store._group import Write

Outcome = tuple[BaseException | None, object]
"""A write's error, or its result."""


class GroupWrite:
    """One caller's write, for a group's transaction.

    Args:
        fn: the statements, given the connection and whether an earlier try of this write may
            have landed; returns the write's result. A `StoreError` or `RunNotFound` it raises
            (a lease that does not allow the write, no such run) goes to its caller; nothing of
            it is written.
        conflict: the error its caller gets for a constraint violation (a taken seq).
    """

    __slots__ = ("conflict", "fn")

    def __init__(
        self,
        fn: Callable[[sqlite3.Connection, bool], object],
        conflict: Callable[[sqlite3.IntegrityError], StoreError] | None = None,
    ) -> None:
        self.fn = fn
        self.conflict = conflict


def commit_batch(conn: sqlite3.Connection, batch: Sequence[Write[GroupWrite]]) -> list[Outcome]:
    """Run every write of `batch` in one transaction, each in its own savepoint, and commit.

    The outcomes, in order, hold only once this returns (the transaction committed). Any other
    `sqlite3` error rolls the whole transaction back and propagates.
    """
    outcomes: list[Outcome] = []
    conn.execute("BEGIN IMMEDIATE")
    try:
        for w in batch:
            outcomes.append(_run(conn, w.item, retried=w.retried))
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    return outcomes


def _run(conn: sqlite3.Connection, write: GroupWrite, *, retried: bool) -> Outcome:
    conn.execute("SAVEPOINT write")
    try:
        result = write.fn(conn, retried)
    except sqlite3.IntegrityError as exc:
        if write.conflict is None:
            raise
        error: StoreError | RunNotFound = write.conflict(exc)
    except (StoreError, RunNotFound) as exc:
        error = exc
    else:
        conn.execute("RELEASE write")
        return None, result
    conn.execute("ROLLBACK TO write")
    conn.execute("RELEASE write")
    return error, None


class Turn:
    """Which task wrote first in the current turn of the event loop."""

    __slots__ = ("_loop", "_writer")

    def __init__(self) -> None:
        self._writer: asyncio.Task[object] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def company(self) -> bool:
        """Whether another task has written in this turn; else this one is now its writer."""
        task = asyncio.current_task()
        loop = asyncio.get_running_loop()
        if self._writer is None or self._loop is not loop:
            self._writer, self._loop = task, loop
            loop.call_soon(self._end)
            return False
        return self._writer is not task

    def _end(self) -> None:
        self._writer = None


__all__ = ["GroupWrite", "Outcome", "Turn", "commit_batch"]
