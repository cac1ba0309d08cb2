"""The benchmark's graph shapes, run by Podium."""

from __future__ import annotations

import asyncio
import os
import statistics
import tempfile
import time
import uuid
from typing import Literal

from common import (
    CHAIN_STEPS,
    CONCURRENT_STEPS,
    FANOUT_WIDTH,
    GATE,
    PARKED_STEPS,
    SLEEP_S,
    JournalSize,
    ParkedMemory,
    drop_schema,
    new_schema,
    parked_memory,
    postgres_url,
    sqlite_file_bytes,
)

from podium import Agent, Limits, Orchestrator, Plan, Task, TaskCall
from podium.events import encode
from podium.store import Store
from podium.store._postgres import PostgresStore

MAX_CONCURRENCY = 1_000
"""Above every fan-out width here (the default, 64, would queue a 100-wide fan-out)."""


async def step(call: TaskCall) -> int:
    return 1


async def sleeper(call: TaskCall) -> int:
    await asyncio.sleep(SLEEP_S)
    return 1


async def parked(call: TaskCall) -> int:
    await GATE.wait()
    return 1


AGENTS = [
    Agent(name="step", function=step),
    Agent(name="sleep", function=sleeper),
    Agent(name="parked", function=parked),
]


def chain_plan(steps: int, agent: str = "step") -> Plan:
    return Plan(
        [Task(id=f"t{i}", agent=agent, needs=(f"t{i - 1}",) if i else ()) for i in range(steps)]
    )


def fanout_plan(width: int, agent: str = "step") -> Plan:
    branches = [Task(id=f"b{i}", agent=agent) for i in range(width)]
    join = Task(id="join", agent="step", needs=tuple(t.id for t in branches))
    return Plan([*branches, join], output="join")


StoreKind = Literal["memory", "sqlite", "postgres"]

_STORE_LABELS: dict[str, str] = {
    "memory": "memory:// store",
    "sqlite": "SQLite store (WAL, synchronous=NORMAL)",
    "postgres": "Postgres store (psycopg, fresh schema)",
}


def orchestrator(store: Store | str) -> Orchestrator:
    return Orchestrator(agents=AGENTS, store=store, limits=Limits(max_concurrency=MAX_CONCURRENCY))


class _Storage:
    """Where one case's runs are journaled: memory, a temporary SQLite file or a fresh Postgres
    schema, removed again by `cleanup`."""

    def __init__(self, kind: StoreKind) -> None:
        self.kind = kind
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self._schema: str | None = None

    def store(self) -> Store | str:
        if self.kind == "sqlite":
            self._tmp = tempfile.TemporaryDirectory(prefix="podium-bench-")
            return f"sqlite:///{os.path.join(self._tmp.name, 'podium.db')}"
        if self.kind == "postgres":
            self._schema = new_schema("podium_bench")
            return PostgresStore(postgres_url(), schema=self._schema)
        return "memory://"

    def cleanup(self) -> None:
        if self._tmp is not None:
            self._tmp.cleanup()
        if self._schema is not None:
            drop_schema(self._schema)


def commits(orch: Orchestrator) -> int | None:
    """The transactions the orchestrator's store has committed, if it counts them."""
    count = getattr(orch.store, "commits", None)
    return count if isinstance(count, int) else None


class _OneRun:
    """Times one run of a plan per repetition."""

    def __init__(self, label: str, plan: Plan, store: StoreKind = "memory") -> None:
        self.label = label
        self.plan = plan
        self.storage = _Storage(store)
        self.orch: Orchestrator | None = None
        self.commits: list[int] = []
        """Commits per repetition, when the store counts them."""
        self.base_commits: int | None = None

    async def setup(self) -> None:
        self.orch = orchestrator(self.storage.store())
        await self.orch.open()
        before = commits(self.orch)
        if before is not None:  # what a run commits besides its steps: a 1-task run's commits
            await self.orch.run(chain_plan(1))
            self.base_commits = (commits(self.orch) or 0) - before

    def commits_per_step(self) -> float | None:
        """Commits each step adds to a run (the median run's, less a 1-task run's)."""
        steps = len(self.plan.all_tasks())
        if not self.commits or self.base_commits is None or steps < 2:
            return None
        return (statistics.median(self.commits) - self.base_commits) / (steps - 1)

    async def once(self) -> float:
        assert self.orch is not None
        before = commits(self.orch)
        start = time.perf_counter()
        result = await self.orch.run(self.plan)
        elapsed = time.perf_counter() - start
        if not result.ok:
            raise RuntimeError(f"podium run {result.status}: {result.tasks}")
        after = commits(self.orch)
        if before is not None and after is not None:
            self.commits.append(after - before)
        return elapsed

    async def teardown(self) -> None:
        if self.orch is not None:
            await self.orch.close()
        self.storage.cleanup()


def chain(store: StoreKind) -> _OneRun:
    """A chain of `CHAIN_STEPS` trivial async tasks."""
    label = f"Podium, {_STORE_LABELS[store]}, async function agents"
    return _OneRun(label, chain_plan(CHAIN_STEPS), store)


def fanout(*, sleep: bool) -> _OneRun:
    agent = "sleep" if sleep else "step"
    return _OneRun(
        f"Podium, memory:// store, max_concurrency={MAX_CONCURRENCY}",
        fanout_plan(FANOUT_WIDTH, agent),
    )


class Concurrent:
    """`runs` concurrent runs of a short chain, `asyncio.gather`ed, per repetition."""

    def __init__(self, runs: int, store: StoreKind = "memory") -> None:
        self.runs = runs
        self.plan = chain_plan(CONCURRENT_STEPS)
        self.label = f"Podium, {_STORE_LABELS[store]}, {runs} x orch.run() in one asyncio.gather"
        self.storage = _Storage(store)
        self.orch: Orchestrator | None = None
        self.commits: list[int] = []

    async def setup(self) -> None:
        self.orch = orchestrator(self.storage.store())
        await self.orch.open()

    async def once(self) -> float:
        assert self.orch is not None
        before = commits(self.orch)
        start = time.perf_counter()
        results = await asyncio.gather(*(self.orch.run(self.plan) for _ in range(self.runs)))
        elapsed = time.perf_counter() - start
        if not all(r.ok for r in results):
            raise RuntimeError("a podium run failed")
        after = commits(self.orch)
        if before is not None and after is not None:
            self.commits.append(after - before)
        return elapsed

    async def teardown(self) -> None:
        if self.orch is not None:
            await self.orch.close()
        self.storage.cleanup()


async def journal_size(directory: str) -> JournalSize:
    """One `CHAIN_STEPS`-step chain journaled in a fresh SQLite file."""
    path = os.path.join(directory, "podium-journal.db")
    orch = orchestrator(f"sqlite:///{path}")
    run_id = uuid.uuid4().hex[:12]
    async with orch:
        result = await orch.run(chain_plan(CHAIN_STEPS), run_id=run_id)
        assert result.ok, result.status
        events = await orch.events(run_id)
    return JournalSize(
        records=len(events),
        payload_bytes=sum(len(encode(e)) for e in events),
        file_bytes=sqlite_file_bytes(path),
    )


async def memory(runs: int) -> ParkedMemory:
    """Memory while `runs` runs of a `PARKED_STEPS`-task chain all wait on the gate."""
    plan = chain_plan(PARKED_STEPS, agent="parked")
    async with orchestrator("memory://") as orch:
        return await parked_memory(lambda _: orch.run(plan), runs)
