"""The store contract: every backend (memory, SQLite, Postgres) passes the same tests."""

from __future__ import annotations

import asyncio
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from podium.events import (
    ApprovalGranted,
    ApprovalRejected,
    ApprovalRequested,
    ContextWritten,
    ErrorInfo,
    Event,
    PlanAccepted,
    RunCancelled,
    RunFailed,
    RunPartiallySucceeded,
    RunResumed,
    RunSucceeded,
    RunWaiting,
    TaskFailed,
    TaskStarted,
    TaskSucceeded,
    ToolCalled,
    Usage,
    encode,
)
from podium.exceptions import ConfigError, JournalConflict, RunNotFound, StoreError
from podium.store import MemoryStore, Outcome, OutcomeStats, Store, open_store
from podium.store._outcomes import aggregate
from podium.store._postgres import PostgresStore
from podium.store._sqlite import SCHEMA_VERSION, SQLiteStore
from tests.store.conftest import Backend
from tests.store.helpers import ready, submitted


def varied_events(run_id: str) -> list[Event]:
    """Events of several kinds: nested JSON, unicode, None values, nested structs."""
    return [
        PlanAccepted(
            run_id=run_id,
            seq=1,
            ts=1001.5,
            tasks=[
                {"id": "search", "deps": [], "agent": None},
                {"id": "write", "deps": ["search"]},
            ],
            output={"from": "write"},
        ),
        TaskStarted(run_id=run_id, seq=2, ts=1002.0, task="search", agent="researcher", attempt=2),
        ToolCalled(
            run_id=run_id,
            seq=3,
            ts=1003.0,
            task="search",
            agent="researcher",
            tool="web_search",
            arguments={"query": "café ☕ 東京", "filters": {"since": None, "langs": ["fr", "ja"]}},
            result=[{"title": "Ünïcödé", "score": 0.125}, None],
            latency_s=0.25,
        ),
        ContextWritten(
            run_id=run_id, seq=4, ts=1004.0, task="search", key="notes", value=None, version=1
        ),
        TaskSucceeded(
            run_id=run_id,
            seq=5,
            ts=1005.0,
            task="search",
            agent="researcher",
            output={"summary": "emoji 🎉 and \u2028 separators", "nested": {"a": {"b": [1, 2.5]}}},
            usage=Usage(input_tokens=120, output_tokens=45, cost_usd=0.0015),
        ),
        TaskFailed(
            run_id=run_id,
            seq=6,
            ts=1006.0,
            task="write",
            error=ErrorInfo(type="timeout", message="took > 30 s", retryable=True),
            final=False,
        ),
    ]


@pytest.mark.anyio
async def test_backend_satisfies_the_protocol(store: Store) -> None:
    assert isinstance(store, Store)


@pytest.mark.anyio
async def test_create_run_once(store: Store) -> None:
    first = submitted()
    assert await store.create_run("run-1", first, name="first") is True
    assert await store.create_run("run-1", submitted(ts=2000.0), name="second") is False
    assert await store.load("run-1") == [first]
    info = await store.get_run("run-1")
    assert info is not None
    assert (info.name, info.created_at, info.status, info.events) == ("first", 1000.0, "running", 1)


@pytest.mark.anyio
async def test_open_is_idempotent(backend: Backend) -> None:
    store = await backend.new_store()
    await store.open()
    assert await store.create_run("run-1", submitted()) is True
    assert await store.load("run-1") == [submitted()]


@pytest.mark.anyio
async def test_append_and_load_roundtrip(store: Store) -> None:
    await store.create_run("run-1", submitted())
    events = varied_events("run-1")
    await store.append("run-1", events[:2])
    await store.append("run-1", events[2:])
    assert await store.load("run-1") == [submitted(), *events]


@pytest.mark.anyio
async def test_load_after_seq(store: Store) -> None:
    await store.create_run("run-1", submitted())
    await store.append("run-1", [ready(1), ready(2), ready(3)])
    assert [ev.seq for ev in await store.load("run-1", after_seq=1)] == [2, 3]
    assert await store.load("run-1", after_seq=3) == []
    assert [ev.seq for ev in await store.load("run-1", after_seq=-1)] == [0, 1, 2, 3]


