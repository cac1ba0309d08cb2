"""The same metrics and alerts on every store backend: memory, SQLite and Postgres."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import psycopg
import pytest

from podium.events import ContextWritten, RunCancelled
from podium.metrics import ALERTS_RUN_ID, AlertRule, compute_metrics, evaluate_alerts
from podium.store import MemoryStore, Store
from podium.store._postgres import PostgresStore
from podium.store._sqlite import SQLiteStore
from tests.metrics.conftest import Lab
from tests.metrics.test_alerts import Hook

pytestmark = pytest.mark.anyio


@pytest.fixture
def hook() -> Iterator[Hook]:
    made = Hook()
    made.thread.start()
    yield made
    made.server.shutdown()
    made.server.server_close()


@pytest.fixture(params=["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    schema = f"podium_test_{uuid.uuid4().hex[:16]}"
    made: Store
    if request.param == "memory":
        made = MemoryStore()
    elif request.param == "sqlite":
        made = SQLiteStore(str(tmp_path / "runs.db"))
    else:
        made = PostgresStore(request.getfixturevalue("postgres_url"), schema=schema)
    await made.open()
    yield made
    await made.close()
    if request.param == "postgres":
        url = request.getfixturevalue("postgres_url")
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


async def test_metrics_and_alerts_on_every_backend(
    store: Store, tmp_path: Path, hook: Hook
) -> None:
    lab = Lab(tmp_path / "unused.db", store=store)
    async with lab.orchestrator() as orch:
        lab.orch = orch
        await lab.run("steady")
        await lab.run("doomed")
        await lab.run("gated", decide="approve", wait_s=30)
        await orch.feedback((await store.list_runs(limit=10))[-1].run_id, 5, by="ann")
        report = await compute_metrics(store)
        n = report.numbers()
        assert (n["runs"], n["unassisted_runs"], n["attempts"], n["errors"]) == (3, 1, 5, 1)
        assert (n["approvals_granted"], n["approval_wait_mean_s"]) == (1, 30.0)
        assert (n["satisfaction"], n["feedback_count"]) == (5.0, 1)
        rules = [AlertRule(metric="completion_rate", below=0.98, over_last=5, webhook=hook.url)]
        [fired] = await evaluate_alerts(store, rules)
        [quiet] = await evaluate_alerts(store, rules)
        assert (fired.change, fired.delivered, quiet.posted) == ("fired", True, False)
        assert hook.states() == ["firing"]
        events = await store.load(ALERTS_RUN_ID)
        assert isinstance(events[1], RunCancelled)
        assert [e.version for e in events if isinstance(e, ContextWritten)] == [1, 2]
        assert (await compute_metrics(store)).totals.runs == 3
