"""Fault injection at scale: how many runs survive flaky models, with which failure handling.

Usage:
    .venv/bin/python bench/faults.py [--runs 1000] [--rate 0.3] [--seed 7] [--real-clock]
                                     [--json]

Every run is the same four-task workflow (research → two analyses in parallel → write) on three
model-driven agents whose model (`podium.testing.FaultyModel`) fails `--rate` of its calls with a
transient provider error (unavailable, rate limited, timed out). Each agent has one healthy
backup agent on another provider. The runs are driven concurrently by one orchestrator, once per
configuration of failure handling:

- none: no retries, no backups (what the agents' flakiness costs on its own);
- retries: 3 attempts per agent, exponential backoff with jitter;
- retries + backups: the same, then the backup agent takes the task;
- retries + backups + breakers: the same, with circuit breakers per agent and per provider.

Delays wait on a `FakeClock` (autojump), so the backoff costs no real time; `--real-clock` uses
the real one with millisecond delays instead. The script exits non-zero when "retries + backups"
lets fewer than 99.9% of the runs succeed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(1, str(ROOT))

from podium import Agent, Limits, Orchestrator, Plan, Task  # noqa: E402
from podium.events import BreakerOpened, ModelCalled, TaskAssigned, TaskRetrying  # noqa: E402
from podium.models import Model, ModelRequest, ModelResponse  # noqa: E402
from podium.reliability import (  # noqa: E402
    SYSTEM_CLOCK,
    BreakerPolicy,
    Clock,
    Reliability,
    RetryPolicy,
)
from podium.testing import FakeClock, Faults, FaultyModel, TestModel  # noqa: E402

TARGET = 0.999
ROLES = ("research", "analyse", "write")


class OnProvider:
    """A model of another provider (a local one, so the backups share no breaker or bill with
    the primaries)."""

    def __init__(self, model: Model, provider: str) -> None:
        self.inner = model
        self._provider = provider

    @property
    def name(self) -> str:
        return f"{self._provider}:{self.inner.name.partition(':')[2]}"

    @property
    def provider(self) -> str:
        return self._provider

    async def request(self, request: ModelRequest) -> ModelResponse:
        return await self.inner.request(request)


@dataclass(frozen=True)
class Config:
    name: str
    retries: bool
    backups: bool
    breakers: bool


CONFIGS = (
    Config("none", retries=False, backups=False, breakers=False),
    Config("retries", retries=True, backups=False, breakers=False),
    Config("retries + backups", retries=True, backups=True, breakers=False),
    Config("retries + backups + breakers", retries=True, backups=True, breakers=True),
)


def plan() -> Plan:
    return Plan(
        [
            Task(id="research", agent="research", instruction="Collect facts about tides."),
            Task(id="analyse_a", agent="analyse", needs=("research",), instruction="Causes."),
            Task(id="analyse_b", agent="analyse", needs=("research",), instruction="Effects."),
            Task(id="write", agent="write", needs=("analyse_a", "analyse_b"), instruction="Write."),
        ]
    )


def agents(
    config: Config, rate: float, seed: int, clock: Clock, backoff_s: float
) -> tuple[list[Agent], list[FaultyModel]]:
    out: list[Agent] = []
    faulty: list[FaultyModel] = []
    retry = RetryPolicy(attempts=3, backoff_s=backoff_s, max_backoff_s=30 * backoff_s, jitter=0.5)
    for i, role in enumerate(ROLES):
        model = FaultyModel(
            TestModel(output_text=f"{role} done"),
            Faults(transient=rate, seed=seed + i),
            clock=clock,
        )
        faulty.append(model)
        out.append(
            Agent(
                name=role,
                model=model,
                retry=retry if config.retries else RetryPolicy(attempts=1),
                backups=(f"{role}-backup",) if config.backups else (),
            )
        )
        backup = OnProvider(TestModel(output_text=f"{role} done (backup)"), "local")
        out.append(Agent(name=f"{role}-backup", model=backup))
    return out, faulty


async def measure(config: Config, args: argparse.Namespace) -> dict[str, Any]:
    clock: Clock = SYSTEM_CLOCK if args.real_clock else FakeClock(1_000_000.0)
    backoff_s = 0.002 if args.real_clock else 1.0
    team, faulty = agents(config, args.rate, args.seed, clock, backoff_s)
    reliability = Reliability(
        breakers=BreakerPolicy(failure_rate=0.5, min_calls=50, window_s=60, cooldown_s=30)
        if config.breakers
        else None,
        seed=args.seed,
    )
    orch = Orchestrator(
        agents=team,
        store="memory://",
        clock=clock,
        reliability=reliability,
        limits=Limits(max_concurrency=8),
    )
    started = time.perf_counter()
    async with orch:
        results = await asyncio.gather(*(orch.run(plan()) for _ in range(args.runs)))
        journals = [await orch.events(r.run_id) for r in results]
    wall = time.perf_counter() - started
    statuses = Counter(r.status for r in results)
    count: Counter[str] = Counter()
    for journal in journals:
        for event in journal:
            if isinstance(event, TaskRetrying):
                count["retries"] += 1
            elif isinstance(event, TaskAssigned) and event.reason.startswith("backup for"):
                count["backups"] += 1
            elif isinstance(event, BreakerOpened):
                count["breakers"] += 1
            elif isinstance(event, ModelCalled):
                count["model_calls"] += 1
    injected = sum(m.stats.counts.get("transient", 0) for m in faulty)
    calls = sum(m.stats.calls for m in faulty)
    return {
        "config": config.name,
        "runs": args.runs,
        "succeeded": statuses["succeeded"],
        "failed": statuses["failed"],
        "other": args.runs - statuses["succeeded"] - statuses["failed"],
        "success_rate": statuses["succeeded"] / args.runs,
        "injected_failures": injected,
        "primary_calls": calls,
        "observed_failure_rate": injected / calls if calls else 0.0,
        "retries": count["retries"],
        "backup_takeovers": count["backups"],
        "breakers_opened": count["breakers"],
        "model_calls": count["model_calls"],
        "wall_s": wall,
    }


def table(rows: list[dict[str, Any]], args: argparse.Namespace) -> str:
    header = (
        f"{'failure handling':<30} {'runs':>6} {'ok':>6} {'failed':>6} {'success':>9} "
        f"{'faults':>7} {'fault %':>8} {'retries':>8} {'backups':>8} {'breakers':>8} "
        f"{'wall s':>7}"
    )
    lines = [
        f"{args.runs} runs x 4 tasks, {args.rate:.0%} transient model failures "
        f"(seed {args.seed}, {'real' if args.real_clock else 'fake'} clock)",
        header,
        "-" * len(header),
    ]
    for r in rows:
        lines.append(
            f"{r['config']:<30} {r['runs']:>6} {r['succeeded']:>6} {r['failed']:>6} "
            f"{r['success_rate']:>8.1%} {r['injected_failures']:>7} "
            f"{r['observed_failure_rate']:>8.1%} {r['retries']:>8} "
            f"{r['backup_takeovers']:>8} {r['breakers_opened']:>8} {r['wall_s']:>7.2f}"
        )
    lines.append(
        "faults: transient failures injected into the primary models' calls (fault %: of those "
        "calls); backups: tasks a backup agent took over; breakers: breakers opened"
    )
    return "\n".join(lines)


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=0.3)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--real-clock", action="store_true")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    rows = [await measure(config, args) for config in CONFIGS]
    if args.json:
        print(json.dumps(rows, indent=1))
    else:
        print(table(rows, args))
    guarded = next(r for r in rows if r["config"] == "retries + backups")
    verdict = "PASS" if guarded["success_rate"] >= TARGET else "FAIL"
    print(
        f"\nretries + backups: {guarded['succeeded']}/{guarded['runs']} runs succeeded "
        f"({guarded['success_rate']:.2%}); target ≥ {TARGET:.1%}: {verdict}"
    )
    return 0 if verdict == "PASS" else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
