"""A SQLite store: one file, WAL mode, safe to share between processes.

The async methods call `sqlite3` directly, without a hop to a worker thread: a step's append is a
few tens of microseconds, far less than what handing it to a thread and back would cost. The file
is in WAL mode with ``synchronous=NORMAL``, so a commit survives the process being killed (it may
be lost only on a power cut, which leaves the database consistent), and readers in other
processes never block the writer.

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

from podium.events import AnyEvent, ApprovalRequested, Event, RunSubmitted, decode_many, encode
from podium.exceptions import JournalConflict, RunNotFound, StoreError
from podium.store._lease import DEFAULT_LEASE_S, Lease
from podium.store._outcomes import Outcome, OutcomeStats, aggregate
from podium.store._protocol import (
    APPROVAL_PREFIX,
    FINAL,
    UNLEASED,
    RunInfo,
    check_fence,
    grantable,
    lease_held,
    lease_lost,
    pending_requests,
    run_info_from_row,
    status_after,
)
from podium.store._retry import DEFAULT_RETRY_S, Backoff

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

_LEASE_COLUMNS = (
    ("lease_owner", "TEXT"),
    ("lease_token", "INTEGER NOT NULL DEFAULT 0"),
    ("lease_expires", "REAL"),
    ("cancel_reason", "TEXT"),
)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY,
    status TEXT NOT NULL,
    name TEXT NOT NULL DEFAULT '',
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    events INTEGER NOT NULL DEFAULT 0,
    lease_owner TEXT,
    lease_token INTEGER NOT NULL DEFAULT 0,
    lease_expires REAL,
    cancel_reason TEXT
);
CREATE INDEX IF NOT EXISTS runs_created_at ON runs (created_at);
CREATE TABLE IF NOT EXISTS events (
    run_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    data BLOB NOT NULL,
    PRIMARY KEY (run_id, seq)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS outcomes (
    kind TEXT NOT NULL,
    agent TEXT NOT NULL,
    runs INTEGER NOT NULL,
    successes INTEGER NOT NULL,
    checked INTEGER NOT NULL,
    checks_passed INTEGER NOT NULL,
    cost_usd REAL NOT NULL,
    cost_runs INTEGER NOT NULL,
    latency_s REAL NOT NULL,
    updated_at REAL NOT NULL,
    PRIMARY KEY (kind, agent)
) WITHOUT ROWID;
"""