@pytest.mark.anyio
async def test_load_returns_seq_order(store: Store) -> None:
    await store.create_run("run-1", submitted())
    # Enough batches that a backend returning rows in storage order rather than seq order would
    # likely show it.
    for start in range(1, 60, 3):
        await store.append("run-1", [ready(start), ready(start + 1), ready(start + 2)])
    assert [ev.seq for ev in await store.load("run-1")] == list(range(61))


@pytest.mark.anyio
async def test_runs_are_separate(store: Store) -> None:
    await store.create_run("run-1", submitted("run-1"))
    await store.create_run("run-2", submitted("run-2"))
    await store.append("run-2", [ready(1, "run-2")])
    assert [ev.seq for ev in await store.load("run-1")] == [0]
    assert [ev.seq for ev in await store.load("run-2")] == [0, 1]


@pytest.mark.anyio
@pytest.mark.parametrize(
    "batch_seqs",
    [
        pytest.param([2], id="taken-seq"),
        pytest.param([3, 2], id="taken-seq-after-a-free-one"),
        pytest.param([3, 3], id="duplicate-in-batch"),
    ],
)
async def test_conflicting_seq_lands_nothing(store: Store, batch_seqs: list[int]) -> None:
    await store.create_run("run-1", submitted())
    await store.append("run-1", [ready(1), ready(2)])
    before = await store.get_run("run-1")
    batch: list[Event] = [ready(seq) for seq in batch_seqs]
    # A terminal event in the rejected batch must not change the status either.
    batch.insert(1, RunSucceeded(run_id="run-1", seq=batch_seqs[0] + 100, ts=2000.0))

    with pytest.raises(JournalConflict, match="run-1"):
        await store.append("run-1", batch)

    assert [ev.seq for ev in await store.load("run-1")] == [0, 1, 2]
    after = await store.get_run("run-1")
    assert after is not None
    assert before is not None
    assert (after.status, after.events) == ("running", before.events)
    # The run stays usable: the next free seq still appends.
    await store.append("run-1", [ready(3)])
    assert [ev.seq for ev in await store.load("run-1")] == [0, 1, 2, 3]


def test_journal_conflict_is_a_store_error() -> None:
    assert issubclass(JournalConflict, StoreError)


@pytest.mark.anyio
async def test_unknown_run(store: Store) -> None:
    with pytest.raises(RunNotFound, match="nope"):
        await store.load("nope")
    with pytest.raises(RunNotFound, match="nope"):
        await store.append("nope", [ready(1, "nope")])
    assert await store.get_run("nope") is None
    assert await store.list_runs() == []


@pytest.mark.anyio
async def test_empty_append(store: Store) -> None:
    await store.create_run("run-1", submitted())
    await store.append("run-1", [])
    assert await store.load("run-1") == [submitted()]
    info = await store.get_run("run-1")
    assert info is not None
    assert info.events == 1
    with pytest.raises(RunNotFound):
        await store.append("nope", [])


@pytest.mark.anyio
async def test_list_runs_newest_first_with_limit(store: Store) -> None:
    for run_id, ts in [("old", 1000.0), ("newest", 3000.0), ("middle", 2000.0)]:
        await store.create_run(run_id, submitted(run_id, ts=ts), name=run_id.upper())
    runs = await store.list_runs()
    assert [r.run_id for r in runs] == ["newest", "middle", "old"]
    assert [r.name for r in runs] == ["NEWEST", "MIDDLE", "OLD"]
    assert [r.run_id for r in await store.list_runs(limit=2)] == ["newest", "middle"]


