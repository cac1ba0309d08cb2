"""Fault injection: seeded, per-call fates for models, tools and agents."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from podium import Agent, ConfigError, Plan, Task, TaskCall, tool
from podium.events import TaskAssigned, TaskFailed, TaskRetrying, TaskSucceeded
from podium.models import ModelRequest
from podium.models._errors import ProviderError
from podium.reliability import Reliability, RetryPolicy
from podium.testing import FakeClock, Faults, FaultyModel, TestModel, faulty_tool, inject_faults

from .helpers import of, run_plan

pytestmark = pytest.mark.anyio

TRANSIENT = {"ProviderUnavailable", "RateLimited", "ProviderTimeout"}


def test_rates_are_validated_and_fates_drawn_at_those_rates() -> None:
    with pytest.raises(ConfigError):
        Faults(transient=0.8, permanent=0.5)
    with pytest.raises(ConfigError):
        Faults(slow=-0.1)
    faults = Faults(transient=0.3, permanent=0.1, slow=0.1, garbage=0.1)
    rng = random.Random(0)
    fates = [faults.draw(rng) for _ in range(10_000)]
    shares = {f: fates.count(f) / len(fates) for f in set(fates)}
    assert shares["transient"] == pytest.approx(0.3, abs=0.02)
    assert shares["ok"] == pytest.approx(0.4, abs=0.02)


async def test_faulty_model_is_deterministic_for_a_seed() -> None:
    async def fates(seed: int) -> list[str]:
        model = FaultyModel(TestModel(), Faults(transient=0.5, garbage=0.2, seed=seed))
        out = []
        for _ in range(30):
            try:
                response = await model.request(ModelRequest(messages=()))
                out.append(response.finish_reason)
            except ProviderError as exc:
                out.append(f"{type(exc).__name__}:{exc.retryable}")
        return out

    first, again, other = await fates(1), await fates(1), await fates(2)
    assert first == again
    assert first != other
    assert {"ProviderUnavailable:True", "RateLimited:True", "ProviderTimeout:True"} <= set(first)


async def test_garbage_and_permanent_and_slow_fates() -> None:
    clock = FakeClock()
    model = FaultyModel("test", Faults(garbage=1.0), clock=clock, rng=random.Random(4))
    answers = [await model.request(ModelRequest(messages=())) for _ in range(20)]
    kinds = {(a.text, a.finish_reason, bool(a.tool_calls)) for a in answers}
    assert ("", "stop", False) in kinds
    assert ('{"answer": "cut off he', "length", False) in kinds
    assert (None, "tool_calls", True) in kinds
    assert model.stats.counts == {"garbage": 20}
    permanent = FaultyModel(TestModel(), Faults(permanent=1.0))
    with pytest.raises(ProviderError) as caught:
        await permanent.request(ModelRequest(messages=()))
    assert not caught.value.retryable
    slow = FaultyModel(TestModel(), Faults(slow=1.0, slow_s=30), clock=clock)
    await slow.request(ModelRequest(messages=()))
    assert clock.time() == 30


@tool
def echo(text: str) -> str:
    """Echo."""
    return text


async def test_faulty_tools_fail_or_flood() -> None:
    from podium import ToolContext
    from podium.exceptions import ToolError

    ctx = ToolContext(run_id="r", task_id="t", agent="a", call_id="c", idempotency_key="k")
    failing = faulty_tool(echo, Faults(transient=1.0))
    with pytest.raises(ToolError, match="injected transient fault"):
        await failing.call({"text": "hi"}, ctx)
    flood = inject_faults(echo, Faults(garbage=1.0))
    assert len(await flood.call({"text": "hi"}, ctx)) == 1_000_000
    fine = inject_faults(echo, Faults())
    assert await fine.call({"text": "hi"}, ctx) == "hi"


async def test_inject_faults_into_agents() -> None:
    def work(call: TaskCall) -> str:
        return "ok"

    flaky = inject_faults(Agent(name="f", function=work), Faults(transient=0.5, seed=3))
    task = Task(id="t", agent="f", retry=RetryPolicy(attempts=20, backoff_s=0))
    result, _ = await run_plan(Plan([task]), flaky)
    assert result.output == "ok"
    assert result.tasks["t"]["attempts"] > 1

    modelled = inject_faults(Agent(name="m", model=TestModel(), tools=(echo,)), Faults())
    assert isinstance(modelled.model, FaultyModel)
    result, _ = await run_plan(Plan([Task(id="t", agent="m")]), modelled)
    assert result.status == "succeeded"


async def test_thirty_percent_transient_failures_with_a_healthy_backup_all_succeed() -> None:
    """A small version of bench/faults.py, proved by the journals: the faults fire at their rate,
    each one fails an attempt that is retried on the same agent, and a task whose every attempt
    failed is taken over by its backup."""
    clock = FakeClock()
    agents, faulty = [], []
    for name in ("research", "write"):
        model = FaultyModel(TestModel(output_text="done"), Faults(transient=0.3, seed=11))
        faulty.append(model)
        agents.append(
            Agent(
                name=name,
                model=model,
                backups=(f"{name}-backup",),
                retry=RetryPolicy(attempts=3, backoff_s=0.5),
            )
        )
        agents.append(Agent(name=f"{name}-backup", model=TestModel(output_text="done")))
    plan = Plan([Task(id="r", agent="research"), Task(id="w", agent="write", needs=("r",))])
    journals = []
    for _ in range(50):
        result, journal = await run_plan(
            plan, *agents, clock=clock, reliability=Reliability(seed=1)
        )
        assert result.status == "succeeded"
        journals.append(journal)

    injected = sum(m.stats.counts.get("transient", 0) for m in faulty)
    calls = sum(m.stats.calls for m in faulty)
    assert 0.2 < injected / calls < 0.4
    events = [e for journal in journals for e in journal]
    failures = of(events, TaskFailed)
    assert len(failures) == injected  # every fault failed an attempt, and nothing else did
    assert {f.error.type for f in failures} <= TRANSIENT
    assert not any(f.final for f in failures)  # none was given up on
    assert len(of(events, TaskRetrying)) == injected
    how: Counter[str] = Counter()
    for journal in journals:
        for tid, name in (("r", "research"), ("w", "write")):
            failed = of(journal, TaskFailed, tid)
            [done] = of(journal, TaskSucceeded, tid)
            backups = [a for a in of(journal, TaskAssigned, tid) if a.reason.startswith("backup")]
            assert all(f.agent == name for f in failed)
            if len(failed) < 3:  # retried on its own agent until an attempt went through
                assert (done.agent, done.attempt, backups) == (name, len(failed) + 1, [])
                how["retried" if failed else "first time"] += 1
            else:  # its three attempts failed: the backup took over and succeeded
                assert len(failed) == 3
                assert [b.agent for b in backups] == [f"{name}-backup"]
                assert done.agent == f"{name}-backup"
                how["backup"] += 1
    assert how["retried"] > 0
    assert how["backup"] > 0
    assert sum(how.values()) == 100
