"""Run the sandbox escape corpus (tests/tools/escapes) and print attempt → result as a table.

.venv/bin/python bench/sandbox_escapes.py
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from podium.tools.sandbox import Sandbox
from tests.tools.escapes._harness import ATTEMPTS, OPTIONS, Attempt, run_attempt


async def main() -> int:
    print("| attempt | tries | expected | result | exit / signal |")
    print("|---|---|---|---|---|")
    escaped = 0
    for path in ATTEMPTS:
        outcome = await run_attempt(Attempt.load(path))
        r = outcome.result
        escaped += bool(outcome.problems)
        status = r.signal or f"exit {r.exit_code}"
        a = outcome.attempt
        print(f"| {a.name} | {a.tries} | {a.expect} | {outcome.verdict} | {status} |")
    print(f"\n{len(ATTEMPTS)} attempts, {escaped} escaped")
    sandbox, took = Sandbox(OPTIONS), []
    for _ in range(20):
        start = time.perf_counter()
        await sandbox.run("print('hi')")
        took.append(time.perf_counter() - start)
    ms = sorted(t * 1000 for t in took)
    print(f"one run of print('hi'): median {statistics.median(ms):.0f} ms, max {ms[-1]:.0f} ms")
    return 1 if escaped else 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
