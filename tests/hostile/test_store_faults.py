"""A store that fails under a run: transient faults are ridden out, lasting ones stop the run
with a `StoreError` (never a raw driver error or an ExceptionGroup), and the run resumes cleanly
once the store is back."""

from __future__ import annotations

import asyncio
import os
import sqlite3
from pathlib import Path

import psycopg
import pytest

from podium import Limits, Orchestrator, Plan, PodiumError, StoreError, Task, Workflow
from podium.events import RunSubmitted, TaskSucceeded
from podium.store import open_store
from podium.store._postgres import PostgresStore
from podium.store._sqlite import SQLiteStore
from tests.helpers import PODIUM
from tests.hostile.conftest import Counted, Proxy

pytestmark = pytest.mark.anyio

CHAIN = Workflow(
    name="chain",
    plan=Plan(
        [
            Task(id="a", agent="w"),
            Task(id="b", agent="w", needs=("a",)),
            Task(id="c", agent="w", needs=("b",)),
        ]
    ),
)


def contiguous(events: list[object]) -> bool:
    return [e.seq for e in events] == list(range(len(events)))  # type: ignore[attr-defined]


class Saboteur(Counted):
    """Runs `sabotage` when it starts task `on` (once); its output there is `size` bytes."""

    def __init__(self, on: str, sabotage: object, size: int = 0) -> None:
        super().__init__()
        self.on = on
        self.sabotage = sabotage
        self.size = size

    async def __call__(self, call):  # type: ignore[no-untyped-def]
        out = await super().__call__(call)
        if call.task_id == self.on and self.calls[self.on] == 1:
            self.sabotage()  # type: ignore[operator]
            return "x" * self.size or out
        return out


@pytest.mark.postgres
async def test_a_postgres_restart_mid_run_is_ridden_out(
    pg_proxy: tuple[Proxy, str], pg_schema: str, caplog: pytest.LogCaptureFixture
) -> None:
    proxy, url = pg_proxy
    loop = asyncio.get_running_loop()

    def restart() -> None:
        proxy.cut()
        loop.call_later(0.5, proxy.restore)

    agent = Saboteur("b", restart)
    store = PostgresStore(url, schema=pg_schema)
    async with Orchestrator(agents=[agent.agent], store=store) as orch:
        result = await orch.run(CHAIN, run_id="r")
        events = await orch.events("r")
    assert result.status == "succeeded"
    assert "retrying in" in caplog.text  # the connection did drop, and was made again
    assert dict(agent.calls) == {"a": 1, "b": 1, "c": 1}
    assert contiguous(events)
    assert [e.task for e in events if isinstance(e, TaskSucceeded)] == ["a", "b", "c"]


@pytest.mark.postgres
async def test_a_server_that_stays_away_stops_the_run_and_it_resumes_later(
    pg_proxy: tuple[Proxy, str], pg_schema: str
) -> None:
    proxy, url = pg_proxy
    agent = Saboteur("b", proxy.cut)
    store = PostgresStore(url, schema=pg_schema, retry_s=1.0)
    async with Orchestrator(agents=[agent.agent], store=store) as orch:
        with pytest.raises(StoreError) as failed:
            await orch.run(CHAIN, run_id="r")
        assert isinstance(failed.value, PodiumError)  # not an ExceptionGroup of the driver
        assert "still failing after" in str(failed.value)
        proxy.restore()
        # the run is left as the journal has it: resumable, nothing lost
        state = await orch.state("r")
        assert state.status == "running"
        assert state.tasks["a"].status == "succeeded"
        # this process gave the lease up when the store failed: it takes it back at once
        result = await orch.resume("r", workflow=CHAIN)
        events = await orch.events("r")
    assert result.status == "succeeded"
    assert agent.calls["a"] == 1  # what had succeeded never runs again
    assert agent.calls["c"] == 1
    assert contiguous(events)


