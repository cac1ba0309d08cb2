"""The cost of tracing: the 100-task chain of `run.py` with tracing off and on.

Each case is one orchestrator running the chain once per repetition; the cases take turns,
repetition by repetition, after warm-up rounds, with `gc.collect()` before each, and the
figure is the median (wall time; the process's CPU time beside it). Tracing on is
`podium.telemetry.Tracing` as both interceptor and listener, on an SDK tracer provider whose
spans go to a `BatchSpanProcessor` with an exporter that drops them (what an OTLP exporter
costs the run: its export runs on the processor's thread), and, as a variant, to the
in-memory exporter through a `SimpleSpanProcessor` (each span exported inline). The chain of
model-driven agents (a `TestModel` each, so a ``chat`` span per task too) is the variant with
the most spans per step. Target (issue 10): < 10% on the 100-task chain.

    .venv/bin/python bench/trace_overhead.py [--reps 30] [--warmup 5] [--store memory,sqlite]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import statistics
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from common import CHAIN_STEPS
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    SimpleSpanProcessor,
    SpanExporter,
    SpanExportResult,
)
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import NoOpTracerProvider
from podium_shapes import AGENTS, MAX_CONCURRENCY, chain_plan

from podium import Agent, Limits, Orchestrator, Plan
from podium.telemetry import Tracing
from podium.testing import TestModel

MODEL_AGENT = Agent(name="talk", model=TestModel(output_text="ok"))


class Dropped(SpanExporter):
    """Takes every batch and keeps nothing."""

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return SpanExportResult.SUCCESS


@dataclass
class Case:
    label: str
    store: str
    tracing: str  # off, noop, batch, memory
    plan: Plan
    walls: list[float] = field(default_factory=list)
    cpus: list[float] = field(default_factory=list)
    orch: Orchestrator | None = None
    tracer: Tracing | None = None
    memory: InMemorySpanExporter | None = None
    tmp: tempfile.TemporaryDirectory[str] | None = None

    async def setup(self) -> None:
        store = "memory://"
        if self.store == "sqlite":
            self.tmp = tempfile.TemporaryDirectory(prefix="podium-trace-bench-")
            store = f"sqlite:///{os.path.join(self.tmp.name, 'podium.db')}"
        hooks: tuple[Tracing, ...] = ()
        if self.tracing == "noop":  # Podium's own share: spans that record nothing
            self.tracer = Tracing(tracer_provider=NoOpTracerProvider())
            hooks = (self.tracer,)
        elif self.tracing != "off":
            provider = TracerProvider()
            if self.tracing == "batch":
                provider.add_span_processor(BatchSpanProcessor(Dropped()))
            else:
                self.memory = InMemorySpanExporter()
                provider.add_span_processor(SimpleSpanProcessor(self.memory))
            self.tracer = Tracing(tracer_provider=provider, shutdown_provider=True)
            hooks = (self.tracer,)
        self.orch = Orchestrator(
            agents=[*AGENTS, MODEL_AGENT],
            store=store,
            limits=Limits(max_concurrency=MAX_CONCURRENCY),
            interceptors=hooks,
            listeners=hooks,
        )
        await self.orch.open()

    async def once(self) -> None:
        assert self.orch is not None
        gc.collect()
        cpu, wall = time.process_time(), time.perf_counter()
        result = await self.orch.run(self.plan)
        self.walls.append(time.perf_counter() - wall)
        self.cpus.append(time.process_time() - cpu)
        if not result.ok:
            raise RuntimeError(f"{self.label}: the run {result.status}")
        if self.memory is not None:
            self.memory.clear()

    async def teardown(self) -> None:
        assert self.orch is not None
        if self.tracer is not None:
            await self.tracer.aclose()
        await self.orch.close()
        if self.tmp is not None:
            self.tmp.cleanup()


def cases(stores: Sequence[str]) -> list[Case]:
    functions = chain_plan(CHAIN_STEPS)
    models = chain_plan(CHAIN_STEPS, agent="talk")
    out: list[Case] = []
    for store in stores:
        out += [
            Case(f"{store}, function agents, tracing off", store, "off", functions),
            Case(f"{store}, function agents, no-op tracer provider", store, "noop", functions),
            Case(f"{store}, function agents, tracing on (batch)", store, "batch", functions),
            Case(f"{store}, function agents, tracing on (in-memory)", store, "memory", functions),
        ]
    out += [
        Case("memory, TestModel agents, tracing off", "memory", "off", models),
        Case("memory, TestModel agents, tracing on (batch)", "memory", "batch", models),
    ]
    return out


async def main(reps: int, warmup: int, stores: Sequence[str]) -> None:
    all_cases = cases(stores)
    for case in all_cases:
        await case.setup()
    for rep in range(warmup + reps):
        for case in all_cases:
            await case.once()
        if rep < warmup:
            for case in all_cases:
                case.walls.clear()
                case.cpus.clear()
    for case in all_cases:
        await case.teardown()
    report(all_cases)


def report(all_cases: list[Case]) -> None:
    """The table: medians, and each traced case against its untraced twin (wall and CPU)."""
    base: dict[tuple[str, int], tuple[float, float]] = {}
    rows = []
    for case in all_cases:
        wall, cpu = statistics.median(case.walls), statistics.median(case.cpus)
        key = (case.store, id(case.plan))
        if case.tracing == "off":
            base[key] = (wall, cpu)
        off_wall, off_cpu = base[key]
        vs = (
            ("", "")
            if case.tracing == "off"
            else (f"{wall / off_wall - 1:+.0%}", f"{cpu / off_cpu - 1:+.0%}")
        )
        rows.append((case.label, wall * 1e3, cpu * 1e3, cpu / CHAIN_STEPS * 1e6, *vs))
    width = max(len(r[0]) for r in rows)
    head = (
        f"{'case':<{width}}  {'wall ms':>8}  {'cpu ms':>8}  {'cpu µs/step':>11}"
        f"  {'wall vs off':>11}  {'cpu vs off':>10}"
    )
    print(head)
    print("-" * len(head))
    for label, wall_ms, cpu_ms, per_step, vs_wall, vs_cpu in rows:
        print(
            f"{label:<{width}}  {wall_ms:8.2f}  {cpu_ms:8.2f}  {per_step:11.1f}"
            f"  {vs_wall:>11}  {vs_cpu:>10}"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--store", default="memory,sqlite", help="memory, sqlite or both")
    args = parser.parse_args()
    asyncio.run(main(args.reps, args.warmup, args.store.split(",")))
