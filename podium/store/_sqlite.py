"""A SQLite store: one file, WAL mode, safe to share between processes.

The async methods call `sqlite3` directly, without a hop to a worker thread: a step's append is a
few tens of microseconds, far less than what handing it to a thread and back would cost. The file
is in WAL mode with ``synchronous=NORMAL``, so a commit survives the process being killed (it may
be lost only on a power cut, which leaves the database consistent), and readers in other
processes never block the writer.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Collection, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from podium.events import AnyEvent, ApprovalRequested, Event, RunSubmitted, decode_many, encode
from podium.exceptions import JournalConflict, RunNotFound, StoreError
from podium.store._outcomes import Outcome, OutcomeStats, aggregate
from podium.store._protocol import (
    APPROVAL_PREFIX,
    RunInfo,
    pending_requests,
    run_info_from_row,
    status_after,
)

SCHEMA_VERSION = 2
"""Kept in ``PRAGMA user_version``; bumped when the tables change (2: the outcomes table)."""

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY,
    status TEXT NOT NULL,
    name TEXT NOT NULL DEFAULT '',
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    events INTEGER NOT NULL DEFAULT 0
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
    "INSERT INTO runs (run_id, status, name, created_at, updated_at, events)"
    " VALUES (?, 'running', ?, ?, ?, 1) ON CONFLICT (run_id) DO NOTHING"
)
_INSERT_EVENT = "INSERT INTO events (run_id, seq, data) VALUES (?, ?, ?)"
# The run row is written only when the status changes: a row update on every append would add
# a page to each commit. Its event count and last update are read off the journal instead.
_UPDATE_RUN = "UPDATE runs SET status = ?, updated_at = ? WHERE run_id = ?"
_LOAD = "SELECT data FROM events WHERE run_id = ? AND seq > ? ORDER BY seq"
_RUN_EXISTS = "SELECT 1 FROM runs WHERE run_id = ?"
_RUN_COLUMNS = (
    "r.run_id, r.status, r.name, r.created_at,"
    " max(r.updated_at, coalesce((SELECT json_extract(CAST(e.data AS TEXT), '$.ts') FROM events"
    " AS e WHERE e.run_id = r.run_id ORDER BY e.seq DESC LIMIT 1), 0)),"
    " (SELECT count(*) FROM events AS e WHERE e.run_id = r.run_id)"
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
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self._conn: sqlite3.Connection | None = None

    def __repr__(self) -> str:
        return f"SQLiteStore({self.path!r})"

    async def open(self) -> None:
        if self._conn is not None:
            return
        try:
            # isolation_level=None: the module must not open transactions behind our back; we
            # issue BEGIN IMMEDIATE ourselves so a writer takes the lock before reading.
            conn = sqlite3.connect(
                self.path, isolation_level=None, check_same_thread=False, cached_statements=32
            )
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open the SQLite store {self.path!r}: {exc}") from exc
        try:
            self._setup(conn)
        except BaseException:
            conn.close()
            raise
        self._conn = conn

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
                    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    async def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with self._translate("close"):
                conn.close()

    async def create_run(self, run_id: str, submitted: RunSubmitted, *, name: str = "") -> bool:
        with self._transaction("create a run in") as conn:
            cur = conn.execute(_INSERT_RUN, (run_id, name, submitted.ts, submitted.ts))
            if cur.rowcount == 0:
                return False
            conn.execute(_INSERT_EVENT, (run_id, submitted.seq, encode(submitted)))
            return True

    async def append(self, run_id: str, events: Sequence[Event]) -> None:
        # The hot path of every scheduler step: plain try/except rather than the context
        # managers the colder methods use, which cost a few microseconds each.
        conn = self._conn or self._connection()
        rows = [(run_id, ev.seq, encode(ev)) for ev in events]
        status = status_after(events)
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                if status is None:
                    found = conn.execute(_RUN_EXISTS, (run_id,)).fetchone() is not None
                else:
                    update = (status, time.time(), run_id)
                    found = conn.execute(_UPDATE_RUN, update).rowcount > 0
                if found:
                    conn.executemany(_INSERT_EVENT, rows)
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
        except sqlite3.IntegrityError as exc:
            raise JournalConflict(
                f"run {run_id!r}: one of the event seqs {[ev.seq for ev in events]} is already"
                f" taken in {self.path!r} (another writer drives this run)"
            ) from exc
        except sqlite3.Error as exc:
            raise StoreError(f"cannot append to the SQLite store {self.path!r}: {exc}") from exc
        if not found:
            raise RunNotFound(f"no run {run_id!r} in the SQLite store {self.path!r}")

    async def load(self, run_id: str, *, after_seq: int = -1) -> list[AnyEvent]:
        conn = self._connection()
        with self._translate("read"):
            rows = conn.execute(_LOAD, (run_id, after_seq)).fetchall()
            if not rows and conn.execute(_RUN_EXISTS, (run_id,)).fetchone() is None:
                raise RunNotFound(f"no run {run_id!r} in the SQLite store {self.path!r}")
        # One decode of a JSON array is much faster than one decode per event.
        return decode_many(b"[" + b",".join(row[0] for row in rows) + b"]")

    async def get_run(self, run_id: str) -> RunInfo | None:
        conn = self._connection()
        with self._translate("read"):
            row = conn.execute(_GET_RUN, (run_id,)).fetchone()
        return None if row is None else run_info_from_row(row)

    async def list_runs(self, *, limit: int = 100) -> list[RunInfo]:
        conn = self._connection()
        with self._translate("read"):
            rows = conn.execute(_LIST_RUNS, (limit,)).fetchall()
        return [run_info_from_row(row) for row in rows]

    async def pending_approvals(self, *, limit: int = 1000) -> list[ApprovalRequested]:
        conn = self._connection()
        prefix = (len(APPROVAL_PREFIX), APPROVAL_PREFIX)
        with self._translate("read"):
            rows = conn.execute(_WAITING_APPROVALS, prefix).fetchall()
        events = decode_many(b"[" + b",".join(row[0] for row in rows) + b"]")
        return pending_requests(events, limit=limit)

    async def record_outcomes(self, outcomes: Sequence[Outcome]) -> None:
        rows = [_outcome_row(stats) for stats in aggregate(outcomes).values()]
        if not rows:
            return
        with self._transaction("record outcomes in") as conn:
            conn.executemany(_ADD_OUTCOMES, rows)

    async def outcome_stats(self, *, kinds: Collection[str] | None = None) -> list[OutcomeStats]:
        conn = self._connection()
        wanted = None if kinds is None else sorted(set(kinds))
        if wanted == []:
            return []
        where = "" if wanted is None else f" WHERE kind IN ({', '.join('?' * len(wanted))})"
        with self._translate("read"):
            rows = conn.execute(_OUTCOME_STATS.format(where=where), wanted or ()).fetchall()
        return [_outcome_stats(row) for row in rows]

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            raise StoreError(f"the SQLite store {self.path!r} is not open; call open() first")
        return self._conn

    @contextmanager
    def _transaction(self, what: str) -> Iterator[sqlite3.Connection]:
        """A write transaction on the open connection, with errors translated."""
        conn = self._connection()
        with self._translate(what), _write(conn):
            yield conn

    @contextmanager
    def _translate(self, what: str) -> Iterator[None]:
        """Turn `sqlite3` errors into `StoreError`s naming the file."""
        try:
            yield
        except sqlite3.Error as exc:
            raise StoreError(f"cannot {what} the SQLite store {self.path!r}: {exc}") from exc


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
