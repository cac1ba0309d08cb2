"""Podium against LangGraph, side by side, on the performance targets of docs/architecture.md.

Usage:
    .venv/bin/python bench/run.py [--only NAME[,NAME...]] [--quick] [--no-langgraph]
                                  [--markdown FILE]

Measures (names for --only): chain-memory, chain-sqlite, chain-postgres, fanout, fanout-sleep,
concurrent, concurrent-sqlite, concurrent-postgres, journal, memory. See bench/README.md for what
each one means. The Postgres measures use ``$PODIUM_BENCH_POSTGRES`` (default: the test server at
127.0.0.1:5432/test) and are skipped, with a note, when it cannot be reached.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(1, str(ROOT))  # sys.path[0] is bench/ itself

import podium_shapes as pod  # noqa: E402
from common import (  # noqa: E402
    CHAIN_STEPS,
    CONCURRENT_POSTGRES_RUNS,
    CONCURRENT_SQLITE_RUNS,
    CONCURRENT_STEPS,
    FANOUT_WIDTH,
    PARKED_STEPS,
    POSTGRES_ENV,
    SLEEP_S,
    Case,
    JournalSize,
    postgres_unreachable,
    postgres_where,
)

MEASURES = (
    "chain-memory",
    "chain-sqlite",
    "chain-postgres",
    "fanout",
    "fanout-sleep",
    "concurrent",
    "concurrent-sqlite",
    "concurrent-postgres",
    "journal",
    "memory",
)
POSTGRES_MEASURES = frozenset({"chain-postgres", "concurrent-postgres"})
KIB = 1024
MIB = 1024 * 1024
TARGET_FACTOR = 10.0
SLEEP_TARGET = 1.05
SQLITE_VS_MEMORY_TARGET = 0.5
"""Concurrent runs on SQLite: at least this share of the in-memory throughput."""
PARKED_BUDGET = 1e9 / 100_000
"""Bytes per run: docs/architecture.md's 100,000 parked runs in under 1 GB."""

CONCURRENT_RUNS = {
    "memory": 1_000,
    "sqlite": CONCURRENT_SQLITE_RUNS,
    "postgres": CONCURRENT_POSTGRES_RUNS,
}

REFERENCE = {
    "chain-memory": 160e-6,
    "chain-sqlite": 0.9e-3,
    "chain-postgres": 13e-3,
    "concurrent": 400.0,
    "concurrent-postgres": 21.0,
    "fanout-sleep": 0.068,
    "journal": 580 * KIB,
}
"""LangGraph 1.2 figures of docs/architecture.md (each range's fast end), for --no-langgraph."""


@dataclass(frozen=True, slots=True)
class Settings:
    quick: bool
    langgraph: bool
    warmup: int
    reps: dict[str, int]
    concurrent_runs: dict[str, int]
    parked_runs: int
    variants: bool

    @classmethod
    def make(cls, *, quick: bool, langgraph: bool) -> Settings:
        if quick:
            once = dict.fromkeys(("concurrent", "concurrent-sqlite", "concurrent-postgres"), 1)
            reps = dict.fromkeys(MEASURES, 3) | once
            return cls(
                quick,
                langgraph,
                warmup=1,
                reps=reps,
                concurrent_runs=CONCURRENT_RUNS,
                parked_runs=2_000,
                variants=False,
            )
        reps = {
            "chain-memory": 25,
            "chain-sqlite": 15,
            "chain-postgres": 9,
            "fanout": 25,
            "fanout-sleep": 15,
            "concurrent": 5,
            "concurrent-sqlite": 5,
            "concurrent-postgres": 5,
        }
        return cls(
            quick,
            langgraph,
            warmup=3,
            reps=reps,
            concurrent_runs=CONCURRENT_RUNS,
            parked_runs=10_000,
            variants=True,
        )


