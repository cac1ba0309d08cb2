"""Every metric computed from real journals whose every event is known in advance."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import pytest

from podium import Planner
from podium.events import AnyEvent, Event
from podium.exceptions import ConfigError
from podium.metrics import Targets, compute_metrics
from podium.metrics import _compute as compute_module
from podium.models import ModelRequest, ModelResponse, TokenUsage
from podium.store import RunInfo, Store
from podium.testing import FunctionModel
from tests.metrics.conftest import START, Lab, run_scenario

pytestmark = pytest.mark.anyio


async def test_every_metric_of_the_scenario(lab: Lab) -> None:
    await run_scenario(lab)
    assert lab.orch is not None
    report = await compute_metrics(lab.orch.store)
    n = report.numbers()
    # 9 runs, all ended; steady, mixed and shaped succeeded with nobody asked
    assert (n["runs"], n["finished_runs"], n["unassisted_runs"]) == (9, 9, 3)
    assert n["completion_rate"] == pytest.approx(3 / 9)
    # attempts: steady 2, mixed 3, doomed 1+1, gated 2+1 (the rejected task never ran),
    # shaped 1, grounded 1, loopy 1; seconds as the agents moved the clock
    assert n["attempts"] == 13
    assert n["step_latency_mean_s"] == pytest.approx(10.5 / 13)
    assert (n["step_latency_p50_s"], n["step_latency_p95_s"]) == (1.0, 2.0)
    # errors: mixed's first try, doomed twice, shaped's rejected answer, grounded, loopy;
    # over 13 attempts plus the one answer asked again
    assert n["errors"] == 6
    assert n["error_rate"] == pytest.approx(6 / 14)
    # one grounding rejection over 8 outputs offered plus itself
    assert n["grounding_rejections"] == 1
    assert n["hallucination_rate"] == pytest.approx(1 / 9)
    assert (n["satisfaction"], n["feedback_count"]) == (pytest.approx(3.0), 3)
    # shaped's two model calls: 10+20 tokens in, 5+10 out, at $0.001 / $0.002 a token
    assert (n["input_tokens"], n["output_tokens"]) == (30, 15)
    assert n["cost_usd"] == pytest.approx(0.06)
    assert n["cost_per_run_usd"] == pytest.approx(0.06 / 9)
    assert (n["retries"], n["breaker_openings"]) == (1, 1)
    assert (n["loop_stops"], n["stall_stops"]) == (1, 0)
    assert (n["approvals_requested"], n["approvals_granted"], n["approvals_rejected"]) == (2, 1, 1)
    assert (n["approval_wait_mean_s"], n["approval_wait_p95_s"]) == (45.0, 60.0)
    assert report.totals.statuses == {"failed": 5, "succeeded": 4}


async def test_per_agent_and_per_workflow(lab: Lab) -> None:
    await run_scenario(lab)
    assert lab.orch is not None
    data = (await compute_metrics(lab.orch.store)).to_json()
    agents = data["agents"]
    assert sorted(agents) == ["broken", "flaky", "liar", "loopy", "quick", "writer"]
    assert (agents["quick"]["attempts"], agents["quick"]["errors"]) == (6, 0)
    assert agents["quick"]["step_latency_p95_s"] == 1.0
    assert (agents["flaky"]["attempts"], agents["flaky"]["error_rate"]) == (2, 0.5)
    assert agents["broken"]["breaker_openings"] == 1
    assert agents["writer"]["error_rate"] == 0.5  # one answer rejected, asked again, then fine
    assert (agents["writer"]["input_tokens"], agents["writer"]["output_tokens"]) == (30, 15)
    assert agents["liar"]["hallucination_rate"] == 1.0
    flows = data["workflows"]
    assert {k: v["runs"] for k, v in flows.items()} == {
        "doomed": 2,
        "gated": 2,
        "grounded": 1,
        "loopy": 1,
        "mixed": 1,
        "shaped": 1,
        "steady": 1,
    }
    assert flows["gated"]["completion_rate"] == 0.0  # the approved one needed a person
    assert flows["gated"]["approval_wait_mean_s"] == 45.0
    assert flows["steady"]["satisfaction"] == 3.5
    assert flows["loopy"]["loop_stops"] == 1


async def test_targets_met_not_met_and_no_data(lab: Lab) -> None:
    await run_scenario(lab)
    assert lab.orch is not None
    report = await compute_metrics(lab.orch.store, buckets=1)
    status = {c.metric: c.status for c in report.checks()}
    assert status == {
        "completion_rate": "not met",
        "step_latency": "met",
        "error_rate": "not met",
        "hallucination_rate": "not met",
        "satisfaction": "not met",
        "cost_per_run": "no data",  # one bucket: no trend
    }
    lenient = Targets(completion_rate=0.3, error_rate=0.5, hallucination_rate=0.2, satisfaction=3)
    relaxed = await compute_metrics(lab.orch.store, targets=lenient, buckets=1)
    assert {c.status for c in relaxed.checks()} == {"met", "no data"}


async def test_no_runs_is_no_data_not_zero(lab: Lab) -> None:
    assert lab.orch is not None
    report = await compute_metrics(lab.orch.store)
    data = report.to_json()
    assert data["runs"] == 0
    assert {t["status"] for t in data["targets"]} == {"no data"}
    for key in ("completion_rate", "error_rate", "hallucination_rate", "satisfaction"):
        assert data["totals"][key] is None
    assert data["workflows"] == {}
    assert len(data["series"]) == 12


async def test_a_waiting_run_is_not_finished_and_unrated_runs_have_no_satisfaction(
    lab: Lab,
) -> None:
    await lab.run("gated")  # parks on its approval
    assert lab.orch is not None
    n = (await compute_metrics(lab.orch.store)).numbers()
    assert (n["runs"], n["finished_runs"], n["completion_rate"]) == (1, 0, None)
    assert (n["approvals_requested"], n["approval_wait_mean_s"]) == (1, None)
    assert n["satisfaction"] is None
    assert n["hallucination_rate"] == 0.0  # one output offered, none rejected


async def test_window_workflow_and_last(lab: Lab) -> None:
    assert lab.orch is not None
    for _ in range(3):
        await lab.run("steady")  # created at START, +2, +4
    middle = lab.clock.time()  # START + 6
    for _ in range(2):
        await lab.run("doomed")  # +6, +6.5
    await lab.run("steady")  # +7
    store = lab.orch.store
    assert (await compute_metrics(store)).totals.runs == 6
    assert (await compute_metrics(store, since=middle)).totals.runs == 3
    assert (await compute_metrics(store, until=middle - 0.1)).totals.runs == 3
    assert (await compute_metrics(store, since=START + 1, until=START + 5)).totals.runs == 2
    steady = await compute_metrics(store, workflow="steady")
    assert (steady.totals.runs, steady.numbers()["completion_rate"]) == (4, 1.0)
    last = await compute_metrics(store, last=2)
    assert dict(last.totals.statuses) == {"failed": 1, "succeeded": 1}  # doomed, then steady
    assert (await compute_metrics(store, workflow="steady", last=2)).totals.runs == 2
    assert (await compute_metrics(store, workflow="nope")).totals.runs == 0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"since": 10.0, "until": 5.0}, "starts"),
        ({"last": 0}, "`last`"),
        ({"buckets": 0}, "`buckets`"),
    ],
)
async def test_bad_arguments(lab: Lab, kwargs: dict[str, Any], message: str) -> None:
    assert lab.orch is not None
    with pytest.raises(ConfigError, match=message):
        await compute_metrics(lab.orch.store, **kwargs)


async def test_buckets_and_cost_trend(lab: Lab) -> None:
    assert lab.orch is not None
    for _ in range(2):
        await lab.run("shaped")  # $0.06 each, at START
    lab.clock.advance(100)
    for _ in range(2):
        await lab.run("steady")  # free, at START + 100 and + 102
    store = lab.orch.store
    report = await compute_metrics(store, since=START, until=START + 104, buckets=4)
    series = report.series()
    assert [row["runs"] for row in series] == [2, 0, 0, 2]
    assert series[0]["cost_per_run_usd"] == pytest.approx(0.06)
    assert series[1]["cost_per_run_usd"] is None
    slope, direction = report.cost_trend()
    assert direction == "decreasing"
    assert slope == pytest.approx(-0.06 / 3)
    assert {c.metric: c.status for c in report.checks()}["cost_per_run"] == "met"
    assert report.to_json()["workflows"]["shaped"]["cost_trend"]["direction"] == "no data"
    lab.clock.advance(100)
    await lab.run("shaped")  # costs again: the trend turns up over the last two buckets
    later = await compute_metrics(store, since=START + 50, until=START + 210, buckets=2)
    assert later.cost_trend()[1] == "increasing"
    assert {c.metric: c.status for c in later.checks()}["cost_per_run"] == "not met"


class CountingStore:
    """A store that counts the calls the metrics make of it."""

    def __init__(self, inner: Store) -> None:
        self.inner = inner
        self.loads: list[str] = []
        self.pages: list[int] = []

    async def list_runs(self, *, limit: int = 100) -> list[RunInfo]:
        self.pages.append(limit)
        return await self.inner.list_runs(limit=limit)

    async def load(self, run_id: str, *, after_seq: int = -1) -> list[AnyEvent]:
        self.loads.append(run_id)
        return await self.inner.load(run_id, after_seq=after_seq)

    async def append(
        self, run_id: str, events: Sequence[Event], *, fence: int | None = None
    ) -> None:
        await self.inner.append(run_id, events, fence=fence)


async def test_one_journal_read_per_run_in_the_window(
    lab: Lab, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(compute_module, "FIRST_PAGE", 4)
    assert lab.orch is not None
    old = [await lab.run("steady") for _ in range(10)]  # START .. START + 18
    since = lab.clock.time()
    new = [await lab.run("steady") for _ in range(5)]
    counting = CountingStore(lab.orch.store)
    report = await compute_metrics(counting, since=since)  # type: ignore[arg-type]
    assert report.totals.runs == 5
    assert sorted(counting.loads) == sorted(new)  # no journal outside the window is read
    assert counting.pages == [4, 16]  # the second page reaches past `since`
    assert not set(counting.loads) & set(old)
    counting.loads.clear()
    counting.pages.clear()
    await compute_metrics(counting, last=3)  # type: ignore[arg-type]
    assert (len(counting.loads), counting.pages) == (3, [4])


async def test_planner_tokens_count_in_the_runs_tokens(lab: Lab) -> None:
    def planner(request: ModelRequest) -> ModelResponse:
        plan = {"tasks": [{"id": "t", "instruction": "do it", "agent": "quick", "needs": []}]}
        return ModelResponse(
            text=json.dumps(plan), usage=TokenUsage(input_tokens=7, output_tokens=3)
        )

    assert lab.orch is not None
    result = await lab.orch.run("do it", planner=Planner(model=FunctionModel(planner)))
    assert result.status == "succeeded"
    report = await compute_metrics(lab.orch.store)
    n = report.numbers()
    assert (n["input_tokens"], n["output_tokens"]) == (7, 3)  # as the run's own usage says
    assert (result.usage.input_tokens, result.usage.output_tokens) == (7, 3)
    assert report.to_json()["agents"]["quick"]["input_tokens"] == 0  # the planner is no agent