@pytest.mark.anyio
async def test_get_run(store: Store) -> None:
    await store.create_run("run-1", submitted(ts=1000.0), name="nightly report")
    info = await store.get_run("run-1")
    assert info is not None
    assert info.run_id == "run-1"
    assert info.name == "nightly report"
    assert info.status == "running"
    assert info.created_at == 1000.0
    assert info.updated_at == 1000.0
    assert info.events == 1

    await store.append("run-1", [ready(1)])
    info = await store.get_run("run-1")
    assert info is not None
    assert info.created_at == 1000.0
    assert info.updated_at > 1000.0


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("terminal", "status"),
    [
        (RunSucceeded(run_id="run-1", seq=2, ts=1.0, output={"ok": True}), "succeeded"),
        (
            RunPartiallySucceeded(run_id="run-1", seq=2, ts=1.0, missing=["b"]),
            "partially_succeeded",
        ),
        (RunFailed(run_id="run-1", seq=2, ts=1.0, reason="budget"), "failed"),
        (RunCancelled(run_id="run-1", seq=2, ts=1.0), "cancelled"),
    ],
    ids=lambda value: type(value).__name__ if isinstance(value, Event) else str(value),
)
async def test_status_follows_terminal_events(store: Store, terminal: Event, status: str) -> None:
    await store.create_run("run-1", submitted())
    await store.append("run-1", [ready(1)])
    info = await store.get_run("run-1")
    assert info is not None
    assert info.status == "running"

    await store.append("run-1", [terminal])
    info = await store.get_run("run-1")
    assert info is not None
    assert info.status == status
    assert [r.status for r in await store.list_runs()] == [status]

    # A later non-terminal event (e.g. a late log line) keeps the status.
    await store.append("run-1", [ready(3)])
    info = await store.get_run("run-1")
    assert info is not None
    assert info.status == status


@pytest.mark.anyio
async def test_events_counter(store: Store) -> None:
    await store.create_run("run-1", submitted())
    await store.append("run-1", [ready(1), ready(2)])
    await store.append("run-1", [ready(3)])
    info = await store.get_run("run-1")
    assert info is not None
    assert info.events == 4
    assert (await store.list_runs())[0].events == 4


@pytest.mark.anyio
async def test_reopen_keeps_everything(durable: Backend) -> None:
    first = await durable.new_store()
    await first.create_run("run-1", submitted(), name="kept")
    events = varied_events("run-1")
    await first.append("run-1", events)
    await first.append("run-1", [RunFailed(run_id="run-1", seq=7, ts=1007.0, reason="error")])
    await first.close()

    second = await durable.new_store()
    assert await second.load("run-1") == [
        submitted(),
        *events,
        RunFailed(run_id="run-1", seq=7, ts=1007.0, reason="error"),
    ]
    info = await second.get_run("run-1")
    assert info is not None
    assert (info.name, info.status, info.events) == ("kept", "failed", 8)
    assert await second.create_run("run-1", submitted()) is False


@pytest.mark.anyio
async def test_two_stores_on_one_storage_see_each_other(durable: Backend) -> None:
    one = await durable.new_store()
    two = await durable.new_store()
    await one.create_run("run-1", submitted())
    await two.append("run-1", [ready(1)])
    await one.append("run-1", [ready(2)])
    assert [ev.seq for ev in await two.load("run-1")] == [0, 1, 2]
    assert [ev.seq for ev in await one.load("run-1")] == [0, 1, 2]

    # Two writers driving one run: the second to take a seq loses.
    with pytest.raises(JournalConflict):
        await two.append("run-1", [ready(2)])
    info = await one.get_run("run-1")
    assert info is not None
    assert info.events == 3


@pytest.mark.anyio
async def test_store_used_before_open_raises(durable: Backend) -> None:
    store = durable.factory()
    with pytest.raises(StoreError, match="open"):
        await store.load("run-1")
    await store.close()


# SQLite specifics.


@pytest.mark.anyio
async def test_sqlite_on_a_directory_raises_store_error(tmp_path: Path) -> None:
    store = SQLiteStore(str(tmp_path))
    with pytest.raises(StoreError, match=str(tmp_path)):
        await store.open()


@pytest.mark.anyio
async def test_sqlite_file_is_in_wal_mode_with_schema_version(tmp_path: Path) -> None:
    path = tmp_path / "podium.db"
    store = SQLiteStore(str(path))
    await store.open()
    await store.close()
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        assert conn.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)
    conn.close()


