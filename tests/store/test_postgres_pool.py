"""The Postgres store's connections: a bounded pool for reads and other writes, one connection
for appends, and all of them made again after the server drops them."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import psycopg
import pytest

from podium.events import RunSubmitted
from podium.exceptions import StoreError
from podium.store._postgres import PostgresStore
from tests.store.helpers import ready, submitted

pytestmark = [pytest.mark.anyio, pytest.mark.postgres]


def _with_name(url: str, name: str) -> str:
    """`url` with an application name, so the test can find its store's server backends."""
    return f"{url}{'&' if '?' in url else '?'}application_name={name}"


@pytest.fixture
def app_name() -> str:
    return f"podium_pool_{uuid.uuid4().hex[:10]}"


@pytest.fixture
async def pool_store(
    postgres_url: str, postgres_schema: str, app_name: str
) -> AsyncIterator[PostgresStore]:
    store = PostgresStore(_with_name(postgres_url, app_name), schema=postgres_schema, max_size=3)
    await store.open()
    yield store
    await store.close()


def _backends(postgres_url: str, app_name: str) -> list[int]:
    with psycopg.connect(postgres_url, autocommit=True) as admin:
        rows = admin.execute(
            "SELECT pid FROM pg_stat_activity WHERE application_name = %s", (app_name,)
        ).fetchall()
    return [row[0] for row in rows]


async def test_the_pool_is_bounded(
    pool_store: PostgresStore, postgres_url: str, app_name: str
) -> None:
    await pool_store.create_run("run-1", submitted())
    await pool_store.append("run-1", [ready(1)])
    # many concurrent reads: they share the pool's connections instead of opening one each
    loads = await asyncio.gather(*(pool_store.load("run-1") for _ in range(40)))
    assert all([ev.seq for ev in events] == [0, 1] for events in loads)
    backends = _backends(postgres_url, app_name)
    assert 2 <= len(backends) <= 1 + pool_store.max_size  # the appends' own, and the pool


async def test_every_connection_dropped_is_made_again(
    pool_store: PostgresStore, postgres_url: str, app_name: str
) -> None:
    """The server ends every connection of the store (a restart, an admin): appends, reads and
    lease writes each go on, on new connections."""
    await pool_store.create_run("run-1", RunSubmitted(run_id="run-1", seq=0, ts=1.0))
    await asyncio.gather(*(pool_store.load("run-1") for _ in range(6)))  # a few pooled ones
    before = _backends(postgres_url, app_name)
    with psycopg.connect(postgres_url, autocommit=True) as admin:
        for pid in before:
            admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
    await pool_store.append("run-1", [ready(1, "run-1")])
    lease = await pool_store.acquire("run-1", "host/1/x.1")
    await pool_store.append("run-1", [ready(2, "run-1")], fence=lease.token)
    assert [ev.seq for ev in await pool_store.load("run-1")] == [0, 1, 2]
    after = _backends(postgres_url, app_name)
    assert after
    assert not set(after) & set(before)  # all new


async def test_a_closed_store_refuses_work(pool_store: PostgresStore) -> None:
    await pool_store.close()
    with pytest.raises(StoreError, match="not open"):
        await pool_store.append("run-1", [ready(1)])
    with pytest.raises(StoreError, match="not open"):
        await pool_store.load("run-1")