@dataclass(slots=True)
class Row:
    """One line of the results table."""

    key: str
    title: str
    podium: str
    langgraph: str
    advantage: float | None = None
    """How many times better Podium is (LangGraph ÷ Podium for costs, the inverse for rates)."""
    target: str = "—"
    verdict: str = "—"
    note: str = ""


@dataclass(slots=True)
class Report:
    rows: list[Row] = field(default_factory=list)
    setups: list[tuple[str, str]] = field(default_factory=list)
    variants: list[tuple[str, str, str]] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    """Measures that could not run, and why (a Postgres server that cannot be reached)."""


# -- running cases ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Timings:
    """Median seconds per repetition, by case: wall clock, and this process's CPU time."""

    wall: dict[str, float]
    cpu: dict[str, float]


async def time_cases(cases: dict[str, Case], reps: int, warmup: int) -> Timings:
    """Time every case `reps` times after `warmup` rounds; the cases take turns, rep by rep.

    CPU time (all threads of this process) is kept too: on a shared machine it is less
    disturbed by other processes than the wall clock.
    """
    for case in cases.values():
        await case.setup()
    try:
        for _ in range(warmup):
            for case in cases.values():
                await case.once()
        wall: dict[str, list[float]] = {name: [] for name in cases}
        cpu: dict[str, list[float]] = {name: [] for name in cases}
        for _ in range(reps):
            for name, case in cases.items():
                gc.collect()
                start = time.process_time()
                wall[name].append(await case.once())
                cpu[name].append(time.process_time() - start)
    finally:
        for case in cases.values():
            await case.teardown()
    return Timings(
        wall={name: statistics.median(s) for name, s in wall.items()},
        cpu={name: statistics.median(s) for name, s in cpu.items()},
    )


def _cpu_note(cpu: dict[str, float], fmt: Callable[[float], str], *, rate: bool = False) -> str:
    if "langgraph" not in cpu:
        return f"CPU: {fmt(cpu['podium'])}"
    pod, lg = cpu["podium"], cpu["langgraph"]
    adv = pod / lg if rate else lg / pod
    return f"CPU time: {fmt(pod)} vs {fmt(lg)} ({adv:,.2f}x)"


def _lg() -> Any:
    import langgraph_shapes

    return langgraph_shapes


def _advantage_row(
    key: str,
    title: str,
    pod_value: float,
    lg_value: float | None,
    fmt: Callable[[float], str],
    *,
    lower_is_better: bool = True,
    reference: bool = False,
) -> Row:
    row = Row(key, title, fmt(pod_value), "—" if lg_value is None else fmt(lg_value))
    if lg_value is None:
        lg_value = REFERENCE.get(key)
        reference = lg_value is not None
    if lg_value is not None and pod_value > 0:
        row.advantage = lg_value / pod_value if lower_is_better else pod_value / lg_value
    if key in REFERENCE:
        row.target = f"≥ {TARGET_FACTOR:g}x"
        if row.advantage is not None:
            row.verdict = "PASS" if row.advantage >= TARGET_FACTOR else "FAIL"
    if reference:
        row.note = f"vs docs/architecture.md reference {fmt(REFERENCE[key])}"
    return row


def _add_note(row: Row, note: str) -> None:
    row.note = f"{row.note}; {note}" if row.note else note


def _us(seconds: float) -> str:
    return f"{seconds * 1e6:,.1f} µs/step"


def _ms(seconds: float) -> str:
    return f"{seconds * 1e3:,.1f} ms"


def _kib(n: float) -> str:
    return f"{n / KIB:,.1f} KiB"


# -- the measures -----------------------------------------------------------------------------


_CHAIN_TITLES = {"memory": "in memory", "sqlite": "durable SQLite", "postgres": "durable Postgres"}