@pytest.mark.anyio
async def test_sqlite_refuses_a_newer_schema(tmp_path: Path) -> None:
    path = tmp_path / "podium.db"
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA user_version = 99")
    conn.close()
    store = SQLiteStore(str(path))
    with pytest.raises(StoreError, match="upgrade Podium"):
        await store.open()


_CHILD = """
import asyncio, sys
from podium.events import RunSubmitted, TaskReady
from podium.store._sqlite import SQLiteStore

async def main(path: str, run_id: str, count: int) -> None:
    store = SQLiteStore(path)
    await store.open()
    await store.create_run(run_id, RunSubmitted(run_id=run_id, seq=0, ts=1.0))
    seq = 1
    while count < 0 or seq < 2 * count:
        events = [TaskReady(run_id=run_id, seq=s, ts=2.0, task="t") for s in (seq, seq + 1)]
        await store.append(run_id, events)
        seq += 2
    await store.close()

asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3])))
"""


def _spawn_writer(path: Path, run_id: str, count: int) -> subprocess.Popen[bytes]:
    """A process appending `count` two-event batches to a run (forever when negative)."""
    return subprocess.Popen([sys.executable, "-c", _CHILD, str(path), run_id, str(count)])


@pytest.mark.slow
def test_sqlite_two_processes_write_one_file(tmp_path: Path) -> None:
    path = tmp_path / "podium.db"
    writers = [_spawn_writer(path, f"run-{n}", 300) for n in range(2)]
    assert [w.wait(timeout=60) for w in writers] == [0, 0]

    async def check() -> None:
        store = SQLiteStore(str(path))
        await store.open()
        for n in range(2):
            assert [ev.seq for ev in await store.load(f"run-{n}")] == list(range(601))
        await store.close()

    asyncio.run(check())


@pytest.mark.slow
def test_sqlite_survives_sigkill_mid_run(tmp_path: Path) -> None:
    path = tmp_path / "podium.db"
    writer = _spawn_writer(path, "run-1", -1)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and _events_in(path) < 200:
            time.sleep(0.02)
    finally:
        writer.send_signal(signal.SIGKILL)
        writer.wait(timeout=10)

    async def check() -> None:
        store = SQLiteStore(str(path))
        await store.open()
        seqs = [ev.seq for ev in await store.load("run-1")]
        info = await store.get_run("run-1")
        await store.close()
        # Whole batches only, and the run index agrees with the journal.
        assert seqs == list(range(len(seqs)))
        assert len(seqs) % 2 == 1
        assert info is not None
        assert info.events == len(seqs)

    assert _events_in(path) >= 200
    asyncio.run(check())


def _events_in(path: Path) -> int:
    if not path.exists():
        return 0
    conn = sqlite3.connect(path, timeout=5)
    try:
        row = conn.execute("SELECT count(*) FROM events").fetchone()
    except sqlite3.OperationalError:  # the writer has not created the tables yet
        return 0
    finally:
        conn.close()
    return int(row[0])


# Postgres specifics.


@pytest.mark.anyio
async def test_postgres_unreachable_raises_store_error() -> None:
    store = PostgresStore("postgresql://nobody:secret@127.0.0.1:1/nothing")
    with pytest.raises(StoreError, match="cannot connect") as caught:
        await store.open()
    assert "secret" not in str(caught.value)


# open_store URL parsing.


@pytest.mark.parametrize(
    ("url", "kind", "where"),
    [
        ("memory://", MemoryStore, None),
        ("memory", MemoryStore, None),
        ("sqlite:///runs/podium.db", SQLiteStore, "runs/podium.db"),
        ("sqlite:////var/lib/podium.db", SQLiteStore, "/var/lib/podium.db"),
        ("sqlite://", SQLiteStore, "podium.db"),
        ("journal.db", SQLiteStore, "journal.db"),
        ("/tmp/journal.db", SQLiteStore, "/tmp/journal.db"),
        ("postgresql://postgres@127.0.0.1:5432/test", PostgresStore, None),
        ("postgres://postgres@db/podium", PostgresStore, None),
    ],
)
def test_open_store_parses_urls(url: str, kind: type, where: str | None) -> None:
    store = open_store(url)
    assert isinstance(store, kind)
    if where is not None:
        assert isinstance(store, SQLiteStore)
        assert store.path == where


