"""Chaos, long: `podium` SIGKILLed at random moments ≥ 50 times per backend; effects land once.

Usage:
    .venv/bin/python bench/chaos.py [--kills 50] [--steps 30] [--width 8] [--no-postgres]
                                    [--postgres URL] [--json]

The workflow and the checks are those of `tests/reliability/chaos_harness.py`: a chain of
side-effecting steps (Python agents keyed by `TaskCall.idempotency_key`, model-driven agents with
a ``write`` tool keyed by `ToolContext.idempotency_key`) with a fan-out, the ledger an
``INSERT … ON CONFLICT (key) DO NOTHING`` table (a SQLite file, or a table in Postgres with the
journal in Postgres too), the attempts log a separate SQLite file. Runs follow each other until
`--kills` kills have happened on each backend; every run must complete with every effect landed
exactly once and no succeeded task run again.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(1, str(ROOT))

from tests.reliability.chaos_harness import ChaosReport, Storage, chaos_run  # noqa: E402

DEFAULT_POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"


def backend(
    name: str, postgres_url: str | None, args: argparse.Namespace, seed: int
) -> dict[str, Any]:
    reports: list[ChaosReport] = []
    kills = 0
    while kills < args.kills:
        with tempfile.TemporaryDirectory() as folder:
            storage = Storage(Path(folder), postgres_url=postgres_url, tag=uuid.uuid4().hex[:12])
            storage.create()
            try:
                report = chaos_run(
                    storage,
                    run_id=f"chaos-{name}-{len(reports) + 1}",
                    steps=args.steps,
                    width=args.width,
                    max_kills=min(args.kills - kills, args.kills_per_run),
                    max_delay_s=args.max_delay,
                    seed=seed + len(reports),
                    log=lambda line: print(f"  [{name}] {line}", file=sys.stderr),
                )
            finally:
                storage.drop()
        reports.append(report)
        kills += report.kills
        print(f"  [{name}] run {report.run_id}: {report}", file=sys.stderr)
    return {
        "backend": name,
        "runs": len(reports),
        "kills": kills,
        "processes": sum(r.processes for r in reports),
        "all_succeeded": all(r.status == "succeeded" for r in reports),
        "tasks": sum(r.tasks for r in reports),
        "effects": sum(r.effects for r in reports),
        "repeats_absorbed_by_key": sum(r.repeats_absorbed for r in reports),
        "duplicate_effects": sum(len(r.duplicate_effects) for r in reports),
        "missing_effects": sum(len(r.missing_effects) for r in reports),
        "reruns_after_success": sum(len(r.reruns_after_success) for r in reports),
        "attempts": sum(r.attempts for r in reports),
        "seconds": round(sum(r.seconds for r in reports), 1),
        "ok": all(r.ok for r in reports),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kills", type=int, default=50, help="kills per backend (at least)")
    parser.add_argument("--kills-per-run", type=int, default=25)
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--width", type=int, default=8)
    parser.add_argument("--max-delay", type=float, default=0.4, help="after progress, seconds")
    parser.add_argument("--postgres", default=os.environ.get("PODIUM_TEST_POSTGRES"))
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    results = [backend("sqlite", None, args, seed=1)]
    if not args.no_postgres:
        results.append(backend("postgres", args.postgres or DEFAULT_POSTGRES, args, seed=101))
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        for r in results:
            print(
                f"{r['backend']}: {r['runs']} runs, {r['kills']} kills ({r['processes']} processes,"
                f" {r['seconds']} s): all succeeded {r['all_succeeded']}; {r['tasks']} tasks,"
                f" {r['effects']} effects ({r['repeats_absorbed_by_key']} repeats absorbed by"
                f" their key), {r['duplicate_effects']} duplicated,"
                f" {r['missing_effects']} missing, {r['reruns_after_success']} succeeded tasks"
                f" run again ({r['attempts']} attempts logged)"
            )
    return 0 if all(r["ok"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
