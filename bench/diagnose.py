"""Failure diagnosis quality: precision and recall per label on a labelled set of journals.

Usage:
    .venv/bin/python bench/diagnose.py              # measure on bench/data/diagnose/
    .venv/bin/python bench/diagnose.py --generate   # run the scenarios again and save them

`bench/diagnose_scenarios.py` runs small real workflows through the `Orchestrator` with fakes
from `podium.testing` that reproduce each failure mode (and clean runs); `--generate` saves each
journal as JSON lines (`NAME.jsonl`, one event a line) and the expected labels of every journal
in `labels.json`. The measurement reads only those files: it does not depend on the scenarios'
code, so a journal can be added by hand.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(1, str(ROOT))
sys.path.insert(1, str(ROOT / "bench"))

from podium.diagnose import LABELS, diagnose  # noqa: E402
from podium.events import decode, encode  # noqa: E402

DATA = ROOT / "bench" / "data" / "diagnose"


async def generate() -> None:
    from diagnose_scenarios import SCENARIOS  # the fakes only when generating

    labels: dict[str, list[str]] = {}
    for scenario in SCENARIOS:
        events = await scenario.build()
        lines = b"\n".join(encode(ev) for ev in events) + b"\n"
        (DATA / f"{scenario.name}.jsonl").write_bytes(lines)
        labels[scenario.name] = sorted(scenario.labels)
    (DATA / "labels.json").write_text(json.dumps(labels, indent=2, sort_keys=True) + "\n")
    print(f"saved {len(labels)} journals in {DATA.relative_to(ROOT)}")


def measure() -> int:
    expected: dict[str, list[str]] = json.loads((DATA / "labels.json").read_text())
    tp: Counter[str] = Counter()
    fp: Counter[str] = Counter()
    fn: Counter[str] = Counter()
    wrong = []
    for name, want in sorted(expected.items()):
        raw = (DATA / f"{name}.jsonl").read_bytes().splitlines()
        got = set(diagnose([decode(line) for line in raw if line.strip()]).labels)
        for label in got & set(want):
            tp[label] += 1
        for label in got - set(want):
            fp[label] += 1
        for label in set(want) - got:
            fn[label] += 1
        if got != set(want):
            wrong.append(f"  {name}: expected {sorted(want)}, got {sorted(got)}")
    clean = sum(1 for v in expected.values() if not v)
    print(f"{len(expected)} journals ({clean} clean), {sum(map(len, expected.values()))} labels")
    print(f"{'label':<24}{'support':>8}{'precision':>11}{'recall':>8}")
    for label in LABELS:
        support = tp[label] + fn[label]
        p = tp[label] / (tp[label] + fp[label]) if tp[label] + fp[label] else float("nan")
        r = tp[label] / support if support else float("nan")
        print(f"{label:<24}{support:>8}{p:>11.2f}{r:>8.2f}")
    total_tp, total_fp, total_fn = sum(tp.values()), sum(fp.values()), sum(fn.values())
    micro_p = total_tp / (total_tp + total_fp) if total_tp + total_fp else float("nan")
    micro_r = total_tp / (total_tp + total_fn) if total_tp + total_fn else float("nan")
    print(f"{'all (micro)':<24}{total_tp + total_fn:>8}{micro_p:>11.2f}{micro_r:>8.2f}")
    exact = len(expected) - len(wrong)
    print(f"journals labelled exactly right: {exact}/{len(expected)}")
    print("\n".join(wrong))
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--generate", action="store_true", help="run the scenarios again first")
    args = parser.parse_args()
    if args.generate:
        DATA.mkdir(parents=True, exist_ok=True)
        asyncio.run(generate())
    return measure()


if __name__ == "__main__":
    sys.exit(main())