def test_open_store_default_reads_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PODIUM_STORE", "memory://")
    assert isinstance(open_store(), MemoryStore)
    monkeypatch.delenv("PODIUM_STORE")
    store = open_store()
    assert isinstance(store, SQLiteStore)
    assert store.path == "podium.db"


def test_open_store_unknown_scheme() -> None:
    with pytest.raises(ConfigError, match="redis://"):
        open_store("redis://localhost/0")


# Routing outcomes: per (kind, agent) sums shared by every run on a storage.


def outcome(
    kind: str = "write/report",
    agent: str = "writer",
    *,
    success: bool = True,
    checks: bool | None = None,
    cost: float | None = 0.5,
    latency: float = 2.0,
    ts: float = 100.0,
) -> Outcome:
    return Outcome(
        kind=kind,
        agent=agent,
        success=success,
        checks_passed=checks,
        cost_usd=cost,
        latency_s=latency,
        ts=ts,
    )


@pytest.mark.anyio
async def test_outcome_stats_start_empty(store: Store) -> None:
    assert await store.outcome_stats() == []
    await store.record_outcomes([])
    assert await store.outcome_stats() == []


@pytest.mark.anyio
async def test_recorded_sums_count_as_the_outcomes_they_sum(store: Store) -> None:
    outcomes = [
        outcome(success=True, checks=True, cost=0.5, latency=2.0, ts=100.0),
        outcome(success=False, checks=False, cost=None, latency=4.0, ts=300.0),
    ]
    (summed,) = aggregate(outcomes).values()
    await store.record_outcomes([summed, outcome(success=True, cost=0.25, ts=50.0)])
    (stats,) = await store.outcome_stats()
    assert (stats.runs, stats.successes, stats.checked, stats.checks_passed) == (3, 2, 2, 1)
    assert (stats.cost_usd, stats.cost_runs, stats.updated_at) == (0.75, 2, 300.0)


@pytest.mark.anyio
async def test_record_outcomes_sums_per_kind_and_agent(store: Store) -> None:
    await store.record_outcomes(
        [
            outcome(success=True, checks=True, cost=0.5, latency=2.0, ts=100.0),
            outcome(success=False, checks=False, cost=None, latency=4.0, ts=300.0),
            outcome(agent="drafter", success=False, cost=0.125, latency=1.0, ts=200.0),
            outcome(kind="code/fix+test", agent="coder", checks=None, cost=0.0, ts=50.0),
        ]
    )
    stats = await store.outcome_stats()
    assert [(s.kind, s.agent) for s in stats] == [
        ("code/fix+test", "coder"),
        ("write/report", "drafter"),
        ("write/report", "writer"),
    ]
    writer = stats[2]
    assert (writer.runs, writer.successes, writer.failures) == (2, 1, 1)
    assert (writer.checked, writer.checks_passed) == (2, 1)
    assert (writer.cost_usd, writer.cost_runs, writer.mean_cost_usd) == (0.5, 1, 0.5)
    assert (writer.latency_s, writer.mean_latency_s, writer.updated_at) == (6.0, 3.0, 300.0)
    coder = stats[0]
    assert (coder.runs, coder.successes, coder.checked, coder.cost_runs) == (1, 1, 0, 1)
    assert coder.mean_cost_usd == 0.0  # a free agent is known to be free, not unknown
    assert stats[1] == OutcomeStats(
        kind="write/report",
        agent="drafter",
        runs=1,
        successes=0,
        checked=0,
        checks_passed=0,
        cost_usd=0.125,
        cost_runs=1,
        latency_s=1.0,
        updated_at=200.0,
    )


