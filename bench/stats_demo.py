"""`podium stats` over a few hundred real runs: what an operator sees after a day of traffic.

Usage:
    .venv/bin/python bench/stats_demo.py [--runs 220] [--db FILE] [--seed 7]

Five workflows and seven agents run on a SQLite store, through the orchestrator, with test
models (no network): retries after flaky first attempts, failures that end runs, a grounding
rejection now and then, answers rejected and asked again, approvals granted and rejected after a
wait, and people's feedback on some of the runs. The model-driven writer's prompts shrink as the
day goes on, so the cost per run trends down. Then `podium stats` prints the metrics against the
seed's targets, and the time `compute_metrics` took over the whole store is measured.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(1, str(ROOT))

from podium import Agent, Orchestrator, Plan, Task, TaskCall, Workflow  # noqa: E402
from podium.exceptions import OutputValidationError  # noqa: E402
from podium.metrics import compute_metrics  # noqa: E402
from podium.models import AssistantMessage, ModelRequest, ModelResponse, TokenUsage  # noqa: E402
from podium.models._prices import Price, PriceTable  # noqa: E402
from podium.reliability import BreakerPolicy, Reliability, RetryPolicy  # noqa: E402
from podium.testing import FunctionModel  # noqa: E402

PRICES = PriceTable({"test:*": Price(0.15, 0.60)})  # gpt-4o-mini's, per million tokens


def workflows() -> dict[str, Workflow]:
    plans = {
        "triage": [
            Task(id="classify", agent="clerk"),
            Task(id="route", agent="clerk", needs=("classify",)),
        ],
        "research": [
            Task(id="search", agent="searcher", retries=2),
            Task(
                id="write",
                agent="writer",
                instruction="write up {{ inputs.topic }}, size={{ inputs.size }}",
                needs=("search",),
                output_schema={"type": "object"},
            ),
        ],
        "publish": [
            Task(id="draft", agent="clerk"),
            Task(id="send", agent="mailer", needs=("draft",), approval="required"),
        ],
        "ingest": [
            Task(id="fetch", agent="fetcher"),
            Task(id="parse", agent="clerk", needs=("fetch",)),
        ],
        "answer": [Task(id="answer", agent="answerer")],
    }
    return {name: Workflow(name=name, plan=Plan(tasks)) for name, tasks in plans.items()}


async def pause(low: float, high: float) -> None:
    await asyncio.sleep(random.uniform(low, high))


def agents() -> list[Agent]:
    async def clerk(call: TaskCall) -> str:
        await pause(0.002, 0.01)
        return "done"

    async def searcher(call: TaskCall) -> str:
        await pause(0.01, 0.03)
        if call.attempt == 1 and call.run_inputs.get("flaky"):
            raise ConnectionError("search backend reset the connection")
        return "three sources"

    async def fetcher(call: TaskCall) -> str:
        await pause(0.005, 0.02)
        if call.run_inputs.get("broken"):
            raise PermissionError("403 from the upstream API")
        return "raw page"

    async def answerer(call: TaskCall) -> str:
        await pause(0.01, 0.04)
        if call.run_inputs.get("ungrounded"):
            raise OutputValidationError("claim not supported by its sources", kind="grounding")
        return "grounded answer"

    async def mailer(call: TaskCall) -> str:
        await pause(0.002, 0.005)
        return "sent"

    def writer(request: ModelRequest) -> ModelResponse:
        prompt = " ".join(str(getattr(m, "content", "")) for m in request.messages)
        size = int(m.group(1)) if (m := re.search(r"size=(\d+)", prompt)) else 500
        usage = TokenUsage(input_tokens=size, output_tokens=size // 4)
        if "reject" in prompt and not any(
            isinstance(x, AssistantMessage) for x in request.messages
        ):
            return ModelResponse(text="Sure! Here it is:", usage=usage)  # not JSON: asked again
        return ModelResponse(text='{"summary": "ok"}', usage=usage)

    return [
        Agent(name="clerk", function=clerk, description="files and routes"),
        Agent(name="searcher", function=searcher),
        Agent(name="fetcher", function=fetcher),
        Agent(name="answerer", function=answerer),
        Agent(name="mailer", function=mailer),
        Agent(name="writer", model=FunctionModel(writer, name="writer")),
    ]


def inputs_for(name: str, i: int, total: int, rng: random.Random) -> dict[str, Any]:
    if name == "research":
        size = int(3000 - 2000 * i / total) + rng.randint(0, 300)  # shorter prompts later on
        topic = "reject" if rng.random() < 0.1 else "the findings"
        return {"flaky": rng.random() < 0.3, "size": size, "topic": topic}
    if name == "ingest":
        outage = total * 0.4 <= i < total * 0.6  # the upstream API is down for a while
        return {"broken": outage or rng.random() < 0.1}
    if name == "answer":
        return {"ungrounded": rng.random() < 0.05}
    return {}


async def one_run(
    orch: Orchestrator, wf: Workflow, inputs: dict[str, Any], rng: random.Random
) -> str:
    result = await orch.run(wf, inputs=inputs)
    if result.status == "waiting":
        await asyncio.sleep(rng.uniform(0.01, 0.05))  # a person takes a moment
        decide = orch.approve if rng.random() < 0.7 else orch.reject
        await decide(result.run_id, by=rng.choice(["ann", "bob"]), workflow=wf)
    if rng.random() < 0.4:
        score = rng.choices([1, 2, 3, 4, 5], weights=[1, 1, 2, 4, 5])[0]
        await orch.feedback(result.run_id, score, by=rng.choice(["ann", "bob", "cy"]))
    return result.run_id


async def make_runs(db: Path, total: int, seed: int) -> None:
    rng = random.Random(seed)
    random.seed(seed)
    flows = workflows()
    names = list(flows)
    breakers = BreakerPolicy(
        min_calls=3, failure_rate=0.6, window_s=1.0, cooldown_s=0.2, scopes=("agent",)
    )
    reliability = Reliability(retry=RetryPolicy(attempts=1), breakers=breakers, seed=seed)
    async with Orchestrator(
        agents=agents(), store=f"sqlite:///{db}", prices=PRICES, reliability=reliability
    ) as orch:
        for i in range(total):
            name = names[i % len(names)]
            flow = flows[name]
            await one_run(orch, flow, inputs_for(name, i, total, rng), rng)


async def measure(db: Path) -> tuple[float, int]:
    from podium.store import open_store

    store = open_store(f"sqlite:///{db}")
    await store.open()
    try:
        started = time.perf_counter()
        report = await compute_metrics(store)
        return time.perf_counter() - started, report.totals.runs
    finally:
        await store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=220)
    parser.add_argument("--db", type=Path, default=None)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    db = args.db or Path(tempfile.mkdtemp(prefix="podium-stats-")) / "runs.db"
    started = time.perf_counter()
    asyncio.run(make_runs(db, args.runs, args.seed))
    print(f"{args.runs} runs on {db} in {time.perf_counter() - started:.1f} s", flush=True)
    took, runs = asyncio.run(measure(db))
    print(f"compute_metrics over {runs} runs: {took * 1000:.0f} ms\n", flush=True)
    podium = str(Path(sys.executable).parent / "podium")
    print(f"$ podium stats --store sqlite:///{db}", flush=True)
    subprocess.run([podium, "stats", "--store", f"sqlite:///{db}"], check=True)


if __name__ == "__main__":
    main()