def _chain_cases(s: Settings, store: pod.StoreKind) -> dict[str, Case]:
    """Podium's case, LangGraph's (its verdict) and LangGraph's variants, for one store."""
    cases: dict[str, Case] = {"podium": pod.chain(store)}
    if not s.langgraph:
        return cases
    lg = _lg()
    if store == "memory":
        cases["langgraph"] = lg.Chain("async", "none")
        if s.variants:
            cases["v-sync"] = lg.Chain("sync", "none")
            cases["v-inmemory"] = lg.Chain("async", "memory")
    elif store == "sqlite":
        cases["langgraph"] = lg.Chain("sync", "sqlite")
        if s.variants:
            cases["v-sync-durability"] = lg.Chain("sync", "sqlite", durability="sync")
            cases["v-full"] = lg.Chain("sync", "sqlite-full")
            cases["v-aio"] = lg.Chain("async", "aiosqlite")
    else:
        # durability="sync": like Podium, a step is durable before the next one starts
        cases["langgraph"] = lg.Chain("async", "postgres", durability="sync")
        cases["v-default"] = lg.Chain("async", "postgres")
    return cases


async def measure_chain(s: Settings, report: Report, store: pod.StoreKind) -> None:
    key = f"chain-{store}"
    cases = _chain_cases(s, store)
    timings = await time_cases(cases, s.reps[key], s.warmup)
    per_step = {name: m / CHAIN_STEPS for name, m in timings.wall.items()}
    title = f"per-step overhead, {CHAIN_STEPS}-task chain, {_CHAIN_TITLES[store]}"
    row = _advantage_row(key, title, per_step["podium"], per_step.get("langgraph"), _us)
    cpu: dict[str, float] = {
        n: timings.cpu[n] / CHAIN_STEPS for n in ("podium", "langgraph") if n in timings.cpu
    }
    _add_note(row, _cpu_note(cpu, _us))
    if store == "postgres":
        _commit_verdict(row, cases["podium"])
    report.rows.append(row)
    for name, case in cases.items():
        if name in ("podium", "langgraph"):
            report.setups.append((f"{key} ({name})", case.label))
        else:
            report.variants.append((key, case.label, _us(per_step[name])))


def _commit_verdict(row: Row, case: Case) -> None:
    """The Postgres chain's target: at most one commit on a step's critical path, measured as
    the commits a step adds to a run (the commits of a run of the chain, less a 1-task run's,
    per added step)."""
    row.target = "≤ 1 commit/step"
    per_step = getattr(case, "commits_per_step", lambda: None)()
    if per_step is None:
        _add_note(row, "the store does not count its commits")
        return
    row.verdict = "PASS" if per_step <= 1 else "FAIL"
    _add_note(row, f"{per_step:.2f} commits/step")


async def measure_fanout(s: Settings, report: Report, *, sleep: bool) -> None:
    key = "fanout-sleep" if sleep else "fanout"
    cases: dict[str, Case] = {"podium": pod.fanout(sleep=sleep)}
    if s.langgraph:
        cases["langgraph"] = _lg().Fanout(sleep=sleep)
    timings = await time_cases(cases, s.reps[key], s.warmup)
    pod_t, lg_t = timings.wall["podium"], timings.wall.get("langgraph")
    for name, case in cases.items():
        report.setups.append((f"{key} ({name})", case.label))
    if not sleep:
        row = _advantage_row(
            key, f"fan-out of {FANOUT_WIDTH} tasks + join, wall time", pod_t, lg_t, _ms
        )
        cpu: dict[str, float] = {
            n: timings.cpu[n] for n in ("podium", "langgraph") if n in timings.cpu
        }
        _add_note(row, "no target in docs/architecture.md; " + _cpu_note(cpu, _ms))
        report.rows.append(row)
        return

    def ideal(t: float) -> str:
        return f"{_ms(t)} ({t / SLEEP_S:.2f}x ideal)"

    row = Row(
        key,
        f"fan-out of {FANOUT_WIDTH} tasks that each sleep {SLEEP_S * 1e3:g} ms + join",
        ideal(pod_t),
        "—" if lg_t is None else ideal(lg_t),
    )
    if lg_t is not None:
        row.advantage = lg_t / pod_t
    else:
        row.advantage = REFERENCE[key] / pod_t
        row.note = f"vs docs/architecture.md reference {_ms(REFERENCE[key])}"
    row.target = f"≤ {SLEEP_TARGET:g}x ideal"
    row.verdict = "PASS" if pod_t / SLEEP_S <= SLEEP_TARGET else "FAIL"
    report.rows.append(row)