@pytest.mark.anyio
async def test_outcomes_accumulate_across_calls(store: Store) -> None:
    for i in range(5):
        await store.record_outcomes([outcome(success=i % 2 == 0, ts=float(i))])
    await store.record_outcomes([outcome(ts=2.5), outcome(ts=1.0)])
    (stats,) = await store.outcome_stats()
    assert (stats.runs, stats.successes, stats.cost_runs) == (7, 5, 7)
    assert stats.cost_usd == pytest.approx(3.5)
    assert stats.updated_at == 4.0  # the latest outcome, not the last recorded


@pytest.mark.anyio
async def test_outcome_stats_of_some_kinds(store: Store) -> None:
    await store.record_outcomes(
        [outcome(kind="a/x"), outcome(kind="b/y"), outcome(kind="b/y", agent="other")]
    )
    assert [(s.kind, s.agent) for s in await store.outcome_stats(kinds=["b/y", "nope"])] == [
        ("b/y", "other"),
        ("b/y", "writer"),
    ]
    assert await store.outcome_stats(kinds=[]) == []
    assert len(await store.outcome_stats(kinds=None)) == 3


@pytest.mark.anyio
async def test_outcomes_are_shared_by_stores_on_one_storage(durable: Backend) -> None:
    one = await durable.new_store()
    two = await durable.new_store()
    await asyncio.gather(
        *(s.record_outcomes([outcome(ts=float(i))]) for i in range(10) for s in (one, two))
    )
    (stats,) = await one.outcome_stats()
    assert stats.runs == 20
    await one.close()
    reopened = await durable.new_store()
    (stats,) = await reopened.outcome_stats()
    assert (stats.runs, stats.successes, stats.latency_s) == (20, 20, 40.0)


@pytest.mark.anyio
async def test_sqlite_upgrades_a_version_1_file(tmp_path: Path) -> None:
    path = tmp_path / "podium.db"
    conn = sqlite3.connect(path)
    conn.executescript(
        """
        CREATE TABLE runs (run_id TEXT PRIMARY KEY, status TEXT NOT NULL,
            name TEXT NOT NULL DEFAULT '', created_at REAL NOT NULL, updated_at REAL NOT NULL,
            events INTEGER NOT NULL DEFAULT 0);
        CREATE TABLE events (run_id TEXT NOT NULL, seq INTEGER NOT NULL, data BLOB NOT NULL,
            PRIMARY KEY (run_id, seq)) WITHOUT ROWID;
        PRAGMA user_version = 1;
        INSERT INTO runs VALUES ('run-1', 'running', 'old', 1000.0, 1000.0, 1);
        """
    )
    conn.execute("INSERT INTO events VALUES ('run-1', 0, ?)", (encode(submitted()),))
    conn.commit()
    conn.close()
    store = SQLiteStore(str(path))
    await store.open()
    await store.record_outcomes([outcome()])
    assert [s.runs for s in await store.outcome_stats()] == [1]
    assert await store.load("run-1") == [submitted()]
    await store.close()
    with sqlite3.connect(path) as check:
        assert check.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)
    check.close()


# Approvals: the runs that wait, and what they wait on.


def asked(seq: int, task: str, run_id: str = "run-1", ts: float | None = None) -> ApprovalRequested:
    return ApprovalRequested(
        run_id=run_id,
        seq=seq,
        ts=1000.0 + seq if ts is None else ts,
        task=task,
        action="tool",
        action_hash=f"hash-{task}",
        tool="send",
        arguments={"to": "ann", "amount": 3},
        reason="tool 'send' is irreversible",
        expires_at=5000.0,
    )


async def park(store: Store, run_id: str, tasks: list[str], *, ts: float = 1000.0) -> int:
    """A run that asked for approvals on `tasks` and parked; returns its last seq."""
    await store.create_run(run_id, submitted(run_id, ts=ts))
    events: list[Event] = [asked(i + 1, t, run_id, ts=ts + i) for i, t in enumerate(tasks)]
    events.append(RunWaiting(run_id=run_id, seq=len(tasks) + 1, ts=ts + 10, tasks=tasks))
    await store.append(run_id, events)
    return len(tasks) + 1


