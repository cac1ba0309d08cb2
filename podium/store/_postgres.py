"""A Postgres store, on psycopg 3: a pool of connections, and journal appends committed in
groups.

Appends go through one connection of their own, one group at a time (`GroupCommit`): an append
that finds nobody writing is sent at once; those that arrive while a group is being committed
are sent together next, as one statement (`_postgres_batch`). So concurrent runs share commits
instead of queuing for them one by one, and a lone run's step costs one round trip, as before.
A single statement in autocommit mode is its own transaction: atomic, and no BEGIN or COMMIT
round trips. The lease check (fencing) is in the same statement.

Everything else (reads, run creation, leases, outcomes) takes a connection from a bounded pool
(psycopg_pool), so reads and writes of different runs do not wait for each other's round trips.
Runs created concurrently are grouped the same way (one statement inserts them all), and
outcomes recorded concurrently are summed into one statement.

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
from psycopg_pool import AsyncConnectionPool

from podium.events import AnyEvent, ApprovalRequested, Event, RunSubmitted, Usage, decode_many
from podium.exceptions import RunNotFound, StoreError
from podium.store import _postgres_sql as q
from podium.store._group import GroupCommit, Write, fail_all
from podium.store._lease import DEFAULT_LEASE_S, Lease
from podium.store._outcomes import Outcome, OutcomeStats, aggregate
from podium.store._postgres_batch import (
    PendingAppend,
    PendingCreate,
    append_batch,
    create_batch,
    run_of,
)
from podium.store._protocol import (
    APPROVAL_PREFIX,
    USAGE_PREFIXES,
    RunInfo,
    lease_held,
    lease_lost,
    pending_requests,
    run_info_from_row,
    usage_from_rows,
)
from podium.store._retry import DEFAULT_RETRY_S, Backoff

log = logging.getLogger(__name__)

T = TypeVar("T")
Conn = psycopg.AsyncConnection[Any]

DEFAULT_POOL_SIZE = 10
"""Connections a store's pool opens at most (besides the one its appends use)."""

_CONNECT: dict[str, Any] = {
    "autocommit": True,
    "connect_timeout": 5,
    # notice a server that went away in seconds, not at the kernel's default hours
    "keepalives": 1,
    "keepalives_idle": 5,
    "keepalives_interval": 2,
    "keepalives_count": 3,
}