def _runs_per_s(r: float) -> str:
    return f"{r:,.0f} runs/s"


def _concurrent_cases(s: Settings, store: pod.StoreKind) -> dict[str, Case]:
    runs = s.concurrent_runs[store]
    cases: dict[str, Case] = {"podium": pod.Concurrent(runs, store)}
    if store == "sqlite":  # its target is a share of Podium's own in-memory figure
        cases["podium-memory"] = pod.Concurrent(runs, "memory")
    if not s.langgraph:
        return cases
    lg = _lg()
    if store == "memory":
        cases["langgraph"] = lg.Concurrent(runs)
    elif store == "sqlite":
        cases["langgraph"] = lg.Concurrent(runs, "aiosqlite")  # SqliteSaver is sync-only
        if s.variants:
            cases["v-sync-durability"] = lg.Concurrent(runs, "aiosqlite", durability="sync")
    else:
        cases["langgraph"] = lg.Concurrent(runs, "postgres", durability="sync")
        cases["v-default"] = lg.Concurrent(runs, "postgres")
    return cases


async def measure_concurrent(s: Settings, report: Report, store: pod.StoreKind) -> None:
    key = "concurrent" if store == "memory" else f"concurrent-{store}"
    runs = s.concurrent_runs[store]
    cases = _concurrent_cases(s, store)
    timings = await time_cases(cases, s.reps[key], 1)
    rates = {name: runs / m for name, m in timings.wall.items()}
    where = "" if store == "memory" else f", durable {_CHAIN_TITLES[store].split()[-1]}"
    row = _advantage_row(
        key,
        f"{runs:,} concurrent {CONCURRENT_STEPS}-task-chain runs{where}, throughput",
        rates["podium"],
        rates.get("langgraph"),
        _runs_per_s,
        lower_is_better=False,
    )
    cpu: dict[str, float] = {
        n: runs / timings.cpu[n] for n in ("podium", "langgraph") if n in timings.cpu
    }
    _add_note(row, _cpu_note(cpu, lambda r: f"{r:,.0f} runs/CPU-s", rate=True))
    commits = getattr(cases["podium"], "commits", [])
    if commits:
        _add_note(row, f"{statistics.median(commits):g} commits for {runs:,} runs")
    if "podium-memory" in rates:
        share = rates["podium"] / rates["podium-memory"]
        row.target = f"≥ {SQLITE_VS_MEMORY_TARGET:g}x in memory"
        row.verdict = "PASS" if share >= SQLITE_VS_MEMORY_TARGET else "FAIL"
        _add_note(row, f"Podium in memory: {_runs_per_s(rates['podium-memory'])} ({share:.2f}x)")
    report.rows.append(row)
    for name, case in cases.items():
        if name in ("podium", "langgraph"):
            report.setups.append((f"{key} ({name})", case.label))
        elif name.startswith("v-"):
            report.variants.append((key, case.label, _runs_per_s(rates[name])))


async def measure_journal(s: Settings, report: Report) -> None:
    with tempfile.TemporaryDirectory(prefix="bench-journal-") as tmp:
        pod_size: JournalSize = await pod.journal_size(tmp)
        lg_size: JournalSize | None = _lg().journal_size(tmp) if s.langgraph else None
    title = f"journal bytes, {CHAIN_STEPS}-step run"
    payload = _advantage_row(
        "journal",
        f"{title}: encoded events / checkpoint blobs",
        pod_size.payload_bytes,
        None if lg_size is None else lg_size.payload_bytes,
        _kib,
    )
    payload.podium += f" ({pod_size.records} events)"
    if lg_size is not None:
        payload.langgraph += f" ({lg_size.records} checkpoints+writes)"
    report.rows.append(payload)
    report.rows.append(
        _advantage_row(
            "journal",
            f"{title}: SQLite file size",
            pod_size.file_bytes,
            None if lg_size is None else lg_size.file_bytes,
            _kib,
        )
    )
    report.setups.append(("journal (podium)", "Podium SQLite store; events.encode"))
    if lg_size is not None:
        report.setups.append(
            (
                "journal (langgraph)",
                "SqliteSaver, invoke, durability=async (default); blobs = "
                "checkpoints.checkpoint + checkpoints.metadata + writes.value",
            )
        )


