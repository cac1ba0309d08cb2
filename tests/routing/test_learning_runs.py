"""Outcome learning end to end: runs report outcomes, later runs route by them."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from podium import Agent, Orchestrator, Plan, Task, TaskCall
from podium.events import AnyEvent, TaskAssigned
from podium.routing import CapabilityRouter, ScoringRouter, task_kind
from podium.store import MemoryStore, Outcome, Store, open_store
from podium.testing import TestModel

pytestmark = pytest.mark.anyio

SUMMARY = Task(id="t", capability="summarise", instruction="Summarise the weekly notes")


def flaky(name: str, p_success: float, seed: int) -> Agent:
    """An agent that fails with probability 1 - `p_success` (its own seeded dice)."""
    dice = random.Random(seed)

    async def work(call: TaskCall) -> str:
        if dice.random() >= p_success:
            raise RuntimeError(f"{name} failed")
        return name

    return Agent(
        name=name,
        description="Summarises notes and reports",
        capabilities=("summarise",),
        function=work,
    )


async def assigned(orch: Orchestrator, run_id: str) -> TaskAssigned:
    return next(e for e in await orch.events(run_id) if isinstance(e, TaskAssigned))


async def test_the_default_router_scores_and_explains_in_task_assigned() -> None:
    agents = [flaky("alpha", 1.0, 0), flaky("beta", 1.0, 1)]
    async with Orchestrator(agents=agents, store="memory://") as orch:
        assert isinstance(orch.router, ScoringRouter)
        result = await orch.run(Plan([SUMMARY]))
        event = await assigned(orch, result.run_id)
    assert result.status == "succeeded"
    assert event.agent in ("alpha", "beta")
    assert [c["agent"] for c in event.candidates] == ["alpha", "beta"]
    for c in event.candidates:
        assert {"score", "relevance", "success", "cost", "latency", "runs"} <= set(c)
    assert "'summarise'" in event.reason
    assert "success" in event.reason


async def test_every_final_outcome_is_stored_per_kind_and_agent() -> None:
    store = MemoryStore()
    calls: list[int] = []

    async def flaky_once(call: TaskCall) -> dict[str, int]:
        calls.append(call.attempt)
        if call.attempt == 1:
            raise RuntimeError("transient")
        return {"n": call.attempt}

    plan = Plan(
        [
            Task(id="a", agent="worker", instruction="Count the rows", retries=1),
            Task(
                id="b",
                agent="worker",
                instruction="Count the rows",
                output_schema={"type": "object"},
                retries=1,
                needs=("a",),
            ),
            Task(id="c", agent="broken", instruction="Explode", optional=True),
        ]
    )

    async def broken(call: TaskCall) -> None:
        raise ValueError("no")

    agents = [Agent(name="worker", function=flaky_once), Agent(name="broken", function=broken)]
    async with Orchestrator(agents=agents, store=store) as orch:
        result = await orch.run(plan)
    assert result.status == "partially_succeeded"
    stats = {(s.kind, s.agent): s for s in await store.outcome_stats()}
    worker = stats[("@worker/count+row", "worker")]
    assert (worker.runs, worker.successes) == (2, 2)  # final outcomes, not attempts
    assert (worker.checked, worker.checks_passed) == (1, 1)
    assert worker.cost_runs == 0  # a Python agent reports no cost
    broken_stats = stats[("@broken/explod", "broken")]
    assert (broken_stats.runs, broken_stats.successes) == (1, 0)


async def test_capability_router_runs_record_outcomes_too() -> None:
    store = MemoryStore()
    async with Orchestrator(
        agents=[flaky("alpha", 1.0, 0)], store=store, router=CapabilityRouter()
    ) as orch:
        await orch.run(Plan([SUMMARY]))
    assert [(s.kind, s.runs) for s in await store.outcome_stats()] == [(task_kind(SUMMARY), 1)]


async def test_run_n_plus_one_routes_by_the_outcomes_of_run_n(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    bad, good = flaky("alpha", 0.0, 0), flaky("beta", 1.0, 1)
    for n in range(12):  # a new orchestrator (a new process, say) for every run
        async with Orchestrator(agents=[bad, good], store=url) as orch:
            await orch.run(Plan([SUMMARY]), run_id=f"run-{n}")
    store: Store = open_store(url)
    await store.open()
    stats = {s.agent: s for s in await store.outcome_stats()}
    await store.close()
    assert sum(s.runs for s in stats.values()) == 12
    assert stats["alpha"].successes == 0
    assert stats["beta"].successes == stats["beta"].runs
    # what the next run's router knows, from the store alone
    router = ScoringRouter(explore="mean")
    store = open_store(url)
    await store.open()
    await router.prepare(store)
    await store.close()
    decision = router.route(SUMMARY, {"alpha": bad, "beta": good}, lambda _: True)
    assert decision is not None
    assert decision.agent == "beta"
    beta = next(c for c in decision.candidates if c["agent"] == "beta")
    assert beta["runs"] == stats["beta"].runs


async def test_routing_converges_to_the_better_agent_and_keeps_exploring() -> None:
    store = MemoryStore()
    agents = [flaky("alpha", 0.6, 11), flaky("beta", 0.9, 12)]
    router = ScoringRouter(rng=random.Random(2024))
    chosen: list[str] = []

    def on_event(event: AnyEvent) -> None:
        if isinstance(event, TaskAssigned):
            chosen.append(event.agent)

    async with Orchestrator(agents=agents, store=store, router=router) as orch:
        for n in range(300):
            await orch.run(Plan([SUMMARY]), run_id=f"run-{n}", on_event=on_event)
    assert len(chosen) == 300
    early, late = chosen[:50], chosen[-150:]
    assert early.count("alpha") >= 10  # both are tried at first
    assert late.count("beta") / len(late) > 0.9  # then the better one takes over…
    assert chosen[100:].count("alpha") > 0  # …while the other is still tried now and then
    stats = {s.agent: s for s in await store.outcome_stats()}
    assert stats["beta"].runs > 5 * stats["alpha"].runs
    assert stats["alpha"].runs + stats["beta"].runs == 300


async def test_the_same_seed_routes_the_same_way() -> None:
    async def picks() -> list[str]:
        agents = [flaky("alpha", 0.5, 11), flaky("beta", 0.9, 12)]
        router = ScoringRouter(rng=random.Random(5))
        async with Orchestrator(agents=agents, store="memory://", router=router) as orch:
            return [
                (await assigned(orch, (await orch.run(Plan([SUMMARY]))).run_id)).agent
                for _ in range(30)
            ]

    assert await picks() == await picks()


ONE = Outcome(kind=task_kind(SUMMARY), agent="alpha", success=True)


async def test_outcomes_observed_in_a_running_run_survive_a_reload() -> None:
    store = MemoryStore()
    router = ScoringRouter()
    router.observe(ONE)
    await router.prepare(store)  # another run starts: the store has nothing yet
    assert router.book.stats(ONE.kind, ONE.agent) is not None
    await router.save(store, [ONE])
    await router.prepare(store)  # saved once, counted once
    stats = router.book.stats(ONE.kind, ONE.agent)
    assert stats is not None
    assert stats.runs == 1
    await router.save(store, [])


async def test_prepare_reloads_at_most_every_refresh_s() -> None:
    now = [0.0]
    store = MemoryStore()
    router = ScoringRouter(refresh_s=10.0, clock=lambda: now[0])
    await router.prepare(store)
    await store.record_outcomes([ONE])
    await router.prepare(store)
    assert router.book.all_stats() == []
    now[0] = 10.0
    await router.prepare(store)
    assert len(router.book.all_stats()) == 1


async def test_outcomes_of_model_agents_carry_cost_and_failed_checks() -> None:
    store = MemoryStore()

    async def wrong(call: TaskCall) -> dict[str, str]:
        return {"n": "not a number"}

    schema = {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}
    plan = Plan(
        [
            Task(id="ask", agent="llm", instruction="Answer briefly"),
            Task(id="bad", agent="wrong", instruction="Count", output_schema=schema, optional=True),
        ]
    )
    agents = [
        Agent(name="llm", model=TestModel(output_text="42")),
        Agent(name="wrong", function=wrong),
    ]
    async with Orchestrator(agents=agents, store=store) as orch:
        await orch.run(plan)
    stats = {s.agent: s for s in await store.outcome_stats()}
    assert stats["llm"].cost_runs == 1  # it reported usage: its cost is known (here 0)
    assert (stats["wrong"].checked, stats["wrong"].checks_passed) == (1, 0)
