"""`Store.run_usage`: the tokens and cost of many runs in one read, on every backend."""

from __future__ import annotations

import pytest

from podium.events import ModelCalled, PlanProposed, TaskReady, TaskSucceeded, Usage
from podium.runtime import RunState
from podium.store import Store
from tests.store.helpers import ready, submitted


def _model(run_id: str, seq: int, tokens_in: int, tokens_out: int, cost: float) -> ModelCalled:
    return ModelCalled(
        run_id=run_id,
        seq=seq,
        ts=1000.0 + seq,
        task="t",
        agent="a",
        model="test",
        input_tokens=tokens_in,
        output_tokens=tokens_out,
        cost_usd=cost,
    )


@pytest.mark.anyio
async def test_run_usage_sums_model_and_planner_calls_as_the_fold_does(store: Store) -> None:
    await store.create_run("r1", submitted("r1"))
    events = [
        PlanProposed(run_id="r1", seq=1, ts=1001.0, attempt=1, input_tokens=7, output_tokens=3),
        ready(2, "r1"),
        _model("r1", 3, 100, 20, 0.25),
        _model("r1", 4, 50, 5, 0.125),
        # a task's own usage is the task's, not counted again in the run's
        TaskSucceeded(run_id="r1", seq=5, ts=1005.0, task="t", usage=Usage(input_tokens=999)),
    ]
    await store.append("r1", events)
    await store.create_run("r2", submitted("r2"))
    await store.append("r2", [_model("r2", 1, 1, 2, 0.0)])
    await store.create_run("idle", submitted("idle"))

    found = await store.run_usage(["r1", "r2", "idle", "unknown", "r1"])

    counted = [e for e in await store.load("r1") if not isinstance(e, TaskReady | TaskSucceeded)]
    folded = RunState.from_events("r1", counted).usage  # (no plan here for the task events)
    assert found["r1"] == folded == Usage(input_tokens=157, output_tokens=28, cost_usd=0.375)
    assert found["r2"] == Usage(input_tokens=1, output_tokens=2)
    assert set(found) == {"r1", "r2"}  # no usage, or no such run: left out
    assert await store.run_usage([]) == {}


@pytest.mark.anyio
async def test_run_usage_of_more_runs_than_one_statement_takes(store: Store) -> None:
    ids = [f"run-{i:04d}" for i in range(503)]
    for run_id in ids:
        await store.create_run(run_id, submitted(run_id))
        await store.append(run_id, [_model(run_id, 1, 1, 1, 0.5)])
    found = await store.run_usage(ids)
    assert len(found) == len(ids)
    assert sum(u.cost_usd for u in found.values()) == 0.5 * len(ids)
