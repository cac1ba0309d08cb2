"""The benchmark's graph shapes, run by Podium."""

from __future__ import annotations

import asyncio
import os
import tempfile
import time
import uuid

from common import (
    CHAIN_STEPS,
    CONCURRENT_STEPS,
    FANOUT_WIDTH,
    GATE,
    PARKED_STEPS,
    SLEEP_S,
    JournalSize,
    ParkedMemory,
    parked_memory,
    sqlite_file_bytes,
)

from podium import Agent, Limits, Orchestrator, Plan, Task, TaskCall
from podium.events import encode

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


def orchestrator(store: str) -> Orchestrator:
    return Orchestrator(agents=AGENTS, store=store, limits=Limits(max_concurrency=MAX_CONCURRENCY))


class _OneRun:
    """Times one run of a plan per repetition."""

    def __init__(self, label: str, plan: Plan, store: str = "memory://") -> None:
        self.label = label
        self.plan = plan
        self.store = store
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self.orch: Orchestrator | None = None

    async def setup(self) -> None:
        store = self.store
        if store == "sqlite":
            self._tmp = tempfile.TemporaryDirectory(prefix="podium-bench-")
            store = f"sqlite:///{os.path.join(self._tmp.name, 'podium.db')}"
        self.orch = orchestrator(store)
        await self.orch.open()

    async def once(self) -> float:
        assert self.orch is not None
        start = time.perf_counter()
        result = await self.orch.run(self.plan)
        elapsed = time.perf_counter() - start
        if not result.ok:
            raise RuntimeError(f"podium run {result.status}: {result.tasks}")
        return elapsed

    async def teardown(self) -> None:
        if self.orch is not None:
            await self.orch.close()
        if self._tmp is not None:
            self._tmp.cleanup()


def chain(store: str) -> _OneRun:
    """A chain of `CHAIN_STEPS` trivial async tasks; `store` is ``memory://`` or ``sqlite``."""
    where = "memory:// store" if store == "memory://" else "SQLite store (WAL, synchronous=NORMAL)"
    return _OneRun(f"Podium, {where}, async function agents", chain_plan(CHAIN_STEPS), store)


def fanout(*, sleep: bool) -> _OneRun:
    agent = "sleep" if sleep else "step"
    return _OneRun(
        f"Podium, memory:// store, max_concurrency={MAX_CONCURRENCY}",
        fanout_plan(FANOUT_WIDTH, agent),
    )


class Concurrent:
    """`runs` concurrent runs of a short chain, `asyncio.gather`ed, per repetition."""

    def __init__(self, runs: int) -> None:
        self.runs = runs
        self.plan = chain_plan(CONCURRENT_STEPS)
        self.label = f"Podium, memory:// store, {runs} x orch.run() in one asyncio.gather"
        self.orch = orchestrator("memory://")

    async def setup(self) -> None:
        await self.orch.open()

    async def once(self) -> float:
        start = time.perf_counter()
        results = await asyncio.gather(*(self.orch.run(self.plan) for _ in range(self.runs)))
        elapsed = time.perf_counter() - start
        if not all(r.ok for r in results):
            raise RuntimeError("a podium run failed")
        return elapsed

    async def teardown(self) -> None:
        await self.orch.close()


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