def test_every_approval_event_starts_with_the_prefix_stores_select_on() -> None:
    from podium.store._protocol import APPROVAL_PREFIX

    decided = {"run_id": "r", "seq": 1, "ts": 1.0, "task": "t", "action_hash": "h", "by": "x"}
    for event in (asked(1, "t"), ApprovalGranted(**decided), ApprovalRejected(**decided)):
        assert encode(event).startswith(APPROVAL_PREFIX)
    assert not encode(RunWaiting(run_id="r", seq=1, ts=1.0)).startswith(APPROVAL_PREFIX)


@pytest.mark.anyio
async def test_status_follows_waiting_and_resuming(store: Store) -> None:
    last = await park(store, "run-1", ["a"])
    info = await store.get_run("run-1")
    assert info is not None
    assert info.status == "waiting"
    await store.append("run-1", [RunResumed(run_id="run-1", seq=last + 1, ts=2000.0)])
    info = await store.get_run("run-1")
    assert info is not None
    assert info.status == "running"
    await store.append("run-1", [RunSucceeded(run_id="run-1", seq=last + 2, ts=2001.0)])
    assert [r.status for r in await store.list_runs()] == ["succeeded"]


@pytest.mark.anyio
async def test_pending_approvals_of_waiting_runs(store: Store) -> None:
    assert await store.pending_approvals() == []
    await park(store, "run-1", ["a", "b"], ts=1000.0)
    await park(store, "run-2", ["c"], ts=900.0)
    # A run that asked but is still being driven (or died before parking) is not listed.
    await store.create_run("run-3", submitted("run-3"))
    await store.append("run-3", [asked(1, "d", "run-3")])

    pending = await store.pending_approvals()
    assert [(p.run_id, p.task) for p in pending] == [("run-2", "c"), ("run-1", "a"), ("run-1", "b")]
    assert pending[1] == asked(1, "a", ts=1000.0)
    assert [p.task for p in await store.pending_approvals(limit=2)] == ["c", "a"]

    granted = ApprovalGranted(
        run_id="run-1", seq=4, ts=1100.0, task="a", action_hash="hash-a", by="ann", comment="ok"
    )
    await store.append("run-1", [granted])
    assert [p.task for p in await store.pending_approvals()] == ["c", "b"]
    rejected = ApprovalRejected(
        run_id="run-2",
        seq=3,
        ts=1100.0,
        task="c",
        action_hash="hash-c",
        by="podium",
        reason="expired",
    )
    await store.append("run-2", [rejected])
    assert [p.task for p in await store.pending_approvals()] == ["b"]
    # A decision on another action of the same task answers nothing.
    stray = ApprovalGranted(run_id="run-1", seq=5, ts=1100.0, task="b", action_hash="other", by="x")
    await store.append("run-1", [stray])
    assert [p.task for p in await store.pending_approvals()] == ["b"]
    # Resumed: the run is no longer parked, so nothing of it is listed.
    await store.append("run-1", [RunResumed(run_id="run-1", seq=6, ts=1200.0)])
    assert await store.pending_approvals() == []


@pytest.mark.anyio
async def test_a_new_request_after_resuming_waits_again(store: Store) -> None:
    last = await park(store, "run-1", ["a"])
    decided = ApprovalGranted(
        run_id="run-1", seq=last + 1, ts=2000.0, task="a", action_hash="hash-a", by="ann"
    )
    again = asked(last + 3, "a", ts=2002.0)  # the same action asked again, e.g. a new attempt
    await store.append(
        "run-1",
        [
            decided,
            RunResumed(run_id="run-1", seq=last + 2, ts=2001.0),
            again,
            RunWaiting(run_id="run-1", seq=last + 4, ts=2003.0, tasks=["a"]),
        ],
    )
    assert await store.pending_approvals() == [again]


@pytest.mark.anyio
async def test_pending_approvals_survive_reopening(durable: Backend) -> None:
    first = await durable.new_store()
    await park(first, "run-1", ["a"])
    await first.close()
    second = await durable.new_store()
    assert [p.task for p in await second.pending_approvals()] == ["a"]
    info = await second.get_run("run-1")
    assert info is not None
    assert info.status == "waiting"
