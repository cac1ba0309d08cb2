"""What both sides of the benchmark share: the case protocol, a park gate, memory probes, the
Postgres server the durable Postgres shapes use."""

from __future__ import annotations

import asyncio
import gc
import os
import resource
import tracemalloc
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict

CHAIN_STEPS = 100
FANOUT_WIDTH = 100
SLEEP_S = 0.05
CONCURRENT_STEPS = 5
PARKED_STEPS = 3
CONCURRENT_SQLITE_RUNS = 1_000
CONCURRENT_POSTGRES_RUNS = 200
LANGGRAPH_POOL = 20
"""Connections in the psycopg pool that LangGraph's `AsyncPostgresSaver` is given."""

POSTGRES_ENV = "PODIUM_BENCH_POSTGRES"
DEFAULT_POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"


class Case(Protocol):
    """One side of one measure: set up once, then time `once()` repeatedly."""

    label: str
    """How the case is configured (shown under the table)."""

    async def setup(self) -> None: ...

    async def once(self) -> float:
        """Do one repetition; return its wall time in seconds."""
        ...

    async def teardown(self) -> None: ...


class Gate:
    """Holds every task that calls `wait()` until `release()`; counts who arrived."""

    def __init__(self) -> None:
        self.reset(0)

    def reset(self, expected: int) -> None:
        self.expected = expected
        self.arrived = 0
        self.all_in = asyncio.Event()
        self.open = asyncio.Event()

    async def wait(self) -> None:
        self.arrived += 1
        if self.arrived >= self.expected:
            self.all_in.set()
        await self.open.wait()


GATE = Gate()
"""The gate that the parked-run shapes of both sides wait on (one process measures one side)."""


def rss_bytes() -> int:
    """The resident set size of this process right now."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:  # not Linux: fall back to the peak, in KiB on Linux, bytes on macOS
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


@dataclass(frozen=True, slots=True)
class ParkedMemory:
    runs: int
    rss_delta: int
    traced: int


async def _park(
    launch: Callable[[int], Awaitable[object]], runs: int
) -> asyncio.Future[list[object]]:
    """Start `runs` runs and return once every one of them waits at the gate."""
    GATE.reset(runs)
    everything = asyncio.gather(*(launch(i) for i in range(runs)))
    await GATE.all_in.wait()
    return everything


async def parked_memory(launch: Callable[[int], Awaitable[object]], runs: int) -> ParkedMemory:
    """Memory held while `runs` runs are all in flight, parked at the gate.

    First pass: RSS delta (no tracing). Second pass: Python allocations seen by tracemalloc.
    """
    for _ in range(2):  # warm-up: imports, caches, interned strings
        everything = await _park(launch, 50)
        GATE.open.set()
        await everything
    gc.collect()
    base = rss_bytes()
    everything = await _park(launch, runs)
    rss_delta = rss_bytes() - base
    GATE.open.set()
    await everything
    del everything
    gc.collect()

    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        everything = await _park(launch, runs)
        traced = tracemalloc.get_traced_memory()[0] - before
        GATE.open.set()
        await everything
    finally:
        tracemalloc.stop()
    return ParkedMemory(runs=runs, rss_delta=rss_delta, traced=traced)


@dataclass(frozen=True, slots=True)
class JournalSize:
    """How much a durable run leaves on disk."""

    records: int
    """Events (Podium) or checkpoints + writes (LangGraph)."""
    payload_bytes: int
    """Encoded events, or serialized checkpoint, metadata and write blobs."""
    file_bytes: int
    """The SQLite file (plus its WAL, if any) after the connection closed."""


def sqlite_file_bytes(path: str) -> int:
    total = 0
    for suffix in ("", "-wal"):
        if os.path.exists(path + suffix):
            total += os.path.getsize(path + suffix)
    return total


# -- the Postgres server of the durable Postgres shapes ---------------------------------------


def postgres_url() -> str:
    """The server the Postgres shapes use: ``$PODIUM_BENCH_POSTGRES``, else the test server."""
    return os.environ.get(POSTGRES_ENV) or DEFAULT_POSTGRES


def postgres_where() -> str:
    """The server and database of `postgres_url`, without user or password (for notes)."""
    params = conninfo_to_dict(postgres_url())
    host = params.get("host") or "localhost"
    return f"{host}:{params.get('port') or 5432}/{params.get('dbname') or ''}"


def postgres_unreachable() -> str | None:
    """Why the Postgres server cannot be used, or ``None`` when it can."""
    try:
        with psycopg.connect(postgres_url(), connect_timeout=3):
            return None
    except psycopg.Error as exc:
        return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def new_schema(prefix: str) -> str:
    """A fresh, empty schema for one case's tables (dropped by `drop_schema`)."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(postgres_url(), autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(name)))
    return name


def drop_schema(name: str) -> None:
    with psycopg.connect(postgres_url(), autocommit=True) as conn:
        conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(name)))
