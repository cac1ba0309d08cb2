"""The durable shapes with an earlier revision's stores and with today's, in turns, in one process.

Usage:
    .venv/bin/python bench/store_ab.py [--baseline REV_OR_DIR] [--reps N] [--only NAME,...]

Prints, per shape, the median of the repetitions for each version, how many times better
today's stores do, and the same in this process's CPU time (less disturbed by other jobs).

`run.py` measured before a change and again after it compares two moments of a shared machine:
its load, and Postgres's commit latency, can change more between them than the change did. This
runs both versions of the stores on the same shapes, rep by rep (baseline, today, baseline, …),
so both see the same machine. The baseline's `_sqlite.py` and `_postgres.py` come from a git
revision (``git show REV:podium/store/…``, default ``HEAD``) or a directory holding them; they
run on today's runtime. Shapes: chain-sqlite, chain-postgres (µs per step of a 100-task chain),
concurrent-sqlite (1,000 runs), concurrent-postgres (200 runs) of 5-task chains (runs/s).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import importlib.util
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(1, str(ROOT))

import podium_shapes as pod  # noqa: E402
from common import (  # noqa: E402
    CHAIN_STEPS,
    CONCURRENT_POSTGRES_RUNS,
    CONCURRENT_SQLITE_RUNS,
    CONCURRENT_STEPS,
    drop_schema,
    new_schema,
    postgres_unreachable,
    postgres_url,
)

from podium import Orchestrator, Plan  # noqa: E402
from podium.store._postgres import PostgresStore  # noqa: E402
from podium.store._sqlite import SQLiteStore  # noqa: E402

SHAPES = ("chain-sqlite", "chain-postgres", "concurrent-sqlite", "concurrent-postgres")


def load_baseline(source: str) -> dict[str, ModuleType]:
    """The baseline's store modules, imported under names of their own."""
    modules = {}
    with tempfile.TemporaryDirectory(prefix="store-ab-") as tmp:
        for name in ("_sqlite", "_postgres"):
            path = Path(tmp) / f"{name}.py"
            if os.path.isdir(source):
                path.write_bytes((Path(source) / f"{name}.py").read_bytes())
            else:
                path.write_bytes(
                    subprocess.run(
                        ["git", "-C", str(ROOT), "show", f"{source}:podium/store/{name}.py"],
                        check=True,
                        capture_output=True,
                    ).stdout
                )
            spec = importlib.util.spec_from_file_location(f"baseline{name}", path)
            assert spec is not None
            assert spec.loader is not None
            module = importlib.util.module_from_spec(spec)
            sys.modules[spec.name] = module
            spec.loader.exec_module(module)
            modules[name] = module
    return modules


class Side:
    """One version's store for one shape: an orchestrator on a fresh file or schema."""

    def __init__(self, kind: str, store_class: Any) -> None:
        self.kind = kind
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self._schema: str | None = None
        if kind == "sqlite":
            self._tmp = tempfile.TemporaryDirectory(prefix="store-ab-")
            store = store_class(os.path.join(self._tmp.name, "podium.db"))
        else:
            self._schema = new_schema("store_ab")
            store = store_class(postgres_url(), schema=self._schema)
        self.orch: Orchestrator = pod.orchestrator(store)

    async def once(self, plan: Plan, runs: int) -> tuple[float, float]:
        """One repetition: its wall time and this process's CPU time, in seconds."""
        gc.collect()
        cpu, start = time.process_time(), time.perf_counter()
        results = await asyncio.gather(*(self.orch.run(plan) for _ in range(runs)))
        elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
        if not all(r.ok for r in results):
            raise RuntimeError("a run failed")
        return elapsed, cpu

    def cleanup(self) -> None:
        if self._tmp is not None:
            self._tmp.cleanup()
        if self._schema is not None:
            drop_schema(self._schema)


async def compare(
    shape: str, baseline: dict[str, ModuleType], reps: int
) -> tuple[str, str, str, str, str]:
    kind = shape.split("-")[1]
    concurrent = shape.startswith("concurrent")
    runs = 1
    if concurrent:
        runs = CONCURRENT_SQLITE_RUNS if kind == "sqlite" else CONCURRENT_POSTGRES_RUNS
    plan = pod.chain_plan(CONCURRENT_STEPS if concurrent else CHAIN_STEPS)
    if kind == "sqlite":
        today: Any = SQLiteStore
        before = baseline["_sqlite"].SQLiteStore
    else:
        today = PostgresStore
        before = baseline["_postgres"].PostgresStore
    sides = {"baseline": Side(kind, before), "today": Side(kind, today)}
    times: dict[str, list[tuple[float, float]]] = {name: [] for name in sides}
    try:
        for side in sides.values():
            await side.orch.open()
            await side.once(plan, runs)  # warm-up
        for _ in range(reps):
            for name, side in sides.items():
                times[name].append(await side.once(plan, runs))
    finally:
        for side in sides.values():
            await side.orch.close()
            side.cleanup()
    wall = _cells(times, 0, runs, concurrent=concurrent)
    cpu = _cells(times, 1, runs, concurrent=concurrent)
    return shape, *wall, f"{cpu[0]} → {cpu[1]} ({cpu[2]})"


def _cells(
    times: dict[str, list[tuple[float, float]]], clock: int, runs: int, *, concurrent: bool
) -> tuple[str, str, str]:
    """Baseline, today and how many times better today is, by one clock (0 wall, 1 CPU)."""
    med = {name: statistics.median(t[clock] for t in ts) for name, ts in times.items()}
    if concurrent:
        rate = {name: runs / t for name, t in med.items()}
        return (
            _rate(rate["baseline"]),
            _rate(rate["today"]),
            f"{rate['today'] / rate['baseline']:.2f}x",
        )
    step = {name: t / CHAIN_STEPS for name, t in med.items()}
    return (
        _per_step(step["baseline"]),
        _per_step(step["today"]),
        f"{step['baseline'] / step['today']:.2f}x",
    )


def _rate(runs_per_s: float) -> str:
    return f"{runs_per_s:,.0f} runs/s"


def _per_step(seconds: float) -> str:
    return f"{seconds * 1e6:,.1f} µs/step"


async def main_async(only: list[str], baseline: dict[str, ModuleType], reps: int) -> None:
    rows: list[tuple[str, str, str, str, str]] = []
    unreachable = postgres_unreachable()
    for shape in only:
        if shape.endswith("postgres") and unreachable is not None:
            rows.append((shape, "—", "—", "—", f"skipped: {unreachable}"))
            continue
        print(f"… {shape}", file=sys.stderr, flush=True)
        rows.append(await compare(shape, baseline, reps))
    print("| shape | baseline stores | today's stores | today better by | CPU time |")
    print("|---|---|---|---|---|")
    for row in rows:
        print("| " + " | ".join(row) + " |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", default="HEAD", help="a git revision, or a directory")
    parser.add_argument("--reps", type=int, default=7)
    parser.add_argument("--only", help="comma-separated: " + ", ".join(SHAPES))
    args = parser.parse_args()
    only = list(SHAPES) if not args.only else [s.strip() for s in args.only.split(",")]
    unknown = sorted(set(only) - set(SHAPES))
    if unknown:
        parser.error(f"unknown shape(s) {unknown}; choose from {', '.join(SHAPES)}")
    asyncio.run(main_async(only, load_baseline(args.baseline), args.reps))


if __name__ == "__main__":
    main()