async def test_a_full_disk_that_clears_is_ridden_out(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = SQLiteStore(str(tmp_path / "p.db"))
    loop = asyncio.get_running_loop()
    pages = 0

    def fill_disk() -> None:
        assert store._conn is not None
        nonlocal pages
        pages = store._conn.execute("PRAGMA page_count").fetchone()[0]
        store._conn.execute(f"PRAGMA max_page_count = {pages}")
        loop.call_later(0.3, store._conn.execute, "PRAGMA max_page_count = 1073741823")

    big = Saboteur("b", fill_disk, size=200_000)
    async with Orchestrator(agents=[big.agent], store=store) as orch:
        result = await orch.run(CHAIN, inputs={}, run_id="r", timeout_s=30)
        events = await orch.events("r")
    assert result.status == "succeeded", result.message
    assert pages > 0
    assert "database or disk is full" in caplog.text  # the fault did fire, and was retried
    assert dict(big.calls) == {"a": 1, "b": 1, "c": 1}
    assert contiguous(events)


async def test_a_write_failure_that_lasts_stops_the_run_and_it_resumes(tmp_path: Path) -> None:
    path = str(tmp_path / "p.db")
    store = SQLiteStore(path, retry_s=0.5)

    def fill_disk() -> None:
        assert store._conn is not None
        pages = store._conn.execute("PRAGMA page_count").fetchone()[0]
        store._conn.execute(f"PRAGMA max_page_count = {pages}")

    agent = Saboteur("b", fill_disk, size=200_000)
    async with Orchestrator(agents=[agent.agent], store=store, limits=Limits(lease_s=1)) as orch:
        with pytest.raises(StoreError, match=r"full.*still failing after"):
            await orch.run(CHAIN, run_id="r")
    # another process, once the disk has room again (the limit was this connection's) and the
    # lease has run out
    await asyncio.sleep(1.1)
    async with Orchestrator(agents=[agent.agent], store=path) as orch:
        result = await orch.resume("r", workflow=CHAIN)
        events = await orch.events("r")
    assert result.status == "succeeded"
    assert agent.calls["a"] == 1
    assert contiguous(events)


async def test_a_zero_byte_sqlite_file_is_not_an_empty_store(tmp_path: Path) -> None:
    path = tmp_path / "podium.db"
    path.write_bytes(b"")
    store = open_store(str(path))
    with pytest.raises(StoreError, match="empty file"):
        await store.open()
    assert path.stat().st_size == 0  # untouched


async def test_a_file_that_is_not_a_database_is_a_store_error(tmp_path: Path) -> None:
    path = tmp_path / "podium.db"
    path.write_bytes(b"not a database at all, just text " * 100)
    with pytest.raises(StoreError, match="not a database"):
        await open_store(str(path)).open()


async def test_processes_creating_one_store_file_at_once_agree(tmp_path: Path) -> None:
    """A new file is built aside and linked into place: racing creators never see it empty."""
    path = tmp_path / "new.db"
    code = (
        "import asyncio, sys\n"
        "from podium.store._sqlite import SQLiteStore\n"
        "from podium.events import RunSubmitted\n"
        "async def main():\n"
        "    s = SQLiteStore(sys.argv[1]); await s.open()\n"
        "    await s.create_run(sys.argv[2], RunSubmitted(run_id=sys.argv[2], seq=0, ts=1.0))\n"
        "    await s.close()\n"
        "asyncio.run(main())\n"
    )
    python = str(Path(PODIUM).parent / "python")
    procs = [
        await asyncio.create_subprocess_exec(python, "-c", code, str(path), f"r{i}")
        for i in range(6)
    ]
    assert [await p.wait() for p in procs] == [0] * 6
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT count(*) FROM runs").fetchone()[0] == 6
    leftovers = [n for n in os.listdir(tmp_path) if n.startswith(".new.db")]
    assert leftovers == []  # no temporary file left behind


@pytest.mark.postgres
async def test_an_append_whose_reply_is_lost_lands_once(
    pg_proxy: tuple[Proxy, str], pg_schema: str, caplog: pytest.LogCaptureFixture
) -> None:
    """The server committed but the connection dropped before its reply: the retry finds the
    events there and neither writes them twice nor fails on its own seqs."""
    proxy, url = pg_proxy
    store = PostgresStore(url, schema=pg_schema)
    await store.open()
    try:
        await store.create_run("r", RunSubmitted(run_id="r", seq=0, ts=1.0))
        event = TaskSucceeded(run_id="r", seq=1, ts=2.0, task="t", output="x")
        proxy.lose_next_reply()
        await store.append("r", [event])
        assert "retrying in" in caplog.text
        assert await store.load("r") == [RunSubmitted(run_id="r", seq=0, ts=1.0), event]
    finally:
        await store.close()


@pytest.mark.postgres
async def test_a_dropped_connection_is_made_again(postgres_url: str, pg_schema: str) -> None:
    store = PostgresStore(postgres_url, schema=pg_schema)
    await store.open()
    try:
        await store.create_run("r", RunSubmitted(run_id="r", seq=0, ts=1.0))
        assert store._conn is not None
        with psycopg.connect(postgres_url, autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (store._conn.info.backend_pid,))
        assert [e.seq for e in await store.load("r")] == [0]
    finally:
        await store.close()
