"""Group commit, on every backend: concurrent appends of many runs share commits, and each keeps
its own contract (atomic, fenced by its own token, its own error to its caller only)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import psycopg
import pytest

from podium.events import Event, RunSucceeded
from podium.exceptions import JournalConflict, LeaseHeld, LeaseLost, RunNotFound
from podium.store import Store
from podium.store._postgres import PostgresStore
from podium.store._sqlite import SQLiteStore
from tests.store.helpers import ready, submitted

pytestmark = pytest.mark.anyio

RUNS = 30
BATCHES = 8


def commits(store: Store) -> int | None:
    """The SQL stores count the transactions they commit; the memory store has none."""
    count = getattr(store, "commits", None)
    return count if isinstance(count, int) else None


def owner(n: int) -> str:
    return f"host/{100 + n}/x.1"


async def test_concurrent_appends_of_many_runs_all_land_once_in_order(store: Store) -> None:
    """Each run's driver appends its batches one after another while all the drivers run at
    once: every event lands exactly once, and each journal is in order."""
    run_ids = [f"run-{n}" for n in range(RUNS)]
    for n, run_id in enumerate(run_ids):
        await store.create_run(run_id, submitted(run_id), owner=owner(n), lease_s=60)

    async def drive(run_id: str) -> None:
        for b in range(BATCHES):
            batch: list[Event] = [ready(1 + 3 * b + i, run_id) for i in range(3)]
            await store.append(run_id, batch, fence=1)

    before = commits(store)
    await asyncio.gather(*(drive(run_id) for run_id in run_ids))
    appends = RUNS * BATCHES
    for run_id in run_ids:
        events = await store.load(run_id)
        assert [ev.seq for ev in events] == list(range(1 + 3 * BATCHES))
        assert events[1:] == [ready(seq, run_id) for seq in range(1, 1 + 3 * BATCHES)]
        info = await store.get_run(run_id)
        assert info is not None
        assert info.events == 1 + 3 * BATCHES
    if before is not None:
        after = commits(store)
        assert after is not None
        # the drivers step together, so their appends share commits. (A driver that writes
        # first in a turn of the event loop commits at once, alone, and may go on doing so
        # until it yields; the others' appends meanwhile wait in one group.)
        assert after - before <= appends // 4


async def test_failing_appends_in_a_group_fail_alone(store: Store) -> None:
    """One group with, in its middle, a stale token, a taken seq, a seq repeated in its batch,
    an unfenced append while a lease is held and an unknown run: exactly those fail, each with
    its own error; every other append of the group lands, and the group is one commit."""
    run_ids = [f"run-{n}" for n in range(RUNS)]
    tokens: dict[str, int] = {}
    for n, run_id in enumerate(run_ids):
        await store.create_run(run_id, submitted(run_id), owner=owner(n), lease_s=60)
        tokens[run_id] = 1
    await store.append("run-11", [ready(1, "run-11")], fence=1)  # seq 1 of run-11 is taken
    stale = await store.acquire("run-7", "host/7/new.1", takeover=1)  # run-7 changed hands
    assert stale.token == 2

    def batch_of(run_id: str) -> tuple[list[Event], int | None]:
        if run_id == "run-11":
            return [ready(1, run_id), ready(2, run_id)], 1  # seq 1 taken
        if run_id == "run-13":
            return [ready(1, run_id), ready(1, run_id)], 1  # seq 1 twice
        if run_id == "run-17":
            return [ready(1, run_id)], None  # no token, but a live lease is held
        if run_id == "run-29":
            return [ready(1, run_id), RunSucceeded(run_id=run_id, seq=2, ts=2.0)], 1
        return [ready(1, run_id), ready(2, run_id)], tokens.get(run_id, 1)

    async def append(run_id: str) -> None:
        events, fence = batch_of(run_id)
        await store.append(run_id, events, fence=fence)

    targets = [*run_ids[:15], "nope", *run_ids[15:]]
    before = commits(store)
    results = await asyncio.gather(*(append(r) for r in targets), return_exceptions=True)
    after = commits(store)

    outcome = dict(zip(targets, results, strict=True))
    expected = {
        "run-7": LeaseLost,
        "run-11": JournalConflict,
        "run-13": JournalConflict,
        "run-17": LeaseHeld,
        "nope": RunNotFound,
    }
    for target, result in outcome.items():
        kind = expected.get(target)
        if kind is None:
            assert result is None, f"{target}: {result!r}"
        else:
            assert isinstance(result, kind), f"{target}: {result!r}"
            assert repr(target) in str(result)
    # the failing appends wrote nothing; the others wrote exactly their events
    assert [ev.seq for ev in await store.load("run-7")] == [0]
    assert [ev.seq for ev in await store.load("run-11")] == [0, 1]
    assert [ev.seq for ev in await store.load("run-13")] == [0]
    assert [ev.seq for ev in await store.load("run-17")] == [0]
    landed = [r for r in run_ids if r not in expected]
    for run_id in landed:
        assert [ev.seq for ev in await store.load(run_id)] == [0, 1, 2]
    ended = await store.get_run("run-29")
    assert ended is not None
    assert (ended.status, ended.lease_owner) == ("succeeded", None)  # released in the group
    still = await store.get_run("run-7")
    assert still is not None
    assert still.lease_owner == "host/7/new.1"  # the refused append changed nothing
    if before is not None:
        assert after is not None
        # the first append commits at once, alone; all the others, failing ones included,
        # are one group: one transaction
        assert after - before == 2
    # the runs stay usable after their append failed
    await store.append("run-11", [ready(2, "run-11")], fence=1)
    await store.append("run-13", [ready(1, "run-13")], fence=1)
    await store.append("run-7", [ready(1, "run-7")], fence=stale.token)


async def test_a_lone_append_commits_at_once(store: Store) -> None:
    """A run driven alone is not slowed down: each append is its own commit, sent at once."""
    await store.create_run("run-1", submitted(), owner=owner(1), lease_s=60)
    before = commits(store)
    for seq in range(1, 6):
        await store.append("run-1", [ready(seq)], fence=1)
    if before is not None:
        assert commits(store) == before + 5
    assert [ev.seq for ev in await store.load("run-1")] == list(range(6))


async def test_a_lone_sqlite_append_never_yields_to_the_event_loop(tmp_path: Path) -> None:
    """On SQLite an append with no company commits synchronously: the event loop does not run
    in between (no waiting for a turn to pass)."""
    store = SQLiteStore(str(tmp_path / "lone.db"))
    await store.open()
    await store.create_run("run-1", submitted(), owner=owner(1), lease_s=60)
    ran: list[bool] = []
    asyncio.get_running_loop().call_soon(ran.append, True)
    for seq in range(1, 4):
        await store.append("run-1", [ready(seq)], fence=1)
    assert ran == []
    assert [ev.seq for ev in await store.load("run-1")] == [0, 1, 2, 3]
    await store.close()


async def test_concurrent_new_runs_share_commits(store: Store) -> None:
    before = commits(store)
    created = await asyncio.gather(
        *(store.create_run(f"run-{n}", submitted(f"run-{n}")) for n in range(RUNS)),
        store.create_run("run-0", submitted("run-0")),  # a second creation of run-0
    )
    assert created.count(True) == RUNS
    assert created.count(False) == 1
    assert len(await store.list_runs(limit=1000)) == RUNS
    for n in range(RUNS):
        assert [ev.seq for ev in await store.load(f"run-{n}")] == [0]
    if before is not None:
        after = commits(store)
        assert after is not None
        assert after - before <= 3  # the first at once, the rest in one or two groups


@pytest.mark.postgres
async def test_postgres_group_that_hits_a_concurrent_writers_seq_is_redone_one_by_one(
    postgres_url: str, postgres_schema: str
) -> None:
    """A seq taken by a writer whose commit the group's statement did not see fails that
    statement as a whole (a unique violation): the group is then appended one append at a
    time, and only the append that conflicts fails."""
    store = PostgresStore(postgres_url, schema=postgres_schema)
    await store.open()
    try:
        run_ids = [f"run-{n}" for n in range(4)]
        for run_id in run_ids:
            await store.create_run(run_id, submitted(run_id))
        other = await psycopg.AsyncConnection.connect(postgres_url)
        try:
            await other.execute(f'SET search_path TO "{postgres_schema}"')
            # another writer takes run-2's seq 1 and holds its row, uncommitted
            await other.execute("UPDATE runs SET events = events + 1 WHERE run_id = 'run-2'")
            await other.execute(
                "INSERT INTO events (run_id, seq, data) VALUES ('run-2', 1, %s)",
                (b'{"kind":"TaskReady"}',),
            )
            assert store._conn is not None
            pid = store._conn.info.backend_pid
            first = asyncio.create_task(store.append("run-0", [ready(1, "run-0")]))
            await first  # at once, alone: the next appends form one group
            group = [
                asyncio.create_task(store.append(r, [ready(1, r), ready(2, r)]))
                for r in run_ids[1:]
            ]
            await _blocked_on_a_lock(other, pid)
            await other.commit()
            results = await asyncio.gather(*group, return_exceptions=True)
        finally:
            await other.close()
        assert results[0] is None
        assert isinstance(results[1], JournalConflict)
        assert "run-2" in str(results[1])
        assert results[2] is None
        for run_id in ("run-1", "run-3"):
            assert [ev.seq for ev in await store.load(run_id)] == [0, 1, 2]
    finally:
        await store.close()


async def _blocked_on_a_lock(admin: psycopg.AsyncConnection[object], pid: int) -> None:
    """Wait until the backend `pid` waits for a lock (polled; the test asserts no time)."""
    async with await psycopg.AsyncConnection.connect(admin.info.dsn, autocommit=True) as watcher:
        for _ in range(500):
            cur = await watcher.execute(
                "SELECT wait_event_type FROM pg_stat_activity WHERE pid = %s", (pid,)
            )
            row = await cur.fetchone()
            if row is not None and row[0] == "Lock":
                return
            await asyncio.sleep(0.01)
    raise AssertionError(f"backend {pid} never waited for the lock")
