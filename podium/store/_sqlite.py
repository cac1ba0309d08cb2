"""A SQLite store: one file, WAL mode, safe to share between processes.

The async methods call `sqlite3` directly, without a hop to a worker thread: a step's append is a
few tens of microseconds, far less than what handing it to a thread and back would cost. The file
is in WAL mode with ``synchronous=NORMAL``, so a commit survives the process being killed (it may
be lost only on a power cut, which leaves the database consistent), and readers in other
processes never block the writer.

Runs stepping together share commits: a write commits at once unless another task already wrote
in this turn of the event loop; then the turn's writes are committed together, in one
transaction (`_sqlite_group`).

A new file is built under a temporary name and linked into place once its schema is written, so
an empty (0-byte) file at the store's path is never one of ours being created: it is refused
rather than silently taken for an empty store.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sqlite3
import time
import uuid
from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

from podium.events import (
    AnyEvent,
    ApprovalRequested,
    Event,
    RunSubmitted,
    Usage,
    decode_many,
    encode,
)
from podium.exceptions import JournalConflict, RunNotFound, StoreError
from podium.store import _sqlite_sql as q
from podium.store._group import GroupCommit, Write, fail_all
from podium.store._lease import DEFAULT_LEASE_S, Lease
from podium.store._outcomes import Outcome, OutcomeStats, aggregate
from podium.store._protocol import (
    APPROVAL_PREFIX,
    FINAL,
    UNLEASED,
    USAGE_PREFIXES,
    RunInfo,
    check_fence,
    grantable,
    lease_held,
    lease_lost,
    pending_requests,
    run_info_from_row,
    status_after,
    usage_from_rows,
)
from podium.store._retry import DEFAULT_RETRY_S, Backoff
from podium.store._sqlite_group import GroupWrite, Turn, commit_batch

log = logging.getLogger(__name__)

T = TypeVar("T")

SCHEMA_VERSION = 3
"""Kept in ``PRAGMA user_version``; bumped when the tables change (2: the outcomes table; 3: the
run's lease and cancel request)."""

_TRANSIENT = frozenset(
    {
        sqlite3.SQLITE_BUSY,
        sqlite3.SQLITE_LOCKED,
        sqlite3.SQLITE_IOERR,
        sqlite3.SQLITE_FULL,
        sqlite3.SQLITE_PROTOCOL,
    }
)
"""Primary result codes worth retrying: a lock held too long, a failing or full disk."""

_CACHE_KIB = 32 * 1024
"""The most page cache a connection keeps (SQLite's default is 2 MiB), taken only as used."""
_CHECKPOINT_PAGES = 4000
"""WAL pages (of 4 KiB) between automatic checkpoints (SQLite's default is 1000)."""


class SQLiteStore:
    """Journals in a SQLite file.

    Several processes may open the same file: writes are serialised by SQLite's lock (waiting up
    to five seconds for it), and two writers racing on one run get `JournalConflict`.

    Args:
        path: The database file; created with its schema on `open` if missing.
        retry_s: how long a transient failure (the lock held too long, a full or failing disk)
            is retried before it raises `StoreError`.
    """

    def __init__(self, path: str, *, retry_s: float = DEFAULT_RETRY_S) -> None:
        self.path = path
        self.retry_s = retry_s
        self.commits = 0
        """Write transactions this store committed (for tests and benchmarks)."""
        self._conn: sqlite3.Connection | None = None
        self._group = GroupCommit(self._commit_group)
        self._turn = Turn()

    def __repr__(self) -> str:
        return f"SQLiteStore({self.path!r})"

    async def open(self) -> None:
        if self._conn is not None:
            return
        if self.path != ":memory:":
            self._check_file()
        self._conn = self._connect(self.path)

    def _check_file(self) -> None:
        """Create a missing store file; refuse an empty one (never one of ours)."""
        try:
            size = os.stat(self.path).st_size
        except FileNotFoundError:
            self._create_file()
            return
        except OSError as exc:
            raise StoreError(f"cannot open the SQLite store {self.path!r}: {exc}") from exc
        if size == 0:
            raise StoreError(
                f"the SQLite store {self.path!r} is an empty file (0 bytes), not a Podium store:"
                " if it once held journals they are lost; delete it to start a new store"
            )

    def _connect(self, path: str) -> sqlite3.Connection:
        try:
            # isolation_level=None: the module must not open transactions behind our back; we
            # issue BEGIN IMMEDIATE ourselves so a writer takes the lock before reading.
            conn = sqlite3.connect(
                path, isolation_level=None, check_same_thread=False, cached_statements=32
            )
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open the SQLite store {self.path!r}: {exc}") from exc
        try:
            self._setup(conn)
        except BaseException:
            conn.close()
            raise
        return conn

    def _create_file(self) -> None:
        """Build a new store under a temporary name, then link it into place (a loser of a race
        with another process creating the same file just uses the winner's)."""
        folder = os.path.dirname(os.path.abspath(self.path))
        temp = os.path.join(folder, f".{os.path.basename(self.path)}.{uuid.uuid4().hex[:8]}.new")
        try:
            self._connect(temp).close()
            try:
                os.link(temp, self.path)
            except FileExistsError:
                pass  # another process created it first: use theirs
            except OSError:  # no hard links on this file system
                if not os.path.exists(self.path):
                    os.rename(temp, self.path)
        except OSError as exc:
            raise StoreError(f"cannot create the SQLite store {self.path!r}: {exc}") from exc
        finally:
            for leftover in (temp, temp + "-wal", temp + "-shm"):
                if os.path.exists(leftover):
                    os.unlink(leftover)

    def _setup(self, conn: sqlite3.Connection) -> None:
        with self._translate("open"):
            conn.execute("PRAGMA busy_timeout = 5000")
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")
            # Concurrent runs write all over the journal's b-tree (run ids are random), so a
            # commit dirties many pages: a bigger page cache keeps them, and a checkpoint every
            # 16 MiB of WAL (SQLite's default: 4 MiB) copies each of them back less often. It
            # takes about a quarter off an append of 1,000 concurrent runs; durability is as
            # before (synchronous=NORMAL).
            conn.execute(f"PRAGMA cache_size = -{_CACHE_KIB}")
            conn.execute(f"PRAGMA wal_autocheckpoint = {_CHECKPOINT_PAGES}")
            # In a write transaction so that two processes opening a new file create it once.
            with _write(conn):
                version: int = conn.execute("PRAGMA user_version").fetchone()[0]
                if version > SCHEMA_VERSION:
                    raise StoreError(
                        f"the SQLite store {self.path!r} has schema version {version}, newer than"
                        f" this Podium understands ({SCHEMA_VERSION}); upgrade Podium"
                    )
                if version < SCHEMA_VERSION:
                    for statement in q.SCHEMA.split(";"):
                        if statement.strip():
                            conn.execute(statement)
                    _add_lease_columns(conn)
                    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    async def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with self._translate("close"):
                conn.close()

    async def create_run(
        self,
        run_id: str,
        submitted: RunSubmitted,
        *,
        name: str = "",
        owner: str | None = None,
        lease_s: float = DEFAULT_LEASE_S,
    ) -> bool:
        data = encode(submitted)
        expires = None if owner is None else time.time() + lease_s
        row = (run_id, name, submitted.ts, submitted.ts, owner, 0 if owner is None else 1, expires)

        def create(conn: sqlite3.Connection) -> bool:
            if conn.execute(q.INSERT_RUN, row).rowcount == 0:
                return False
            conn.execute(q.INSERT_EVENT, (run_id, submitted.seq, data))
            return True

        if self._at_once():
            return await self._write_retrying("create a run in", create)
        return bool(await self._group.submit(GroupWrite(lambda conn, _: create(conn)), gather=True))

    async def append(
        self, run_id: str, events: Sequence[Event], *, fence: int | None = None
    ) -> None:
        # The hot path of every scheduler step: plain try/except rather than the context
        # managers the colder methods use, which cost a few microseconds each.
        conn = self._conn or self._connection()
        rows = [(run_id, ev.seq, encode(ev)) for ev in events]
        status = status_after(events)
        if not self._at_once():
            await self._group.submit(self._grouped_append(run_id, rows, status, fence), gather=True)
            return
        try:
            _append(conn, run_id, rows, status, fence)
        except sqlite3.IntegrityError as exc:
            raise self._conflict(run_id, rows) from exc
        except sqlite3.Error as exc:
            await self._retry_append(exc, run_id, rows, status, fence)
        else:
            self.commits += 1

    def _at_once(self) -> bool:
        """Whether a write commits at once, alone: no group is being committed, and no other
        task has written in this turn of the event loop."""
        return self._group.idle and not self._turn.company()

    def _grouped_append(
        self,
        run_id: str,
        rows: list[tuple[str, int, bytes]],
        status: str | None,
        fence: int | None,
    ) -> GroupWrite:
        def append(conn: sqlite3.Connection, retried: bool) -> None:
            if retried and rows and _landed(conn, run_id, rows):
                return
            _append_rows(conn, run_id, rows, status, fence)

        return GroupWrite(append, lambda _: self._conflict(run_id, rows))

    def _conflict(self, run_id: str, rows: list[tuple[str, int, bytes]]) -> JournalConflict:
        return JournalConflict(
            f"run {run_id!r}: one of the event seqs {[r[1] for r in rows]} is already taken in"
            f" {self.path!r} (another writer drives this run)"
        )

    async def _commit_group(self, batch: Sequence[Write[GroupWrite]]) -> None:
        """Commit a group of writes in one transaction, retried through transient failures (a
        write whose earlier try may have landed is checked first); settle each write."""
        tries = 0

        def commit(conn: sqlite3.Connection) -> list[tuple[BaseException | None, object]]:
            nonlocal tries
            if tries:
                for w in batch:
                    w.retried = True
            tries += 1
            return commit_batch(conn, batch)

        try:
            outcomes = await self._retrying("write to", commit)
        except StoreError as exc:
            fail_all(batch, exc)
            return
        self.commits += 1
        for w, (error, result) in zip(batch, outcomes, strict=True):
            if error is None:
                w.done(result)
            else:
                w.fail(error)

    async def _retry_append(
        self,
        first: sqlite3.Error,
        run_id: str,
        rows: list[tuple[str, int, bytes]],
        status: str | None,
        fence: int | None,
    ) -> None:
        """Retry an append that failed on a transient error, unless its first try did land."""

        def again(conn: sqlite3.Connection) -> None:
            with _write(conn):
                if rows and _landed(conn, run_id, rows):
                    return
                _append_rows(conn, run_id, rows, status, fence)

        try:
            await self._retrying("append to", again, first=first)
        except StoreError as exc:
            if isinstance(exc.__cause__, sqlite3.IntegrityError):
                raise self._conflict(run_id, rows) from exc.__cause__
            raise
        self.commits += 1

    async def acquire(
        self,
        run_id: str,
        owner: str,
        *,
        lease_s: float = DEFAULT_LEASE_S,
        takeover: int | None = None,
    ) -> Lease:
        def take(conn: sqlite3.Connection) -> Lease:
            lease, cancel = _lease_row(conn, run_id, self.path)
            now = time.time()
            if not grantable(owner, lease, now, takeover):
                raise lease_held(run_id, lease)
            token = lease[1] if lease[0] == owner else lease[1] + 1
            conn.execute(q.TAKE_LEASE, (owner, token, now + lease_s, run_id))
            return Lease(
                run_id=run_id, owner=owner, token=token, expires_at=now + lease_s, cancel=cancel
            )

        return await self._write_retrying("take a lease in", take)

    async def renew(self, lease: Lease, *, lease_s: float = DEFAULT_LEASE_S) -> Lease:
        def renew(conn: sqlite3.Connection) -> Lease:
            expires = time.time() + lease_s
            if conn.execute(q.RENEW_LEASE, (expires, lease.run_id, lease.token)).rowcount == 0:
                held, _ = _lease_row(conn, lease.run_id, self.path)
                raise lease_lost(lease, held[0])
            _, cancel = _lease_row(conn, lease.run_id, self.path)
            return Lease(
                run_id=lease.run_id,
                owner=lease.owner,
                token=lease.token,
                expires_at=expires,
                cancel=cancel,
            )

        return await self._write_retrying("renew a lease in", renew)

    async def release(self, lease: Lease) -> None:
        def release(conn: sqlite3.Connection) -> None:
            conn.execute(q.RELEASE_LEASE, (lease.run_id, lease.token))

        await self._write_retrying("release a lease in", release)

    async def request_cancel(self, run_id: str, reason: str) -> None:
        def request(conn: sqlite3.Connection) -> None:
            if conn.execute(q.REQUEST_CANCEL, (reason, run_id)).rowcount == 0:
                raise RunNotFound(f"no run {run_id!r} in the SQLite store {self.path!r}")

        await self._write_retrying("request a cancel in", request)

    async def load(self, run_id: str, *, after_seq: int = -1) -> list[AnyEvent]:
        def read(conn: sqlite3.Connection) -> list[Any]:
            rows = conn.execute(q.LOAD, (run_id, after_seq)).fetchall()
            if not rows and conn.execute(q.RUN_EXISTS, (run_id,)).fetchone() is None:
                raise RunNotFound(f"no run {run_id!r} in the SQLite store {self.path!r}")
            return rows

        rows = await self._retrying("read", read)
        # One decode of a JSON array is much faster than one decode per event.
        return decode_many(b"[" + b",".join(row[0] for row in rows) + b"]")

    async def get_run(self, run_id: str) -> RunInfo | None:
        row = await self._retrying("read", lambda c: c.execute(q.GET_RUN, (run_id,)).fetchone())
        return None if row is None else run_info_from_row(row)

    async def list_runs(self, *, limit: int = 100) -> list[RunInfo]:
        rows = await self._retrying("read", lambda c: c.execute(q.LIST_RUNS, (limit,)).fetchall())
        return [run_info_from_row(row) for row in rows]

    async def pending_approvals(self, *, limit: int = 1000) -> list[ApprovalRequested]:
        prefix = (len(APPROVAL_PREFIX), APPROVAL_PREFIX)
        rows = await self._retrying(
            "read", lambda c: c.execute(q.WAITING_APPROVALS, prefix).fetchall()
        )
        events = decode_many(b"[" + b",".join(row[0] for row in rows) + b"]")
        return pending_requests(events, limit=limit)

    async def run_usage(self, run_ids: Sequence[str]) -> dict[str, Usage]:
        ids = sorted(set(run_ids))
        out: dict[str, Usage] = {}
        for i in range(0, len(ids), 500):  # under SQLite's limit of variables per statement
            out.update(await self._usage_of(ids[i : i + 500]))
        return out

    async def _usage_of(self, run_ids: list[str]) -> dict[str, Usage]:
        query = q.RUN_USAGE.format(marks=", ".join("?" * len(run_ids)))
        args = (*run_ids, *(x for p in USAGE_PREFIXES for x in (len(p), p)))
        rows = await self._retrying("read", lambda c: c.execute(query, args).fetchall())
        return usage_from_rows(rows)

    async def record_outcomes(self, outcomes: Sequence[Outcome | OutcomeStats]) -> None:
        rows = [_outcome_row(stats) for stats in aggregate(outcomes).values()]
        if not rows:
            return

        def add(conn: sqlite3.Connection) -> None:
            conn.executemany(q.ADD_OUTCOMES, rows)

        if self._at_once():
            await self._write_retrying("record outcomes in", add)
        else:
            await self._group.submit(GroupWrite(lambda conn, _: add(conn)), gather=True)

    async def outcome_stats(self, *, kinds: Collection[str] | None = None) -> list[OutcomeStats]:
        wanted = None if kinds is None else sorted(set(kinds))
        if wanted == []:
            return []
        where = "" if wanted is None else f" WHERE kind IN ({', '.join('?' * len(wanted))})"
        query = q.OUTCOME_STATS.format(where=where)
        rows = await self._retrying("read", lambda c: c.execute(query, wanted or ()).fetchall())
        return [_outcome_stats(row) for row in rows]

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            raise StoreError(f"the SQLite store {self.path!r} is not open; call open() first")
        return self._conn

    async def _write_retrying(self, what: str, fn: Callable[[sqlite3.Connection], T]) -> T:
        """`fn` in a write transaction, retried through transient failures."""

        def write(conn: sqlite3.Connection) -> T:
            with _write(conn):
                return fn(conn)

        result = await self._retrying(what, write)
        self.commits += 1
        return result

    async def _retrying(
        self,
        what: str,
        fn: Callable[[sqlite3.Connection], T],
        *,
        first: sqlite3.Error | None = None,
    ) -> T:
        """Call `fn` on the connection; retry transient `sqlite3` errors with backoff for
        `retry_s`, then raise `StoreError` naming the file. `first` is a failure already seen."""
        conn = self._connection()
        backoff: Backoff | None = None
        error = first
        while True:
            if error is not None:
                if not _transient(error):
                    message = f"cannot {what} the SQLite store {self.path!r}: {error}"
                    raise StoreError(message) from error
                backoff = backoff or Backoff(self.retry_s)
                delay = backoff.next_delay()
                if delay is None:
                    raise StoreError(
                        f"cannot {what} the SQLite store {self.path!r}: {error} (still failing"
                        f" after {backoff.tries} retries in {self.retry_s:g}s)"
                    ) from error
                log.warning("%r: %s failed (%s); retrying in %.2fs", self, what, error, delay)
                await asyncio.sleep(delay)
            try:
                return fn(conn)
            except sqlite3.Error as exc:
                error = exc

    @contextmanager
    def _translate(self, what: str) -> Iterator[None]:
        """Turn `sqlite3` errors into `StoreError`s naming the file."""
        try:
            yield
        except sqlite3.Error as exc:
            raise StoreError(f"cannot {what} the SQLite store {self.path!r}: {exc}") from exc


def _transient(exc: sqlite3.Error) -> bool:
    code = getattr(exc, "sqlite_errorcode", None)
    return code is not None and (code & 0xFF) in _TRANSIENT


def _append(
    conn: sqlite3.Connection,
    run_id: str,
    rows: list[tuple[str, int, bytes]],
    status: str | None,
    fence: int | None,
) -> None:
    """One append in one write transaction (the caller translates errors)."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        _append_rows(conn, run_id, rows, status, fence)
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


def _append_rows(
    conn: sqlite3.Connection,
    run_id: str,
    rows: list[tuple[str, int, bytes]],
    status: str | None,
    fence: int | None,
) -> None:
    lease = conn.execute(q.LEASE, (run_id,)).fetchone()
    if lease is None:
        raise RunNotFound(f"no run {run_id!r} in this SQLite store")
    if fence is not None or lease[0] is not None:
        check_fence(run_id, fence, lease[:3], time.time())
    if status is not None:
        conn.execute(q.UPDATE_RUN, (status, time.time(), run_id))
        if status in UNLEASED:
            conn.execute(q.RELEASE_ON_STATUS, (status in FINAL, run_id))
    conn.executemany(q.INSERT_EVENT, rows)


def _landed(conn: sqlite3.Connection, run_id: str, rows: list[tuple[str, int, bytes]]) -> bool:
    """Whether an earlier try of this append committed: all its events are there, as sent."""
    seqs = [r[1] for r in rows]
    stored = dict(conn.execute(q.SEQS_OF, (run_id, min(seqs), max(seqs))).fetchall())
    return all(stored.get(seq) == data for _, seq, data in rows)


def _lease_row(
    conn: sqlite3.Connection, run_id: str, path: str
) -> tuple[tuple[str | None, int, float | None], str | None]:
    """((owner, token, expires), cancel reason) of a run; `RunNotFound` if there is none."""
    row = conn.execute(q.LEASE, (run_id,)).fetchone()
    if row is None:
        raise RunNotFound(f"no run {run_id!r} in the SQLite store {path!r}")
    return (row[0], row[1], row[2]), row[3]


def _add_lease_columns(conn: sqlite3.Connection) -> None:
    """Bring a run table of schema 2 up to 3 (the lease columns), in place."""
    have = {row[1] for row in conn.execute("PRAGMA table_info(runs)")}
    for name, decl in q.LEASE_COLUMNS:
        if name not in have:
            conn.execute(f"ALTER TABLE runs ADD COLUMN {name} {decl}")


@contextmanager
def _write(conn: sqlite3.Connection) -> Iterator[None]:
    """A write transaction, rolled back if anything in it raises."""
    # IMMEDIATE takes the write lock up front: a deferred transaction that reads and then writes
    # can fail with SQLITE_BUSY without waiting for busy_timeout.
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
        conn.execute("COMMIT")
    except BaseException:
        # A failed COMMIT (SQLITE_BUSY, disk full) leaves the transaction open too.
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


def _outcome_row(stats: OutcomeStats) -> tuple[Any, ...]:
    return (
        stats.kind,
        stats.agent,
        stats.runs,
        stats.successes,
        stats.checked,
        stats.checks_passed,
        stats.cost_usd,
        stats.cost_runs,
        stats.latency_s,
        stats.updated_at,
    )


def _outcome_stats(row: tuple[Any, ...]) -> OutcomeStats:
    kind, agent, runs, successes, checked, passed, cost, cost_runs, latency, updated_at = row
    return OutcomeStats(
        kind=kind,
        agent=agent,
        runs=runs,
        successes=successes,
        checked=checked,
        checks_passed=passed,
        cost_usd=cost,
        cost_runs=cost_runs,
        latency_s=latency,
        updated_at=updated_at,
    )