def _memory_child(side: str, runs: int) -> dict[str, int]:
    """Measure parked memory in a fresh interpreter, so neither side pollutes the other's RSS."""
    proc = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--child", side, "--runs", str(runs)],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"memory child for {side} failed:\n{proc.stderr}")
    result: dict[str, int] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


async def measure_memory(s: Settings, report: Report) -> None:
    runs = s.parked_runs
    sides = ["podium", "langgraph"] if s.langgraph else ["podium"]
    got = {side: await asyncio.to_thread(_memory_child, side, runs) for side in sides}

    def cell(side: str, what: str) -> str:
        if side not in got:
            return "—"
        n = got[side][what]
        return f"{n / MIB:,.1f} MiB ({n / runs / KIB:,.1f} KiB/run)"

    for what, how in (("rss_delta", "RSS delta"), ("traced", "tracemalloc")):
        row = Row(
            "memory",
            f"{runs:,} runs in flight ({PARKED_STEPS}-task chain, parked on an "
            f"asyncio.Event): {how}",
            cell("podium", what),
            cell("langgraph", what),
        )
        pod_bytes = got["podium"][what]
        if "langgraph" in got and pod_bytes > 0:
            row.advantage = got["langgraph"][what] / pod_bytes
        row.target = f"≤ {PARKED_BUDGET / KIB:.1f} KiB/run"
        row.verdict = "PASS" if pod_bytes / runs <= PARKED_BUDGET else "FAIL"
        row.note = "proxy: 100,000 parked runs < 1 GB"
        report.rows.append(row)
    report.setups.append(("memory (podium)", "Podium, memory:// store, one orch.run() per run"))
    if s.langgraph:
        report.setups.append(("memory (langgraph)", "LangGraph, no checkpointer, one ainvoke()"))


async def run_measures(s: Settings, only: list[str]) -> Report:
    report = Report()
    steps: dict[str, Callable[[], Any]] = {
        "chain-memory": lambda: measure_chain(s, report, "memory"),
        "chain-sqlite": lambda: measure_chain(s, report, "sqlite"),
        "chain-postgres": lambda: measure_chain(s, report, "postgres"),
        "fanout": lambda: measure_fanout(s, report, sleep=False),
        "fanout-sleep": lambda: measure_fanout(s, report, sleep=True),
        "concurrent": lambda: measure_concurrent(s, report, "memory"),
        "concurrent-sqlite": lambda: measure_concurrent(s, report, "sqlite"),
        "concurrent-postgres": lambda: measure_concurrent(s, report, "postgres"),
        "journal": lambda: measure_journal(s, report),
        "memory": lambda: measure_memory(s, report),
    }
    unreachable = postgres_unreachable() if POSTGRES_MEASURES & set(only) else None
    for name in MEASURES:
        if name not in only:
            continue
        if name in POSTGRES_MEASURES and unreachable is not None:
            report.skipped.append(
                (name, f"Postgres at {postgres_where()} unreachable: {unreachable}")
            )
            continue
        print(f"… {name}", file=sys.stderr, flush=True)
        gc.collect()
        await steps[name]()
    return report


# -- output -----------------------------------------------------------------------------------


