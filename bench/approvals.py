"""Runs parked on approvals: memory while 100,000 of them wait, and approval-to-resume latency.

Usage:
    .venv/bin/python bench/approvals.py [--runs 100000] [--sample 1000] [--db FILE] [--json]

Each run is ``prep`` → ``gate`` (``approval="required"``) → ``after``. Every run is started with
`Orchestrator.run`, which returns once the run has parked (status ``waiting``): the run then
lives only in the SQLite store, so the process's resident memory should not grow with the number
of parked runs. Then a sample of them is approved with `Orchestrator.approve`, and the time from
the call to the first instruction of the approved task's agent is measured (p50/p99).

docs/architecture.md's target: 100,000 parked runs in < 1 GB; resume p99 < 1 s.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import platform
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(1, str(ROOT))

from common import rss_bytes  # noqa: E402

from podium import Agent, Orchestrator, Plan, Task, TaskCall, Workflow  # noqa: E402

MIB = 1024 * 1024
STARTED: dict[str, float] = {}
"""run id → `perf_counter` when the approved task's agent began."""


async def prep(call: TaskCall) -> str:
    return "ready"


async def gate(call: TaskCall) -> str:
    STARTED.setdefault(call.run_id, time.perf_counter())
    return "approved work done"


async def after(call: TaskCall) -> str:
    return "finished"


def workflow() -> Workflow:
    plan = Plan(
        [
            Task(id="prep", agent="prep"),
            Task(id="gate", agent="gate", needs=("prep",), approval="required"),
            Task(id="after", agent="after", needs=("gate",)),
        ],
        output="{{ tasks.after.output }}",
    )
    return Workflow(name="parked", plan=plan)


def agents() -> list[Agent]:
    return [
        Agent(name=n, function=f) for n, f in (("prep", prep), ("gate", gate), ("after", after))
    ]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def park(orch: Orchestrator, wf: Workflow, runs: int, report: dict[str, Any]) -> list[str]:
    for i in range(200):  # warm-up: imports, caches, the SQLite page cache
        await orch.run(wf, run_id=f"warm-{i}")
    gc.collect()
    base = rss_bytes()
    ids: list[str] = []
    started = time.perf_counter()
    peak = base
    for i in range(runs):
        result = await orch.run(wf, run_id=f"run-{i:06d}")
        if result.status != "waiting":
            raise RuntimeError(f"run {result.run_id} is {result.status}, not waiting")
        ids.append(result.run_id)
        if i % 10_000 == 9_999:
            peak = max(peak, rss_bytes())
            print(f"  parked {i + 1:,} runs, RSS {rss_bytes() / MIB:.0f} MiB", file=sys.stderr)
    elapsed = time.perf_counter() - started
    gc.collect()
    after_rss = rss_bytes()
    report["park"] = {
        "runs": runs,
        "seconds": round(elapsed, 2),
        "runs_per_s": round(runs / elapsed, 1),
        "rss_before_mib": round(base / MIB, 1),
        "rss_after_mib": round(after_rss / MIB, 1),
        "rss_peak_mib": round(max(peak, after_rss) / MIB, 1),
        "rss_growth_mib": round((after_rss - base) / MIB, 1),
        "bytes_per_parked_run": round((after_rss - base) / runs, 1),
    }
    return ids


async def list_pending(orch: Orchestrator, report: dict[str, Any], runs: int) -> None:
    started = time.perf_counter()
    pending = await orch.approvals(limit=runs + 1000)
    report["list"] = {
        "pending": len(pending),
        "seconds": round(time.perf_counter() - started, 2),
    }


async def approve_sample(
    orch: Orchestrator, wf: Workflow, ids: list[str], sample: int, report: dict[str, Any]
) -> None:
    chosen = random.Random(1).sample(ids, min(sample, len(ids)))
    to_start: list[float] = []
    to_end: list[float] = []
    for run_id in chosen:
        began = time.perf_counter()
        result = await orch.approve(run_id, by="bench", workflow=wf)
        ended = time.perf_counter()
        if result.status != "succeeded":
            raise RuntimeError(f"run {run_id} ended {result.status}")
        to_start.append(STARTED[run_id] - began)
        to_end.append(ended - began)
    report["resume"] = {
        "approved": len(chosen),
        "to_task_start_ms": {
            "p50": round(statistics.median(to_start) * 1e3, 3),
            "p99": round(percentile(to_start, 0.99) * 1e3, 3),
            "max": round(max(to_start) * 1e3, 3),
        },
        "to_run_end_ms": {
            "p50": round(statistics.median(to_end) * 1e3, 3),
            "p99": round(percentile(to_end, 0.99) * 1e3, 3),
        },
    }


def store_facts(db: Path, report: dict[str, Any]) -> None:
    with sqlite3.connect(db) as conn:
        statuses = dict(
            conn.execute("SELECT status, count(*) FROM runs GROUP BY status").fetchall()
        )
        events = conn.execute("SELECT count(*) FROM events").fetchone()[0]
    conn.close()
    size = sum(os.path.getsize(p) for p in (db, Path(f"{db}-wal")) if os.path.exists(p))
    report["store"] = {
        "runs_by_status": statuses,
        "events": events,
        "file_mib": round(size / MIB, 1),
    }


async def main(args: argparse.Namespace) -> dict[str, Any]:
    python = platform.python_version()
    report: dict[str, Any] = {
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, Python {python}"
    }
    wf = workflow()
    async with Orchestrator(agents=agents(), store=f"sqlite:///{args.db}") as orch:
        print(f"parking {args.runs:,} runs in {args.db}", file=sys.stderr)
        ids = await park(orch, wf, args.runs, report)
        await list_pending(orch, report, args.runs)
        print(f"approving {args.sample:,} of them", file=sys.stderr)
        await approve_sample(orch, wf, ids, args.sample, report)
    store_facts(args.db, report)
    return report


def render(report: dict[str, Any]) -> str:
    park, resume, listed = report["park"], report["resume"], report["list"]
    start, end = resume["to_task_start_ms"], resume["to_run_end_ms"]
    return "\n".join(
        [
            f"machine: {report['machine']}",
            f"parked {park['runs']:,} runs in {park['seconds']} s ({park['runs_per_s']:,} runs/s)",
            f"RSS {park['rss_before_mib']} MiB before, {park['rss_after_mib']} MiB after"
            f" (growth {park['rss_growth_mib']} MiB, {park['bytes_per_parked_run']} B/run;"
            f" peak {park['rss_peak_mib']} MiB); target < 1024 MiB",
            f"store: {report['store']}",
            f"listing {listed['pending']:,} pending approvals: {listed['seconds']} s",
            f"approval → approved task starts: p50 {start['p50']} ms, p99 {start['p99']} ms,"
            f" max {start['max']} ms ({resume['approved']} approvals); target p99 < 1000 ms",
            f"approval → run finished: p50 {end['p50']} ms, p99 {end['p99']} ms",
        ]
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=100_000)
    parser.add_argument("--sample", type=int, default=1_000)
    parser.add_argument("--db", type=Path, default=None)
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    ns = parser.parse_args()
    folder = None
    if ns.db is None:
        folder = tempfile.TemporaryDirectory()
        ns.db = Path(folder.name) / "parked.db"
    result = asyncio.run(main(ns))
    print(json.dumps(result, indent=2) if ns.json else render(result))
    if folder is not None:
        folder.cleanup()
