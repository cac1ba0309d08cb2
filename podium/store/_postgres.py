"""A Postgres store, on psycopg 3's async connection.

One connection, used by one coroutine at a time (an `asyncio.Lock` guards it). Every write is a
single statement: `append` updates the run's row and inserts its events in one statement whose
CTE makes them land together. A single statement is its own transaction in autocommit mode, so
an append costs one round trip to the server instead of three (BEGIN, the statement, COMMIT),
and stays atomic: a duplicate `seq` aborts the whole statement.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Collection, Sequence
from contextlib import asynccontextmanager
from typing import Any, LiteralString

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict

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

_SCHEMA: tuple[LiteralString, ...] = (
    # Serialises schema creation: two processes racing on CREATE TABLE IF NOT EXISTS can both
    # miss the table and one then fails on the catalog's unique index.
    "SELECT pg_advisory_xact_lock(hashtext('podium.store.schema'))",
    """CREATE TABLE IF NOT EXISTS runs (
        run_id TEXT PRIMARY KEY,
        status TEXT NOT NULL,
        name TEXT NOT NULL DEFAULT '',
        created_at DOUBLE PRECISION NOT NULL,
        updated_at DOUBLE PRECISION NOT NULL,
        events INTEGER NOT NULL DEFAULT 0
    )""",
    "CREATE INDEX IF NOT EXISTS runs_created_at ON runs (created_at)",
    """CREATE TABLE IF NOT EXISTS events (
        run_id TEXT NOT NULL,
        seq INTEGER NOT NULL,
        data BYTEA NOT NULL,
        PRIMARY KEY (run_id, seq)
    )""",
    """CREATE TABLE IF NOT EXISTS outcomes (
        kind TEXT NOT NULL,
        agent TEXT NOT NULL,
        runs BIGINT NOT NULL,
        successes BIGINT NOT NULL,
        checked BIGINT NOT NULL,
        checks_passed BIGINT NOT NULL,
        cost_usd DOUBLE PRECISION NOT NULL,
        cost_runs BIGINT NOT NULL,
        latency_s DOUBLE PRECISION NOT NULL,
        updated_at DOUBLE PRECISION NOT NULL,
        PRIMARY KEY (kind, agent)
    )""",
)

_CREATE_RUN: LiteralString = """
WITH run AS (
    INSERT INTO runs (run_id, status, name, created_at, updated_at, events)
    VALUES (%(run_id)s, 'running', %(name)s, %(ts)s, %(ts)s, 1)
    ON CONFLICT (run_id) DO NOTHING
    RETURNING run_id
)
INSERT INTO events (run_id, seq, data) SELECT run_id, %(seq)s, %(data)s FROM run
"""
# The INSERT reads the UPDATE's RETURNING, so an unknown run inserts nothing (rowcount 0).
_APPEND: LiteralString = """
WITH run AS (
    UPDATE runs SET status = coalesce(%(status)s, status), updated_at = %(now)s,
        events = events + %(n)s
    WHERE run_id = %(run_id)s
    RETURNING run_id
)
INSERT INTO events (run_id, seq, data)
SELECT run.run_id, e.seq, e.data
FROM run, unnest(%(seqs)s::integer[], %(datas)s::bytea[]) AS e (seq, data)
"""
_TOUCH_RUN: LiteralString = "UPDATE runs SET updated_at = %s WHERE run_id = %s"
_LOAD: LiteralString = "SELECT data FROM events WHERE run_id = %s AND seq > %s ORDER BY seq"
_RUN_EXISTS: LiteralString = "SELECT 1 FROM runs WHERE run_id = %s"
_GET_RUN: LiteralString = (
    "SELECT run_id, status, name, created_at, updated_at, events FROM runs WHERE run_id = %s"
)
_LIST_RUNS: LiteralString = (
    "SELECT run_id, status, name, created_at, updated_at, events FROM runs"
    " ORDER BY created_at DESC LIMIT %s"
)
# The approval events of the runs that wait: picked by their encoded prefix, so the rest of
# each journal is neither decoded nor sent.
_WAITING_APPROVALS: LiteralString = (
    "SELECT e.data FROM runs AS r JOIN events AS e ON e.run_id = r.run_id"
    " WHERE r.status = 'waiting' AND substring(e.data FROM 1 FOR %(n)s) = %(prefix)s"
    " ORDER BY e.run_id, e.seq"
)
# One statement for a whole batch (its pairs are distinct: summed before), each pair's sums
# growing in place; concurrent writers serialise on the pair's row.
_ADD_OUTCOMES: LiteralString = """
INSERT INTO outcomes (kind, agent, runs, successes, checked, checks_passed, cost_usd, cost_runs,
    latency_s, updated_at)