def environment(s: Settings) -> str:
    parts = [
        f"Python {platform.python_version()}",
        f"podium {metadata.version('podium')}",
        f"langgraph {metadata.version('langgraph')}" if s.langgraph else "langgraph skipped",
        f"{os.cpu_count()} CPUs",
        platform.platform(terse=True),
        "quick" if s.quick else "full",
    ]
    return " · ".join(parts)


def _fmt_adv(a: float | None) -> str:
    return "—" if a is None else f"{a:,.2f}x"


def print_report(report: Report, s: Settings) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(width=max(160, Console().width))
    table = Table(title="Podium vs LangGraph — " + environment(s), title_justify="left")
    for col in ("measure", "Podium", "LangGraph", "Podium advantage", "target", "result", "note"):
        table.add_column(col, overflow="fold")
    for r in report.rows:
        style = {"PASS": "green", "FAIL": "red"}.get(r.verdict, "")
        table.add_row(
            r.title,
            r.podium,
            r.langgraph,
            _fmt_adv(r.advantage),
            r.target,
            f"[{style}]{r.verdict}[/]" if style else r.verdict,
            r.note,
        )
    console.print(table)
    console.print(
        "Podium advantage = LangGraph ÷ Podium for times and bytes, Podium ÷ LangGraph "
        "for throughput; targets from docs/architecture.md."
    )
    for name, label in report.setups:
        console.print(f"  {name}: {label}")
    for name, why in report.skipped:
        console.print(f"  [yellow]skipped {name}[/]: {why} (set ${POSTGRES_ENV})")
    if report.variants:
        variants = Table(
            title="LangGraph variants (context only, not used for the verdicts)",
            title_justify="left",
        )
        for col in ("measure", "setup", "value"):
            variants.add_column(col)
        for row in report.variants:
            variants.add_row(*row)
        console.print(variants)


def markdown(report: Report, s: Settings) -> str:
    lines = [
        f"_{environment(s)}_",
        "",
        "| measure | Podium | LangGraph | Podium advantage | target | result | note |",
        "|---|---|---|---|---|---|---|",
    ]
    lines += [
        f"| {r.title} | {r.podium} | {r.langgraph} | {_fmt_adv(r.advantage)} | "
        f"{r.target} | {r.verdict} | {r.note} |"
        for r in report.rows
    ]
    lines += ["", *(f"- {name}: {label}" for name, label in report.setups)]
    lines += [f"- skipped {name}: {why}" for name, why in report.skipped]
    if report.variants:
        lines += ["", "| LangGraph variant | setup | value |", "|---|---|---|"]
        lines += [f"| {k} | {label} | {v} |" for k, label, v in report.variants]
    return "\n".join(lines) + "\n"


# -- entry point ------------------------------------------------------------------------------


def child(side: str, runs: int) -> None:
    module: Any = pod if side == "podium" else _lg()
    result = asyncio.run(module.memory(runs))
    print(json.dumps({"rss_delta": result.rss_delta, "traced": result.traced}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", help="comma-separated measures: " + ", ".join(MEASURES))
    parser.add_argument("--quick", action="store_true", help="few repetitions (a smoke run)")
    parser.add_argument(
        "--no-langgraph",
        action="store_true",
        help="Podium only; advantages against docs/architecture.md's LangGraph figures",
    )
    parser.add_argument("--markdown", metavar="FILE", help="also write the table as Markdown")
    parser.add_argument("--child", choices=["podium", "langgraph"], help=argparse.SUPPRESS)
    parser.add_argument("--runs", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.runs)
        return
    only = list(MEASURES) if not args.only else [n.strip() for n in args.only.split(",")]
    unknown = sorted(set(only) - set(MEASURES))
    if unknown:
        parser.error(f"unknown measure(s) {unknown}; choose from {', '.join(MEASURES)}")
    settings = Settings.make(quick=args.quick, langgraph=not args.no_langgraph)
    report = asyncio.run(run_measures(settings, only))
    print_report(report, settings)
    if args.markdown:
        Path(args.markdown).write_text(markdown(report, settings))


if __name__ == "__main__":
    main()
