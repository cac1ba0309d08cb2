"""A Postgres store, on psycopg 3's async connection.

One connection, used by one coroutine at a time (an `asyncio.Lock` guards it). Every write is a
single statement: `append` updates the run's row and inserts its events in one statement whose
CTE makes them land together. A single statement is its own transaction in autocommit mode, so
an append costs one round trip to the server instead of three (BEGIN, the statement, COMMIT),
and stays atomic: a duplicate `seq` aborts the whole statement. The lease check (fencing) is in
the same statement's ``WHERE``, so it costs nothing more.

Lease expiries are on the server's clock, so drivers on several machines agree on them. A
dropped connection or a server restart is retried with backoff on a new connection; an append
whose reply was lost is checked against the journal before it is sent again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Collection, Sequence
from typing import Any, LiteralString, TypeVar

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict

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
    lease_held,
    lease_lost,
    pending_requests,
    run_info_from_row,
    status_after,
)
from podium.store._retry import DEFAULT_RETRY_S, Backoff

log = logging.getLogger(__name__)

T = TypeVar("T")
Conn = psycopg.AsyncConnection[Any]


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
    "ALTER TABLE runs ADD COLUMN IF NOT EXISTS lease_owner TEXT",
    "ALTER TABLE runs ADD COLUMN IF NOT EXISTS lease_token BIGINT NOT NULL DEFAULT 0",
    "ALTER TABLE runs ADD COLUMN IF NOT EXISTS lease_expires DOUBLE PRECISION",
    "ALTER TABLE runs ADD COLUMN IF NOT EXISTS cancel_reason TEXT",
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
    INSERT INTO runs (run_id, status, name, created_at, updated_at, events, lease_owner,
        lease_token, lease_expires)
    VALUES (%(run_id)s, 'running', %(name)s, %(ts)s, %(ts)s, 1, %(owner)s::text,
        CASE WHEN %(owner)s::text IS NULL THEN 0 ELSE 1 END,
        CASE WHEN %(owner)s::text IS NULL THEN NULL
            ELSE extract(epoch FROM clock_timestamp()) + %(lease_s)s END)
    ON CONFLICT (run_id) DO NOTHING
    RETURNING run_id
)
INSERT INTO events (run_id, seq, data) SELECT run_id, %(seq)s, %(data)s FROM run
"""
# The INSERT reads the UPDATE's RETURNING, so an unknown run, or an append its lease does not
# allow, inserts nothing (rowcount 0); `_why_refused` then says which.
_APPEND: LiteralString = """
WITH run AS (
    UPDATE runs SET status = coalesce(%(status)s, status), updated_at = %(now)s,
        events = events + %(n)s,
        lease_owner = CASE WHEN %(release)s THEN NULL ELSE lease_owner END,
        lease_expires = CASE WHEN %(release)s THEN NULL ELSE lease_expires END,
        cancel_reason = CASE WHEN %(final)s THEN NULL ELSE cancel_reason END
    WHERE run_id = %(run_id)s AND CASE WHEN %(fence)s::bigint IS NULL
        THEN lease_owner IS NULL OR lease_expires < extract(epoch FROM clock_timestamp())
        ELSE lease_owner IS NOT NULL AND lease_token = %(fence)s::bigint END
    RETURNING run_id
)
INSERT INTO events (run_id, seq, data)
SELECT run.run_id, e.seq, e.data
FROM run, unnest(%(seqs)s::integer[], %(datas)s::bytea[]) AS e (seq, data)
"""
_TOUCH_RUN: LiteralString = "UPDATE runs SET updated_at = %s WHERE run_id = %s"
_LEASE: LiteralString = (
    "SELECT lease_owner, lease_token, lease_expires, extract(epoch FROM clock_timestamp())"
    " FROM runs WHERE run_id = %s"
)
_ACQUIRE: LiteralString = """
UPDATE runs SET
    lease_token = CASE WHEN lease_owner IS NOT DISTINCT FROM %(owner)s THEN lease_token
        ELSE lease_token + 1 END,
    lease_owner = %(owner)s,
    lease_expires = extract(epoch FROM clock_timestamp()) + %(lease_s)s
WHERE run_id = %(run_id)s AND (lease_owner IS NULL OR lease_owner = %(owner)s
    OR lease_expires IS NULL OR lease_expires < extract(epoch FROM clock_timestamp())
    OR lease_token = %(takeover)s::bigint)
RETURNING lease_token, lease_expires, cancel_reason
"""
_RENEW: LiteralString = """
UPDATE runs SET lease_expires = extract(epoch FROM clock_timestamp()) + %(lease_s)s
WHERE run_id = %(run_id)s AND lease_token = %(token)s AND lease_owner IS NOT NULL
RETURNING lease_expires, cancel_reason
"""
_RELEASE: LiteralString = (
    "UPDATE runs SET lease_owner = NULL, lease_expires = NULL"
    " WHERE run_id = %s AND lease_token = %s"
)
_REQUEST_CANCEL: LiteralString = "UPDATE runs SET cancel_reason = %s WHERE run_id = %s"
_SEQS_OF: LiteralString = "SELECT seq, data FROM events WHERE run_id = %s AND seq = ANY(%s)"
_LOAD: LiteralString = "SELECT data FROM events WHERE run_id = %s AND seq > %s ORDER BY seq"
_RUN_EXISTS: LiteralString = "SELECT 1 FROM runs WHERE run_id = %s"
_RUN_COLUMNS: LiteralString = (
    "run_id, status, name, created_at, updated_at, events, lease_owner, lease_expires"
)
_GET_RUN: LiteralString = "SELECT " + _RUN_COLUMNS + " FROM runs WHERE run_id = %s"
_LIST_RUNS: LiteralString = (
    "SELECT " + _RUN_COLUMNS + " FROM runs ORDER BY created_at DESC LIMIT %s"
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
        retry_s: how long a dropped connection or a restarting server is retried (on a new
            connection) before an operation raises `StoreError`.
    """

    def __init__(
        self, url: str, *, schema: str | None = None, retry_s: float = DEFAULT_RETRY_S
    ) -> None:
        self.url = url
        self.schema = schema
        self.retry_s = retry_s
        self._conn: Conn | None = None
        self._opened = False
        self._lock = asyncio.Lock()

    def __repr__(self) -> str:
        schema = f", schema={self.schema!r}" if self.schema else ""
        return f"PostgresStore({_describe(self.url)!r}{schema})"

    async def open(self) -> None:
        if self._opened:
            return
        conn = await self._connect()
        try:
            await self._setup(conn)
        except BaseException:
            await conn.close()
            raise
        self._conn = conn
        self._opened = True

    async def _connect(self) -> Conn:
        try:
            conn = await psycopg.AsyncConnection.connect(
                self.url,
                autocommit=True,
                connect_timeout=5,
                # notice a server that went away in seconds, not at the kernel's default hours
                keepalives=1,
                keepalives_idle=5,
                keepalives_interval=2,
                keepalives_count=3,
            )
        except psycopg.Error as exc:
            raise StoreError(
                f"cannot connect to the Postgres store {_describe(self.url)}: {exc}"
            ) from exc
        if self.schema is not None:
            try:
                name = sql.Identifier(self.schema)
                await conn.execute(sql.SQL("SET search_path TO {}").format(name))
            except BaseException:
                await conn.close()
                raise
        return conn

    async def _setup(self, conn: Conn) -> None:
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
        self._opened = False
        conn, self._conn = self._conn, None
        if conn is not None:
            async with self._lock:
                await conn.close()

    async def create_run(
        self,
        run_id: str,
        submitted: RunSubmitted,
        *,
        name: str = "",
        owner: str | None = None,
        lease_s: float = DEFAULT_LEASE_S,
    ) -> bool:
        params = {
            "run_id": run_id,
            "name": name,
            "ts": submitted.ts,
            "seq": submitted.seq,
            "data": encode(submitted),
            "owner": owner,
            "lease_s": lease_s,
        }

        async def create(conn: Conn) -> bool:
            cur = await conn.execute(_CREATE_RUN, params)
            return cur.rowcount > 0

        return await self._run("create a run in", create)

    async def append(
        self, run_id: str, events: Sequence[Event], *, fence: int | None = None
    ) -> None:
        now = time.time()
        if not events:
            await self._run("append to", lambda conn: self._touch(conn, run_id, now))
            return
        status = status_after(events)
        seqs = [ev.seq for ev in events]
        datas = [encode(ev) for ev in events]
        params = {
            "status": status,
            "now": now,
            "n": len(events),
            "run_id": run_id,
            "seqs": seqs,
            "datas": datas,
            "fence": fence,
            "release": status in UNLEASED,
            "final": status in FINAL,
        }
        retried = False

        async def append(conn: Conn) -> None:
            nonlocal retried
            if retried and await _landed(conn, run_id, seqs, datas):
                return  # the first try committed; only its reply was lost
            retried = True
            try:
                cur = await conn.execute(_APPEND, params)
            except psycopg.errors.UniqueViolation as exc:
                raise JournalConflict(
                    f"run {run_id!r}: one of the event seqs {params['seqs']} is already taken"
                    f" in {self!r} (another writer drives this run)"
                ) from exc
            if cur.rowcount == 0:
                await self._why_refused(conn, run_id, fence)

        await self._run("append to", append)

    async def _touch(self, conn: Conn, run_id: str, now: float) -> None:
        cur = await conn.execute(_TOUCH_RUN, (now, run_id))
        if cur.rowcount == 0:
            raise RunNotFound(f"no run {run_id!r} in {self!r}")

    async def _why_refused(self, conn: Conn, run_id: str, fence: int | None) -> None:
        """Raise why an append landed nothing: no such run, or its lease does not allow it."""
        cur = await conn.execute(_LEASE, (run_id,))
        row = await cur.fetchone()
        if row is None:
            raise RunNotFound(f"no run {run_id!r} in {self!r}")
        owner, token, expires, now = row
        check_fence(run_id, fence, (owner, token, expires), float(now))
        raise JournalConflict(f"run {run_id!r}: its lease changed during the append; try again")

    async def acquire(
        self,
        run_id: str,
        owner: str,
        *,
        lease_s: float = DEFAULT_LEASE_S,
        takeover: int | None = None,
    ) -> Lease:
        params = {"run_id": run_id, "owner": owner, "lease_s": lease_s, "takeover": takeover}

        async def take(conn: Conn) -> Lease:
            cur = await conn.execute(_ACQUIRE, params)
            row = await cur.fetchone()
            if row is not None:
                token, expires, cancel = row
                return Lease(
                    run_id=run_id, owner=owner, token=token, expires_at=expires, cancel=cancel
                )
            cur = await conn.execute(_LEASE, (run_id,))
            held = await cur.fetchone()
            if held is None:
                raise RunNotFound(f"no run {run_id!r} in {self!r}")
            raise lease_held(run_id, (held[0], held[1], held[2]))

        return await self._run("take a lease in", take)

    async def renew(self, lease: Lease, *, lease_s: float = DEFAULT_LEASE_S) -> Lease:
        params = {"run_id": lease.run_id, "token": lease.token, "lease_s": lease_s}

        async def renew(conn: Conn) -> Lease:
            cur = await conn.execute(_RENEW, params)
            row = await cur.fetchone()
            if row is None:
                cur = await conn.execute(_LEASE, (lease.run_id,))
                held = await cur.fetchone()
                raise lease_lost(lease, None if held is None else held[0])
            return Lease(
                run_id=lease.run_id,
                owner=lease.owner,
                token=lease.token,
                expires_at=row[0],
                cancel=row[1],
            )

        return await self._run("renew a lease in", renew)

    async def release(self, lease: Lease) -> None:
        async def release(conn: Conn) -> None:
            await conn.execute(_RELEASE, (lease.run_id, lease.token))

        await self._run("release a lease in", release)

    async def request_cancel(self, run_id: str, reason: str) -> None:
        async def request(conn: Conn) -> None:
            cur = await conn.execute(_REQUEST_CANCEL, (reason, run_id))
            if cur.rowcount == 0:
                raise RunNotFound(f"no run {run_id!r} in {self!r}")

        await self._run("request a cancel in", request)

    async def load(self, run_id: str, *, after_seq: int = -1) -> list[AnyEvent]:
        async def read(conn: Conn) -> list[Any]:
            cur = await conn.execute(_LOAD, (run_id, after_seq), binary=True)
            rows = await cur.fetchall()
            if not rows:
                cur = await conn.execute(_RUN_EXISTS, (run_id,))
                if await cur.fetchone() is None:
                    raise RunNotFound(f"no run {run_id!r} in {self!r}")
            return rows

        rows = await self._run("read", read)
        # One decode of a JSON array is much faster than one decode per event.
        return decode_many(b"[" + b",".join(row[0] for row in rows) + b"]")

    async def _fetch(
        self, query: LiteralString, params: Any, *, binary: bool = False
    ) -> list[tuple[Any, ...]]:
        async def fetch(conn: Conn) -> list[tuple[Any, ...]]:
            cur = await conn.execute(query, params, binary=binary)
            return await cur.fetchall()

        return await self._run("read", fetch)

    async def get_run(self, run_id: str) -> RunInfo | None:
        rows = await self._fetch(_GET_RUN, (run_id,))
        return run_info_from_row(rows[0]) if rows else None

    async def list_runs(self, *, limit: int = 100) -> list[RunInfo]:
        return [run_info_from_row(row) for row in await self._fetch(_LIST_RUNS, (limit,))]

    async def pending_approvals(self, *, limit: int = 1000) -> list[ApprovalRequested]:
        params = {"n": len(APPROVAL_PREFIX), "prefix": APPROVAL_PREFIX}
        rows = await self._fetch(_WAITING_APPROVALS, params, binary=True)
        events = decode_many(b"[" + b",".join(row[0] for row in rows) + b"]")
        return pending_requests(events, limit=limit)

    async def record_outcomes(self, outcomes: Sequence[Outcome]) -> None:
        pairs = list(aggregate(outcomes).values())
        if not pairs:
            return
        columns = {name: [getattr(p, name) for p in pairs] for name in _OUTCOME_FIELDS}

        async def add(conn: Conn) -> None:
            await conn.execute(_ADD_OUTCOMES, columns)

        await self._run("record outcomes in", add)

    async def outcome_stats(self, *, kinds: Collection[str] | None = None) -> list[OutcomeStats]:
        wanted = None if kinds is None else sorted(set(kinds))
        rows = await self._fetch(_OUTCOME_STATS, {"kinds": wanted})
        return [OutcomeStats(**dict(zip(_OUTCOME_FIELDS, row, strict=True))) for row in rows]

    async def _run(self, what: str, fn: Callable[[Conn], Awaitable[T]]) -> T:
        """`fn` on the connection, held alone. A dropped connection or a server that restarts
        is retried on a new connection with backoff for `retry_s`; other psycopg errors, and
        what still fails then, become `StoreError`s."""
        if not self._opened:
            raise StoreError(f"{self!r} is not open; call open() first")
        backoff: Backoff | None = None
        async with self._lock:
            while True:
                try:
                    conn = self._conn or await self._reconnect()
                    return await fn(conn)
                except psycopg.Error as exc:
                    error: BaseException = exc
                except StoreError as exc:  # reconnecting failed
                    if not isinstance(exc.__cause__, psycopg.OperationalError):
                        raise
                    error = exc.__cause__
                if not _transient(error):
                    raise StoreError(f"cannot {what} {self!r}: {error}") from error
                await self._drop_broken()
                backoff = backoff or Backoff(self.retry_s)
                delay = backoff.next_delay()
                if delay is None:
                    raise StoreError(
                        f"cannot {what} {self!r}: {error} (still failing after"
                        f" {backoff.tries} retries in {self.retry_s:g}s)"
                    ) from error
                log.warning("%r: %s failed (%s); retrying in %.2fs", self, what, error, delay)
                await asyncio.sleep(delay)

    async def _reconnect(self) -> Conn:
        self._conn = await self._connect()
        log.info("%r: reconnected", self)
        return self._conn

    async def _drop_broken(self) -> None:
        conn = self._conn
        if conn is not None and (conn.closed or conn.broken):
            self._conn = None
            with contextlib.suppress(psycopg.Error):
                await conn.close()


def _transient(exc: BaseException) -> bool:
    """Errors worth retrying: the connection or the server went away, a restart, a conflict
    the server asks to retry."""
    if isinstance(exc, psycopg.errors.TransactionRollback):  # serialisation, deadlock
        return True
    if isinstance(exc, psycopg.OperationalError):
        state = getattr(exc, "sqlstate", None)
        # connection failures (08…), shutdowns and restarts (57P0…); no sqlstate: the client
        # lost the connection
        return state is None or state.startswith(("08", "57P"))
    return isinstance(exc, psycopg.InterfaceError)


async def _landed(conn: Conn, run_id: str, seqs: list[int], datas: list[bytes]) -> bool:
    """Whether an earlier try of an append committed: all its events are there, as sent."""
    cur = await conn.execute(_SEQS_OF, (run_id, seqs), binary=True)
    stored = {seq: bytes(data) for seq, data in await cur.fetchall()}
    return all(stored.get(seq) == data for seq, data in zip(seqs, datas, strict=True))


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
