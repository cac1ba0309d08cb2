"""Verifier catch rate: planted bad outputs caught, missed, and good outputs wrongly rejected.

Usage:
    .venv/bin/python bench/verify_catch.py                   # lexical, then with embeddings
    .venv/bin/python bench/verify_catch.py --embeddings off  # lexical only (no model loaded)
    .venv/bin/python bench/verify_catch.py --json            # the counts as JSON

`bench/data/verify/topics.yaml` holds, per topic, the sources a task was given, the instruction,
good answers and the raw material of bad ones. The planted bad outputs, each scored by the check
meant to catch it:

- ``ungrounded`` (grounding): a good answer plus a fabricated claim that cites a real source; a
  short answer citing a source id the task was never given; a short answer citing nothing;
- ``wrong_language`` (language): the answer in another language than the instruction's;
- ``irrelevant`` (relevance): another topic's good answer;
- ``truncated`` (rule ``podium.verify:complete``): a good answer cut off mid-sentence.

Good outputs (the good answer, the short one, the good answer with its citations after the full
stop, and a good answer to the question asked in another language) go through every check that
applies (grounding only where the sources are in the answer's language); any rejection is a
false positive of that check's kind.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(1, str(ROOT))

from podium.verify import Check, CheckCall, collect_sources, run_check  # noqa: E402
from podium.verify._embed import available  # noqa: E402

DATA = ROOT / "bench" / "data" / "verify" / "topics.yaml"
KIND_OF_PLANT = {
    "ungrounded": "grounding",
    "wrong_language": "language",
    "irrelevant": "relevance",
    "truncated": "rule",
}
ALL_KINDS = ("grounding", "language", "relevance", "rule")


@dataclass(frozen=True)
class Case:
    id: str
    instruction: str
    sources: list[dict[str, str]]
    output: str
    plant: str | None  # None: a good output
    kinds: tuple[str, ...]  # the checks it goes through


def _uncite(text: str) -> str:
    return re.sub(r"\s*\[[^\]]+\]", "", text)


def _cut(text: str) -> str:
    """`text` cut off mid-sentence: at a word boundary a little past half of it, never at the
    end of a sentence."""
    words = text.split()
    n = max(4, int(len(words) * 0.55))
    while n < len(words) and re.search(r"[.!?\]]$", words[n - 1]):
        n += 1
    return " ".join(words[:n])


def cases(topics: list[dict[str, Any]]) -> list[Case]:
    out: list[Case] = []
    for i, t in enumerate(topics):
        src, ask = t["sources"], t["instruction"]
        other = topics[(i + 5) % len(topics)]
        bad = [
            ("ungrounded", f"{t['good']} {t['fabricated']}"),
            ("wrong_language", t["foreign"]["text"]),
            ("irrelevant", _uncite(other["good"])),
            ("truncated", _cut(t["good"])),
        ]
        if i % 2 == 0:
            bad.append(("ungrounded", re.sub(r"\[[^\]]+\]", "[made-up-7]", t["short"])))
        else:
            bad.append(("ungrounded", _uncite(t["short"])))
        for n, (plant, text) in enumerate(bad):
            kind = KIND_OF_PLANT[plant]
            out.append(Case(f"{t['id']}-{plant}-{n}", ask, src, text, plant, (kind,)))
        after = re.sub(r"\s*(\[[^\]]+\])\.", r". \1", t["good"])
        for n, text in enumerate((t["good"], t["short"], after)):
            out.append(Case(f"{t['id']}-good-{n}", ask, src, text, None, ALL_KINDS))
        asked = t["asked_foreign"]
        out.append(
            Case(
                f"{t['id']}-good-{asked['lang']}",
                asked["instruction"],
                src,
                asked["text"],
                None,
                ("language", "relevance", "rule"),
            )
        )
    return out


def check_of(kind: str, embeddings: bool) -> Check:
    if kind == "rule":
        return Check(kind="rule", rule="podium.verify:complete")
    return Check(kind=kind, embeddings=embeddings)  # type: ignore[arg-type]


async def measure(all_cases: list[Case], embeddings: bool) -> dict[str, Counter[str]]:
    table: dict[str, Counter[str]] = {k: Counter() for k in (*KIND_OF_PLANT, "good")}
    for case in all_cases:
        call = CheckCall(
            task=case.id,
            agent="bench",
            instruction=case.instruction,
            sources=collect_sources({"docs": case.sources}),
        )
        for kind in case.kinds:
            verdict = await run_check(check_of(kind, embeddings), case.output, call)
            if case.plant is not None:
                table[case.plant]["caught" if not verdict.passed else "missed"] += 1
            else:
                table["good"][f"checked:{kind}"] += 1
                if not verdict.passed:
                    table["good"][f"false_positive:{kind}"] += 1
                    print(f"  false positive {kind}: {case.id}: {verdict.reason[:150]}")
        if case.plant is None:
            table["good"]["outputs"] += 1
    return table


def render(table: dict[str, Counter[str]], mode: str) -> str:
    lines = [
        f"### {mode}",
        "",
        "| planted | check | cases | caught | missed | catch rate | false positives (good) |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    good = table["good"]
    for plant, kind in KIND_OF_PLANT.items():
        c = table[plant]
        n = c["caught"] + c["missed"]
        fp, checked = good[f"false_positive:{kind}"], good[f"checked:{kind}"]
        lines.append(
            f"| {plant} | {kind} | {n} | {c['caught']} | {c['missed']} |"
            f" {c['caught'] / n:.0%} | {fp}/{checked} |"
        )
    bad = sum(table[p]["caught"] + table[p]["missed"] for p in KIND_OF_PLANT)
    caught = sum(table[p]["caught"] for p in KIND_OF_PLANT)
    fps = sum(v for k, v in good.items() if k.startswith("false_positive:"))
    lines.append(
        f"| **all** | | {bad} | {caught} | {bad - caught} | {caught / bad:.0%} |"
        f" {fps} rejections of {good['outputs']} good outputs |"
    )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--embeddings", choices=("off", "on", "both"), default="both")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    topics = yaml.safe_load(DATA.read_text(encoding="utf-8"))
    all_cases = cases(topics)
    modes = {"off": [False], "on": [True], "both": [False, True]}[args.embeddings]
    if args.embeddings == "both" and not available():
        modes = [False]
    results = {}
    for embeddings in modes:
        mode = "lexical + embeddings (all-MiniLM-L6-v2)" if embeddings else "lexical only"
        table = asyncio.run(measure(all_cases, embeddings))
        results[mode] = {k: dict(v) for k, v in table.items()}
        if not args.json:
            print(render(table, mode) + "\n")
    if args.json:
        print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