class PostgresStore:
    """Journals in a Postgres database.

    Args:
        url: A libpq connection URL, ``postgresql://user@host:port/dbname``.
        schema: The Postgres schema holding the tables, created if missing; ``None`` uses the
            connection's default search path. Lets several stores (or tests) share one database.
        retry_s: how long a dropped connection or a restarting server is retried (on a new
            connection) before an operation raises `StoreError`.
        max_size: the most connections the pool opens for reads and other writes; appends use
            one more, their own.
    """

    def __init__(
        self,
        url: str,
        *,
        schema: str | None = None,
        retry_s: float = DEFAULT_RETRY_S,
        max_size: int = DEFAULT_POOL_SIZE,
    ) -> None:
        self.url = url
        self.schema = schema
        self.retry_s = retry_s
        self.max_size = max_size
        self.commits = 0
        """Write transactions this store committed (for tests and benchmarks)."""
        self._conn: Conn | None = None
        """The connection appends go through, one group at a time."""
        self._pool: AsyncConnectionPool[Conn] | None = None
        self._opened = False
        self._where = repr(self)
        self._appends = GroupCommit(self._commit_appends, key=run_of)
        self._creates = GroupCommit(self._commit_creates, key=run_of)
        self._outcomes = GroupCommit(self._commit_outcomes)

    def __repr__(self) -> str:
        schema = f", schema={self.schema!r}" if self.schema else ""
        return f"PostgresStore({_describe(self.url)!r}{schema})"

    async def open(self) -> None:
        if self._opened:
            return
        conn = await self._connect()
        try:
            await self._setup(conn)
            pool: AsyncConnectionPool[Conn] = AsyncConnectionPool(
                self.url,
                kwargs=dict(_CONNECT),
                min_size=1,
                max_size=self.max_size,
                configure=self._configure,
                open=False,
                name=self._where,
            )
            try:
                await pool.open(wait=True, timeout=_CONNECT["connect_timeout"] * 2)
            except psycopg.Error as exc:
                await pool.close()
                raise StoreError(f"cannot connect to {self._where}: {exc}") from exc
        except BaseException:
            await conn.close()
            raise
        self._conn, self._pool = conn, pool
        self._opened = True

    async def _connect(self) -> Conn:
        try:
            conn = await psycopg.AsyncConnection.connect(self.url, **_CONNECT)
        except psycopg.Error as exc:
            raise StoreError(
                f"cannot connect to the Postgres store {_describe(self.url)}: {exc}"
            ) from exc
        try:
            await self._configure(conn)
        except BaseException:
            await conn.close()
            raise
        return conn

    async def _configure(self, conn: Conn) -> None:
        if self.schema is not None:
            name = sql.Identifier(self.schema)
            await conn.execute(sql.SQL("SET search_path TO {}").format(name))

    async def _setup(self, conn: Conn) -> None:
        try:
            if self.schema is not None:
                name = sql.Identifier(self.schema)
                await conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(name))
                await conn.execute(sql.SQL("SET search_path TO {}").format(name))
            async with conn.transaction():
                for statement in q.SCHEMA:
                    await conn.execute(statement)
        except psycopg.Error as exc:
            raise StoreError(f"cannot create the schema of {self!r}: {exc}") from exc

    async def close(self) -> None:
        self._opened = False
        conn, self._conn = self._conn, None
        pool, self._pool = self._pool, None
        if conn is not None:
            await conn.close()
        if pool is not None:
            await pool.close()

    async def create_run(
        self,
        run_id: str,
        submitted: RunSubmitted,
        *,
        name: str = "",
        owner: str | None = None,
        lease_s: float = DEFAULT_LEASE_S,
    ) -> bool:
        self._check_open()
        created = await self._creates.submit(PendingCreate(run_id, submitted, name, owner, lease_s))
        return bool(created)

    async def _commit_creates(self, batch: Sequence[Write[PendingCreate]]) -> None:
        try:
            await self._run("create a run in", lambda conn: create_batch(conn, batch), write=True)
        except StoreError as exc:
            fail_all(batch, exc)

    async def append(
        self, run_id: str, events: Sequence[Event], *, fence: int | None = None
    ) -> None:
        if not events:
            now = time.time()
            await self._run("append to", lambda conn: self._touch(conn, run_id, now), write=True)
            return
        self._check_open()
        await self._appends.submit(PendingAppend(run_id, events, fence))

    async def _commit_appends(self, batch: Sequence[Write[PendingAppend]]) -> None:
        """Commit a group of appends (at most one per run) on the appends' connection."""

        async def attempt(_: float) -> int:
            conn = self._conn or await self._reconnect()
            return await append_batch(conn, batch, self._where)

        try:
            self.commits += await self._retrying("append to", attempt, self._drop_broken)
        except StoreError as exc:
            fail_all(batch, exc)

    async def _touch(self, conn: Conn, run_id: str, now: float) -> None:
        cur = await conn.execute(q.TOUCH_RUN, (now, run_id))
        if cur.rowcount == 0:
            raise RunNotFound(f"no run {run_id!r} in {self!r}")

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
            cur = await conn.execute(q.ACQUIRE, params)
            row = await cur.fetchone()
            if row is not None:
                token, expires, cancel = row
                return Lease(
                    run_id=run_id, owner=owner, token=token, expires_at=expires, cancel=cancel
                )
            cur = await conn.execute(q.LEASE, (run_id,))
            held = await cur.fetchone()
            if held is None:
                raise RunNotFound(f"no run {run_id!r} in {self!r}")
            raise lease_held(run_id, (held[0], held[1], held[2]))

        return await self._run("take a lease in", take, write=True)

    async def renew(self, lease: Lease, *, lease_s: float = DEFAULT_LEASE_S) -> Lease:
        params = {"run_id": lease.run_id, "token": lease.token, "lease_s": lease_s}

        async def renew(conn: Conn) -> Lease:
            cur = await conn.execute(q.RENEW, params)
            row = await cur.fetchone()
            if row is None:
                cur = await conn.execute(q.LEASE, (lease.run_id,))
                held = await cur.fetchone()
                raise lease_lost(lease, None if held is None else held[0])
            return Lease(
                run_id=lease.run_id,
                owner=lease.owner,
                token=lease.token,
                expires_at=row[0],
                cancel=row[1],
            )

        return await self._run("renew a lease in", renew, write=True)

    async def release(self, lease: Lease) -> None:
        async def release(conn: Conn) -> None:
            await conn.execute(q.RELEASE, (lease.run_id, lease.token))

        await self._run("release a lease in", release, write=True)

    async def request_cancel(self, run_id: str, reason: str) -> None:
        async def request(conn: Conn) -> None:
            cur = await conn.execute(q.REQUEST_CANCEL, (reason, run_id))
            if cur.rowcount == 0:
                raise RunNotFound(f"no run {run_id!r} in {self!r}")

        await self._run("request a cancel in", request, write=True)

    async def load(self, run_id: str, *, after_seq: int = -1) -> list[AnyEvent]:
        async def read(conn: Conn) -> list[Any]:
            cur = await conn.execute(q.LOAD, (run_id, after_seq), binary=True)
            rows = await cur.fetchall()
            if not rows:
                cur = await conn.execute(q.RUN_EXISTS, (run_id,))
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
        rows = await self._fetch(q.GET_RUN, (run_id,))
        return run_info_from_row(rows[0]) if rows else None

    async def list_runs(self, *, limit: int = 100) -> list[RunInfo]:
        return [run_info_from_row(row) for row in await self._fetch(q.LIST_RUNS, (limit,))]

    async def pending_approvals(self, *, limit: int = 1000) -> list[ApprovalRequested]:
        params = {"n": len(APPROVAL_PREFIX), "prefix": APPROVAL_PREFIX}
        rows = await self._fetch(q.WAITING_APPROVALS, params, binary=True)
        events = decode_many(b"[" + b",".join(row[0] for row in rows) + b"]")
        return pending_requests(events, limit=limit)

    async def run_usage(self, run_ids: Sequence[str]) -> dict[str, Usage]:
        if not run_ids:
            return {}
        (model, planner) = USAGE_PREFIXES
        params = {
            "ids": sorted(set(run_ids)),
            **{"n1": len(model), "p1": model, "n2": len(planner), "p2": planner},
        }
        return usage_from_rows(await self._fetch(q.RUN_USAGE, params))

    async def record_outcomes(self, outcomes: Sequence[Outcome | OutcomeStats]) -> None:
        if not outcomes:
            return
        self._check_open()
        # Concurrent recorders' outcomes are summed into one statement: they would otherwise
        # queue on the rows of the pairs they share, one commit at a time.
        await self._outcomes.submit(list(outcomes))

    async def _commit_outcomes(self, batch: Sequence[Write[list[Outcome | OutcomeStats]]]) -> None:
        pairs = list(aggregate(o for w in batch for o in w.item).values())
        columns = {name: [getattr(p, name) for p in pairs] for name in q.OUTCOME_FIELDS}

        async def add(conn: Conn) -> None:
            await conn.execute(q.ADD_OUTCOMES, columns)

        try:
            await self._run("record outcomes in", add, write=True)
        except StoreError as exc:
            fail_all(batch, exc)
            return
        for w in batch:
            w.done()

    async def outcome_stats(self, *, kinds: Collection[str] | None = None) -> list[OutcomeStats]:
        wanted = None if kinds is None else sorted(set(kinds))
        rows = await self._fetch(q.OUTCOME_STATS, {"kinds": wanted})
        return [OutcomeStats(**dict(zip(q.OUTCOME_FIELDS, row, strict=True))) for row in rows]

    def _check_open(self) -> None:
        if not self._opened:
            raise StoreError(f"{self!r} is not open; call open() first")

    async def _run(
        self, what: str, fn: Callable[[Conn], Awaitable[T]], *, write: bool = False
    ) -> T:
        """`fn` on a connection of the pool, retried as `_retrying` says; a `write` that
        succeeds counts as a commit."""

        async def attempt(wait_s: float) -> T:
            pool = self._pool
            if pool is None:
                raise StoreError(f"{self!r} is closed")
            async with pool.connection(timeout=max(wait_s, _MIN_WAIT_S)) as conn:
                return await fn(conn)

        result = await self._retrying(what, attempt, self._check_pool)
        if write:
            self.commits += 1
        return result

    async def _retrying(
        self,
        what: str,
        attempt: Callable[[float], Awaitable[T]],
        recover: Callable[[], Awaitable[None]],
    ) -> T:
        """Make `attempt`, given how long it may wait for a connection. A dropped connection or
        a server that restarts is retried with backoff for `retry_s`, after `recover` (dropping
        broken connections, so the next try makes a new one); other psycopg errors, and what
        still fails then, become `StoreError`s."""
        self._check_open()
        backoff: Backoff | None = None
        while True:
            try:
                return await attempt(self.retry_s if backoff is None else backoff.left())
            except psycopg.Error as exc:
                error: BaseException = exc
            except StoreError as exc:  # reconnecting failed
                if not isinstance(exc.__cause__, psycopg.OperationalError):
                    raise
                error = exc.__cause__
            if not _transient(error):
                raise StoreError(f"cannot {what} {self!r}: {error}") from error
            await recover()
            backoff = backoff or Backoff(self.retry_s)
            delay = backoff.next_delay()
            if delay is None:
                raise StoreError(
                    f"cannot {what} {self!r}: {error} (still failing after"
                    f" {backoff.tries} retries in {self.retry_s:g}s)"
                ) from error
            log.warning("%r: %s failed (%s); retrying in %.2fs", self, what, error, delay)
            await asyncio.sleep(delay)
            self._check_open()

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

    async def _check_pool(self) -> None:
        """After a failure on a pooled connection: drop the pool's idle connections that are
        broken too (a server restart breaks them all), so the retry gets a working one."""
        pool = self._pool
        if pool is not None:
            with contextlib.suppress(psycopg.Error):
                await pool.check()


_MIN_WAIT_S = 0.5
"""The shortest wait for a pooled connection, even when the retry budget is nearly spent."""


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
