"""Per-task overhead of Podium's `RayExecutor` against plain Ray tasks.

A chain of N trivial tasks, each needing the one before:

- ``ray: chained refs``: N plain Ray tasks, each given the previous one's `ObjectRef` (Ray
  resolves the chain itself; the driver waits once, at the end);
- ``ray: awaited one by one``: N plain Ray tasks, the driver awaiting each before it submits the
  next — what a scheduler that journals every result before it starts the next task must do;
- ``podium: RayExecutor``: one run of an N-task chain through
  ``Orchestrator(executor=RayExecutor())`` on a ``memory://`` store;
- ``podium: LocalExecutor``: the same run in-process, for reference.

Every case runs in turns, repetition by repetition, after a warm-up; the figure is the median
wall time of a repetition ÷ N. The ratio column divides by the plain-Ray case named in the
header. Ray is started once, with ``--num-cpus`` CPUs.

    .venv/bin/python bench/ray_overhead.py                 # 100 tasks, 7 repetitions
    .venv/bin/python bench/ray_overhead.py --steps 200 --repeats 11 --markdown out.md
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import statistics
import time
from collections.abc import Awaitable, Callable
from typing import Any

import ray

from podium import Agent, Orchestrator, Plan, Task, TaskCall
from podium.runtime import LocalExecutor
from podium.runtime.ray import RayExecutor


def step(x: int) -> int:
    return x + 1


async def trivial(call: TaskCall) -> int:
    return 1


def chain(steps: int) -> Plan:
    return Plan(
        [Task(id=f"t{i}", agent="a", needs=(f"t{i - 1}",) if i else ()) for i in range(steps)]
    )


class Bench:
    def __init__(self, steps: int) -> None:
        self.steps = steps
        self.step = ray.remote(step).options(max_retries=0)
        self.plan = chain(steps)
        self.orchs: dict[str, Orchestrator] = {}

    async def setup(self) -> None:
        agent = Agent(name="a", function=trivial)
        for name, executor in (("ray", RayExecutor()), ("local", LocalExecutor())):
            orch = Orchestrator(agents=[agent], store="memory://", executor=executor)
            await orch.open()
            self.orchs[name] = orch

    async def teardown(self) -> None:
        for orch in self.orchs.values():
            await orch.close()

    async def chained_refs(self) -> None:
        ref: Any = 0
        for _ in range(self.steps):
            ref = self.step.remote(ref)
        assert await ref == self.steps

    async def awaited(self) -> None:
        x = 0
        for _ in range(self.steps):
            x = await self.step.remote(x)
        assert x == self.steps

    async def podium_ray(self) -> None:
        result = await self.orchs["ray"].run(self.plan)
        assert result.status == "succeeded", result

    async def podium_local(self) -> None:
        result = await self.orchs["local"].run(self.plan)
        assert result.status == "succeeded", result


async def measure(steps: int, repeats: int, warmup: int) -> dict[str, tuple[float, float]]:
    """Per case: (median wall ms per task, median driver CPU ms per task)."""
    bench = Bench(steps)
    await bench.setup()
    cases: dict[str, Callable[[], Awaitable[None]]] = {
        "ray: chained refs": bench.chained_refs,
        "ray: awaited one by one": bench.awaited,
        "podium: RayExecutor": bench.podium_ray,
        "podium: LocalExecutor": bench.podium_local,
    }
    wall: dict[str, list[float]] = {name: [] for name in cases}
    cpu: dict[str, list[float]] = {name: [] for name in cases}
    try:
        for round_ in range(warmup + repeats):
            for name, case in cases.items():
                gc.collect()
                started, started_cpu = time.perf_counter(), time.process_time()
                await case()
                if round_ >= warmup:
                    wall[name].append(time.perf_counter() - started)
                    cpu[name].append(time.process_time() - started_cpu)
    finally:
        await bench.teardown()
    return {
        name: (
            statistics.median(wall[name]) * 1000 / steps,
            statistics.median(cpu[name]) * 1000 / steps,
        )
        for name in cases
    }


def table(results: dict[str, tuple[float, float]], steps: int, repeats: int) -> str:
    base_chained = results["ray: chained refs"][0]
    base_awaited = results["ray: awaited one by one"][0]
    lines = [
        f"chain of {steps} trivial tasks, median of {repeats} repetitions",
        "",
        "| case | wall ms/task | driver CPU ms/task | ÷ chained refs | ÷ awaited one by one |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, (wall_ms, cpu_ms) in results.items():
        lines.append(
            f"| {name} | {wall_ms:.3f} | {cpu_ms:.3f} | {wall_ms / base_chained:.2f}x"
            f" | {wall_ms / base_awaited:.2f}x |"
        )
    added = results["podium: RayExecutor"][0] - base_awaited
    lines += ["", f"Podium's own cost on Ray: {added:.3f} ms a task over awaited plain Ray tasks."]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--num-cpus", type=int, default=2)
    parser.add_argument("--markdown", metavar="FILE", help="also write the table to FILE")
    args = parser.parse_args()
    started = time.perf_counter()
    ray.init(num_cpus=args.num_cpus, include_dashboard=False, logging_level=logging.WARNING)
    print(f"ray.init: {time.perf_counter() - started:.1f}s ({args.num_cpus} CPUs)")
    try:
        results = asyncio.run(measure(args.steps, args.repeats, args.warmup))
    finally:
        ray.shutdown()
    text = table(results, args.steps, args.repeats)
    print(text)
    if args.markdown:
        with open(args.markdown, "w", encoding="utf-8") as out:
            out.write(text + "\n")


if __name__ == "__main__":
    main()
