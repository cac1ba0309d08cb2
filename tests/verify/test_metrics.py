"""Grounding verdicts feed the metrics: a rejected output counts toward the hallucination rate,
read back from a real SQLite journal."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from podium import Agent, Orchestrator, Plan, Task, TaskCall
from podium.events import OutputRejected, TaskFailed
from podium.metrics import GROUNDING, compute_metrics
from podium.store._sqlite import SQLiteStore
from podium.testing import FunctionModel
from podium.verify import Check
from tests.reliability.helpers import of

pytestmark = pytest.mark.anyio

FACT = "Coral reefs support about 25 percent of all marine species."


async def research(call: TaskCall) -> Any:
    """Writes what it found to the blackboard, with the source it came from."""
    call.context.write("findings", FACT, sources=("noaa-1",))
    return "done"


def writer() -> FunctionModel:
    said = [
        "Coral reefs support about 25 percent of marine species and grow 10 m a year [noaa-1].",
        "Coral reefs support about 25 percent of marine species [noaa-1].",
    ]
    return FunctionModel(lambda request: said.pop(0))


async def test_a_grounding_rejection_counts_as_a_hallucination(tmp_path: Path) -> None:
    plan = Plan(
        [
            Task(id="find", agent="researcher"),
            Task(
                id="write",
                agent="writer",
                needs=("find",),
                reads=("findings",),
                instruction="Write one sentence about coral reefs.",
                checks=(Check(kind="grounding", embeddings=False),),
            ),
        ]
    )
    agents = [Agent(name="researcher", function=research), Agent(name="writer", model=writer())]
    url = f"sqlite:///{tmp_path / 'runs.db'}"
    async with Orchestrator(agents=agents, store=url) as orch:
        result = await orch.run(plan)
        journal = await orch.events(result.run_id)
    assert result.status == "succeeded"
    [rejected] = of(journal, OutputRejected)
    assert rejected.error.type == GROUNDING
    row = rejected.evidence["unsupported"][0]
    assert row["cites"] == ["noaa-1"]
    assert row["problem"] == "states 10, which its sources do not"
    [failed] = of(journal, TaskFailed)
    assert failed.error.type == GROUNDING
    store = SQLiteStore(str(tmp_path / "runs.db"))
    await store.open()
    try:
        report = await compute_metrics(store)
    finally:
        await store.close()
    numbers = report.numbers()
    # outputs offered: find, write's rejected answer, write's grounded one
    assert numbers["hallucination_rate"] == pytest.approx(1 / 3)
    assert report.agents["writer"].grounding == 1
    assert report.agents["researcher"].grounding == 0
