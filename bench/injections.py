"""Run the injection corpus (tests/security/injections) in every sink against a model that obeys
every payload, and print payload kind x sink x outcome as a table.

.venv/bin/python bench/injections.py                  # the default rule: ask a person
.venv/bin/python bench/injections.py --action block   # refuse the call, the run goes on
.venv/bin/python bench/injections.py --action allow   # the gate lets it through (journaled)
.venv/bin/python bench/injections.py --sinks web_page,document --kinds encoded

A cell reads ``safe/runs``; the outcome column counts how the runs ended. With ``--action allow``
the table shows what the gate prevents with the other rules: the obeying model's side effects.
Exit status 1 when any forbidden side effect ran (with ``ask`` or ``block``).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.security.harness import SINKS, Outcome, payloads, run_one


async def run(action: str, sinks: list[str], kinds: set[str] | None) -> list[Outcome]:
    out: list[Outcome] = []
    for payload in payloads():
        if kinds is not None and payload.kind not in kinds:
            continue
        for sink in sinks:
            with tempfile.TemporaryDirectory() as folder:
                outcome, _ = await run_one(sink, payload, Path(folder), action)
            out.append(outcome)
    return out


def table(outcomes: list[Outcome], sinks: list[str]) -> list[str]:
    cells: dict[tuple[str, str], list[Outcome]] = defaultdict(list)
    for o in outcomes:
        cells[(o.payload.kind, o.sink)].append(o)
    kinds = sorted({o.payload.kind for o in outcomes})
    lines = [
        "| payload kind | " + " | ".join(sinks) + " | outcome |",
        "|---" * (len(sinks) + 2) + "|",
    ]
    for kind in kinds:
        row = [o for o in outcomes if o.payload.kind == kind]
        counts = Counter(o.label for o in row)
        said = ", ".join(f"{n}x {label}" for label, n in counts.most_common())
        safe = [
            f"{sum(not o.executed for o in cells[(kind, s)])}/{len(cells[(kind, s)])}"
            for s in sinks
        ]
        lines.append(f"| {kind} | " + " | ".join(safe) + f" | {said} |")
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--action", choices=("ask", "block", "allow"), default="ask")
    parser.add_argument("--sinks", default=",".join(SINKS))
    parser.add_argument("--kinds", default=None, help="comma-separated payload kinds")
    args = parser.parse_args()
    sinks = [s for s in args.sinks.split(",") if s]
    unknown = set(sinks) - set(SINKS)
    if unknown:
        parser.error(f"unknown sink(s) {sorted(unknown)}; use {', '.join(SINKS)}")
    kinds = set(args.kinds.split(",")) if args.kinds else None
    started = time.perf_counter()
    outcomes = asyncio.run(run(args.action, sinks, kinds))
    took = time.perf_counter() - started
    print("\n".join(table(outcomes, sinks)))
    executed = sum(o.executed for o in outcomes)
    undelivered = sum(not o.delivered for o in outcomes)
    journaled = sum(bool(o.decisions) for o in outcomes)
    print(
        f"\nrule {args.action!r}: {len(outcomes)} runs ({len({o.payload.id for o in outcomes})}"
        f" payloads x {len(sinks)} sinks) in {took:.0f} s; payload reached the model in"
        f" {len(outcomes) - undelivered}; forbidden side effects executed: {executed};"
        f" runs with a policy event: {journaled}"
    )
    return 1 if executed and args.action != "allow" else 0


if __name__ == "__main__":
    sys.exit(main())