SELECT * FROM unnest(%(kind)s::text[], %(agent)s::text[], %(runs)s::bigint[],
    %(successes)s::bigint[], %(checked)s::bigint[], %(checks_passed)s::bigint[],
    %(cost_usd)s::float8[], %(cost_runs)s::bigint[], %(latency_s)s::float8[],
    %(updated_at)s::float8[])
ON CONFLICT (kind, agent) DO UPDATE SET
    runs = outcomes.runs + excluded.runs,
    successes = outcomes.successes + excluded.successes,
    checked = outcomes.checked + excluded.checked,
    checks_passed = outcomes.checks_passed + excluded.checks_passed,
    cost_usd = outcomes.cost_usd + excluded.cost_usd,
    cost_runs = outcomes.cost_runs + excluded.cost_runs,
    latency_s = outcomes.latency_s + excluded.latency_s,
    updated_at = greatest(outcomes.updated_at, excluded.updated_at)
"""
_OUTCOME_STATS: LiteralString = """
SELECT kind, agent, runs, successes, checked, checks_passed, cost_usd, cost_runs, latency_s,
    updated_at
FROM outcomes WHERE %(kinds)s::text[] IS NULL OR kind = ANY(%(kinds)s::text[])
ORDER BY kind, agent
"""


class PostgresStore:
    """Journals in a Postgres database.

    Args:
        url: A libpq connection URL, ``postgresql://user@host:port/dbname``.
        schema: The Postgres schema holding the tables, created if missing; ``None`` uses the
            connection's default search path. Lets several stores (or tests) share one database.
    """

    def __init__(self, url: str, *, schema: str | None = None) -> None:
        self.url = url
        self.schema = schema
        self._conn: psycopg.AsyncConnection[Any] | None = None
        self._lock = asyncio.Lock()

    def __repr__(self) -> str:
        schema = f", schema={self.schema!r}" if self.schema else ""
        return f"PostgresStore({_describe(self.url)!r}{schema})"

    async def open(self) -> None:
        if self._conn is not None:
            return
        try:
            conn = await psycopg.AsyncConnection.connect(self.url, autocommit=True)
        except psycopg.Error as exc:
            raise StoreError(
                f"cannot connect to the Postgres store {_describe(self.url)}: {exc}"
            ) from exc
        try:
            await self._setup(conn)
        except BaseException:
            await conn.close()
            raise
        self._conn = conn

    async def _setup(self, conn: psycopg.AsyncConnection[Any]) -> None:
        try:
            if self.schema is not None:
                name = sql.Identifier(self.schema)
                await conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(name))
                await conn.execute(sql.SQL("SET search_path TO {}").format(name))
            async with conn.transaction():
                for statement in _SCHEMA:
                    await conn.execute(statement)
        except psycopg.Error as exc:
            raise StoreError(f"cannot create the schema of {self!r}: {exc}") from exc

    async def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            async with self._lock:
                await conn.close()

    async def create_run(self, run_id: str, submitted: RunSubmitted, *, name: str = "") -> bool:
        params = {
            "run_id": run_id,
            "name": name,
            "ts": submitted.ts,
            "seq": submitted.seq,
            "data": encode(submitted),
        }
        async with self._connection("create a run in") as conn:
            cur = await conn.execute(_CREATE_RUN, params)
        return cur.rowcount > 0

    async def append(self, run_id: str, events: Sequence[Event]) -> None:
        now = time.time()
        async with self._connection("append to") as conn:
            if not events:
                cur = await conn.execute(_TOUCH_RUN, (now, run_id))
            else:
                params = {
                    "status": status_after(events),
                    "now": now,
                    "n": len(events),
                    "run_id": run_id,
                    "seqs": [ev.seq for ev in events],
                    "datas": [encode(ev) for ev in events],
                }
                try:
                    cur = await conn.execute(_APPEND, params)
                except psycopg.errors.UniqueViolation as exc:
                    raise JournalConflict(
                        f"run {run_id!r}: one of the event seqs {params['seqs']} is already taken"
                        f" in {self!r} (another writer drives this run)"
                    ) from exc
        if cur.rowcount == 0:
            raise RunNotFound(f"no run {run_id!r} in {self!r}")

    async def load(self, run_id: str, *, after_seq: int = -1) -> list[AnyEvent]:
        async with self._connection("read") as conn:
            cur = await conn.execute(_LOAD, (run_id, after_seq), binary=True)
            rows = await cur.fetchall()
            if not rows:
                cur = await conn.execute(_RUN_EXISTS, (run_id,))
                if await cur.fetchone() is None:
                    raise RunNotFound(f"no run {run_id!r} in {self!r}")
        # One decode of a JSON array is much faster than one decode per event.
        return decode_many(b"[" + b",".join(row[0] for row in rows) + b"]")

    async def get_run(self, run_id: str) -> RunInfo | None:
        async with self._connection("read") as conn:
            cur = await conn.execute(_GET_RUN, (run_id,))
            row = await cur.fetchone()
        return None if row is None else run_info_from_row(row)

    async def list_runs(self, *, limit: int = 100) -> list[RunInfo]:
        async with self._connection("read") as conn:
            cur = await conn.execute(_LIST_RUNS, (limit,))
            rows = await cur.fetchall()
        return [run_info_from_row(row) for row in rows]

    async def pending_approvals(self, *, limit: int = 1000) -> list[ApprovalRequested]:
        params = {"n": len(APPROVAL_PREFIX), "prefix": APPROVAL_PREFIX}
        async with self._connection("read") as conn:
            cur = await conn.execute(_WAITING_APPROVALS, params, binary=True)
            rows = await cur.fetchall()
        events = decode_many(b"[" + b",".join(row[0] for row in rows) + b"]")
        return pending_requests(events, limit=limit)

    async def record_outcomes(self, outcomes: Sequence[Outcome]) -> None:
        pairs = list(aggregate(outcomes).values())
        if not pairs:
            return
        columns = {name: [getattr(p, name) for p in pairs] for name in _OUTCOME_FIELDS}
        async with self._connection("record outcomes in") as conn:
            await conn.execute(_ADD_OUTCOMES, columns)

    async def outcome_stats(self, *, kinds: Collection[str] | None = None) -> list[OutcomeStats]:
        wanted = None if kinds is None else sorted(set(kinds))
        async with self._connection("read") as conn:
            cur = await conn.execute(_OUTCOME_STATS, {"kinds": wanted})
            rows = await cur.fetchall()
        return [OutcomeStats(**dict(zip(_OUTCOME_FIELDS, row, strict=True))) for row in rows]

    @asynccontextmanager
    async def _connection(self, what: str) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
        """The connection, held alone; psycopg errors become `StoreError`s."""
        conn = self._conn
        if conn is None:
            raise StoreError(f"{self!r} is not open; call open() first")
        async with self._lock:
            try:
                yield conn
            except psycopg.Error as exc:
                raise StoreError(f"cannot {what} {self!r}: {exc}") from exc


_OUTCOME_FIELDS = (
    "kind",
    "agent",
    "runs",
    "successes",
    "checked",
    "checks_passed",
    "cost_usd",
    "cost_runs",
    "latency_s",
    "updated_at",
)


def _describe(url: str) -> str:
    """The server and database of a URL, without its password (for messages)."""
    try:
        params = conninfo_to_dict(url)
    except psycopg.Error:
        return "<an invalid Postgres URL>"
    host = params.get("host") or "localhost"
    port = params.get("port") or 5432
    user = f"{params['user']}@" if params.get("user") else ""
    return f"postgresql://{user}{host}:{port}/{params.get('dbname') or ''}"