_INSERT_RUN = (
    "INSERT INTO runs (run_id, status, name, created_at, updated_at, events, lease_owner,"
    " lease_token, lease_expires) VALUES (?, 'running', ?, ?, ?, 1, ?, ?, ?)"
    " ON CONFLICT (run_id) DO NOTHING"
)
_INSERT_EVENT = "INSERT INTO events (run_id, seq, data) VALUES (?, ?, ?)"
# The run row is written only when the status changes: a row update on every append would add
# a page to each commit. Its event count and last update are read off the journal instead.
_UPDATE_RUN = "UPDATE runs SET status = ?, updated_at = ? WHERE run_id = ?"
_RELEASE_ON_STATUS = (
    "UPDATE runs SET lease_owner = NULL, lease_expires = NULL,"
    " cancel_reason = CASE WHEN ? THEN NULL ELSE cancel_reason END WHERE run_id = ?"
)
_LOAD = "SELECT data FROM events WHERE run_id = ? AND seq > ? ORDER BY seq"
_RUN_EXISTS = "SELECT 1 FROM runs WHERE run_id = ?"
_LEASE = "SELECT lease_owner, lease_token, lease_expires, cancel_reason FROM runs WHERE run_id = ?"
_TAKE_LEASE = "UPDATE runs SET lease_owner = ?, lease_token = ?, lease_expires = ? WHERE run_id = ?"
_RENEW_LEASE = (
    "UPDATE runs SET lease_expires = ? WHERE run_id = ? AND lease_token = ?"
    " AND lease_owner IS NOT NULL"
)
_RELEASE_LEASE = (
    "UPDATE runs SET lease_owner = NULL, lease_expires = NULL WHERE run_id = ? AND lease_token = ?"
)
_REQUEST_CANCEL = "UPDATE runs SET cancel_reason = ? WHERE run_id = ?"
_SEQS_OF = "SELECT seq, data FROM events WHERE run_id = ? AND seq >= ? AND seq <= ?"
_RUN_COLUMNS = (
    "r.run_id, r.status, r.name, r.created_at,"
    " max(r.updated_at, coalesce((SELECT json_extract(CAST(e.data AS TEXT), '$.ts') FROM events"
    " AS e WHERE e.run_id = r.run_id ORDER BY e.seq DESC LIMIT 1), 0)),"
    " (SELECT count(*) FROM events AS e WHERE e.run_id = r.run_id),"
    " r.lease_owner, r.lease_expires"
)
_GET_RUN = f"SELECT {_RUN_COLUMNS} FROM runs AS r WHERE r.run_id = ?"
_LIST_RUNS = f"SELECT {_RUN_COLUMNS} FROM runs AS r ORDER BY r.created_at DESC LIMIT ?"
# The approval events of the runs that wait: picked by their encoded prefix, so the rest of
# each journal is neither decoded nor returned.
_WAITING_APPROVALS = (
    "SELECT e.data FROM runs AS r JOIN events AS e ON e.run_id = r.run_id"
    " WHERE r.status = 'waiting' AND substr(e.data, 1, ?) = ? ORDER BY e.run_id, e.seq"
)
_OUTCOME_COLUMNS = (
    "kind, agent, runs, successes, checked, checks_passed, cost_usd, cost_runs, latency_s,"
    " updated_at"
)
# Unqualified names in DO UPDATE are the stored row's: each pair's sums grow in place.
_ADD_OUTCOMES = (
    f"INSERT INTO outcomes ({_OUTCOME_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    " ON CONFLICT (kind, agent) DO UPDATE SET runs = runs + excluded.runs,"
    " successes = successes + excluded.successes, checked = checked + excluded.checked,"
    " checks_passed = checks_passed + excluded.checks_passed,"
    " cost_usd = cost_usd + excluded.cost_usd, cost_runs = cost_runs + excluded.cost_runs,"
    " latency_s = latency_s + excluded.latency_s,"
    " updated_at = max(updated_at, excluded.updated_at)"
)
_OUTCOME_STATS = f"SELECT {_OUTCOME_COLUMNS} FROM outcomes{{where}} ORDER BY kind, agent"


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
        self._conn: sqlite3.Connection | None = None

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
            # In a write transaction so that two processes opening a new file create it once.
            with _write(conn):
                version: int = conn.execute("PRAGMA user_version").fetchone()[0]
                if version > SCHEMA_VERSION:
                    raise StoreError(
                        f"the SQLite store {self.path!r} has schema version {version}, newer than"
                        f" this Podium understands ({SCHEMA_VERSION}); upgrade Podium"
                    )
                if version < SCHEMA_VERSION:
                    for statement in _SCHEMA.split(";"):
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
            if conn.execute(_INSERT_RUN, row).rowcount == 0:
                return False
            conn.execute(_INSERT_EVENT, (run_id, submitted.seq, data))
            return True

        return await self._write_retrying("create a run in", create)

    async def append(
        self, run_id: str, events: Sequence[Event], *, fence: int | None = None
    ) -> None:
        # The hot path of every scheduler step: plain try/except rather than the context
        # managers the colder methods use, which cost a few microseconds each.
        conn = self._conn or self._connection()
        rows = [(run_id, ev.seq, encode(ev)) for ev in events]
        status = status_after(events)
        try:
            _append(conn, run_id, rows, status, fence)
        except sqlite3.IntegrityError as exc:
            raise JournalConflict(
                f"run {run_id!r}: one of the event seqs {[ev.seq for ev in events]} is already"
                f" taken in {self.path!r} (another writer drives this run)"
            ) from exc
        except sqlite3.Error as exc:
            await self._retry_append(exc, run_id, rows, status, fence)

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
            if rows and _landed(conn, run_id, rows):
                return
            _append_rows(conn, run_id, rows, status, fence)

        try:
            await self._retrying("append to", again, first=first)
        except StoreError as exc:
            if isinstance(exc.__cause__, sqlite3.IntegrityError):
                raise JournalConflict(
                    f"run {run_id!r}: one of the event seqs {[r[1] for r in rows]} is already"
                    f" taken in {self.path!r} (another writer drives this run)"
                ) from exc.__cause__
            raise

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
            conn.execute(_TAKE_LEASE, (owner, token, now + lease_s, run_id))
            return Lease(
                run_id=run_id, owner=owner, token=token, expires_at=now + lease_s, cancel=cancel
            )

        return await self._write_retrying("take a lease in", take)

    async def renew(self, lease: Lease, *, lease_s: float = DEFAULT_LEASE_S) -> Lease:
        def renew(conn: sqlite3.Connection) -> Lease:
            expires = time.time() + lease_s
            if conn.execute(_RENEW_LEASE, (expires, lease.run_id, lease.token)).rowcount == 0:
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
            conn.execute(_RELEASE_LEASE, (lease.run_id, lease.token))

        await self._write_retrying("release a lease in", release)

    async def request_cancel(self, run_id: str, reason: str) -> None:
        def request(conn: sqlite3.Connection) -> None:
            if conn.execute(_REQUEST_CANCEL, (reason, run_id)).rowcount == 0:
                raise RunNotFound(f"no run {run_id!r} in the SQLite store {self.path!r}")

        await self._write_retrying("request a cancel in", request)

    async def load(self, run_id: str, *, after_seq: int = -1) -> list[AnyEvent]:
        def read(conn: sqlite3.Connection) -> list[Any]:
            rows = conn.execute(_LOAD, (run_id, after_seq)).fetchall()
            if not rows and conn.execute(_RUN_EXISTS, (run_id,)).fetchone() is None:
                raise RunNotFound(f"no run {run_id!r} in the SQLite store {self.path!r}")
            return rows

        rows = await self._retrying("read", read)
        # One decode of a JSON array is much faster than one decode per event.
        return decode_many(b"[" + b",".join(row[0] for row in rows) + b"]")

    async def get_run(self, run_id: str) -> RunInfo | None:
        row = await self._retrying("read", lambda c: c.execute(_GET_RUN, (run_id,)).fetchone())
        return None if row is None else run_info_from_row(row)

    async def list_runs(self, *, limit: int = 100) -> list[RunInfo]:
        rows = await self._retrying("read", lambda c: c.execute(_LIST_RUNS, (limit,)).fetchall())
        return [run_info_from_row(row) for row in rows]

    async def pending_approvals(self, *, limit: int = 1000) -> list[ApprovalRequested]:
        prefix = (len(APPROVAL_PREFIX), APPROVAL_PREFIX)
        rows = await self._retrying(
            "read", lambda c: c.execute(_WAITING_APPROVALS, prefix).fetchall()
        )
        events = decode_many(b"[" + b",".join(row[0] for row in rows) + b"]")
        return pending_requests(events, limit=limit)

    async def record_outcomes(self, outcomes: Sequence[Outcome]) -> None:
        rows = [_outcome_row(stats) for stats in aggregate(outcomes).values()]
        if not rows:
            return

        def add(conn: sqlite3.Connection) -> None:
            conn.executemany(_ADD_OUTCOMES, rows)

        await self._write_retrying("record outcomes in", add)

    async def outcome_stats(self, *, kinds: Collection[str] | None = None) -> list[OutcomeStats]:
        wanted = None if kinds is None else sorted(set(kinds))
        if wanted == []:
            return []
        where = "" if wanted is None else f" WHERE kind IN ({', '.join('?' * len(wanted))})"
        query = _OUTCOME_STATS.format(where=where)
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

        return await self._retrying(what, write)

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
    lease = conn.execute(_LEASE, (run_id,)).fetchone()
    if lease is None:
        raise RunNotFound(f"no run {run_id!r} in this SQLite store")
    if fence is not None or lease[0] is not None:
        check_fence(run_id, fence, lease[:3], time.time())
    if status is not None:
        conn.execute(_UPDATE_RUN, (status, time.time(), run_id))
        if status in UNLEASED:
            conn.execute(_RELEASE_ON_STATUS, (status in FINAL, run_id))
    conn.executemany(_INSERT_EVENT, rows)


def _landed(conn: sqlite3.Connection, run_id: str, rows: list[tuple[str, int, bytes]]) -> bool:
    """Whether an earlier try of this append committed: all its events are there, as sent."""
    seqs = [r[1] for r in rows]
    stored = dict(conn.execute(_SEQS_OF, (run_id, min(seqs), max(seqs))).fetchall())
    return all(stored.get(seq) == data for _, seq, data in rows)


def _lease_row(
    conn: sqlite3.Connection, run_id: str, path: str
) -> tuple[tuple[str | None, int, float | None], str | None]:
    """((owner, token, expires), cancel reason) of a run; `RunNotFound` if there is none."""
    row = conn.execute(_LEASE, (run_id,)).fetchone()
    if row is None:
        raise RunNotFound(f"no run {run_id!r} in the SQLite store {path!r}")
    return (row[0], row[1], row[2]), row[3]


def _add_lease_columns(conn: sqlite3.Connection) -> None:
    """Bring a run table of schema 2 up to 3 (the lease columns), in place."""
    have = {row[1] for row in conn.execute("PRAGMA table_info(runs)")}
    for name, decl in _LEASE_COLUMNS:
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
