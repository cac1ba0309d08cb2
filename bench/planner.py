"""Planner quality on the embedded model: how often a goal gets a valid plan, and at what cost.

Usage:
    .venv/bin/python bench/planner.py [--model local:smollm2] [--limit N] [--kinds a,b]
                                      [--max-repairs N] [--json out.json] [--markdown out.md]

Every goal of `bench/data/goals.yaml` is planned for the team of `bench/data/agents.yaml` with
the real planner (schema-constrained proposal, validation, repair rounds, fallback), exactly as
``podium run --goal`` does before it runs anything. Plans are not run. Per goal it records:

- the outcome: ``planner`` (the first proposal was valid), ``repair`` (a repair round was),
  ``answer`` (a direct answer, offered only for one short question), ``fallback`` (no valid
  proposal: one task for the best-matching agent) or ``failed``;
- proposals made, tokens and wall time;
- for a plan, its tasks, how many repeat another one (same agent and instruction; the runtime
  answers those once), and how well its agents match the ones a human planner would use
  (``agents`` in goals.yaml): precision = used and expected / used;
- instruction faithfulness: the share of the words of a plan's instructions (stemmed, stop words
  left out) that come from the goal — a plan that invents work, or copies another goal's, scores
  low — and coverage, the share of the goal's words the instructions keep.

Agents are assigned as in a run: by the planner's `assign` mode ("router": the model proposes
steps, the relevance of the team's router assigns them; "model": the model's agents are final).

Valid-plan share = (planner + repair + answer) / goals; fallback share = fallback / goals.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import statistics
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(1, str(ROOT))

from podium.agents._relevance import tokenize  # noqa: E402
from podium.events import PlanProposed  # noqa: E402
from podium.models import allow_model_requests  # noqa: E402
from podium.plan import Planner, load_workflow  # noqa: E402
from podium.routing import ScoringRouter  # noqa: E402
from podium.runtime._planning import routed  # noqa: E402
from podium.runtime._reuse import normalised  # noqa: E402

DATA = Path(__file__).parent / "data"
OUTCOMES = ("planner", "repair", "answer", "fallback", "failed")


@dataclass
class Record:
    goal: str
    kind: str
    expected: list[str]
    outcome: str = ""
    proposals: int = 0
    seconds: float = 0.0
    input_tokens: int = 0
    output_tokens: int = 0
    tasks: list[dict[str, Any]] = field(default_factory=list)
    answer: str | None = None
    problems: list[list[str]] = field(default_factory=list)

    @property
    def valid(self) -> bool:
        return self.outcome in ("planner", "repair", "answer")

    @property
    def repeats(self) -> int:
        seen = Counter((t.get("agent"), normalised(t.get("instruction", ""))) for t in self.tasks)
        return sum(n - 1 for n in seen.values())

    @property
    def precision(self) -> float | None:
        used = {t.get("agent") for t in self.tasks}
        if not used or not self.expected or self.outcome == "fallback":
            return None
        return len(used & set(self.expected)) / len(used)

    def _words(self) -> tuple[set[str], set[str]]:
        said = {w for t in self.tasks for w in tokenize(t.get("instruction", ""))}
        return said, set(tokenize(self.goal))

    @property
    def faithfulness(self) -> float | None:
        said, goal = self._words()
        if not self.tasks or not said or self.outcome == "fallback":
            return None
        return len(said & goal) / len(said)

    @property
    def coverage(self) -> float | None:
        said, goal = self._words()
        if not self.tasks or not goal or self.outcome == "fallback":
            return None
        return len(said & goal) / len(goal)


async def plan_one(planner: Planner, team: Any, item: dict[str, Any]) -> Record:
    record = Record(goal=item["goal"], kind=item["kind"], expected=list(item.get("agents", [])))
    agents = {a.name: a for a in team.agents}

    async def emit(kind: type[Any], **fields: Any) -> None:
        if kind is PlanProposed:
            record.proposals += 1
            record.input_tokens += fields.get("input_tokens", 0)
            record.output_tokens += fields.get("output_tokens", 0)
            record.problems.append(list(fields.get("problems", [])))

    started = time.perf_counter()
    outcome = await planner.plan(record.goal, agents=agents, input_names=["goal"], emit=emit)
    record.seconds = time.perf_counter() - started
    if outcome.answer is not None:
        record.outcome, record.answer = "answer", outcome.answer
    elif outcome.plan is not None:
        record.outcome = outcome.source
        record.tasks = outcome.plan.to_data()
    else:
        record.outcome = "failed"
    return record


def _share(n: int, total: int) -> str:
    return f"{n / total:.0%}" if total else "-"


def table(records: list[Record]) -> str:
    head = (
        "| goals | n | valid plan | first try | repaired | answered | fallback | failed "
        "| proposals/goal | tasks/plan | repeated tasks | agent precision | faithfulness "
        "| coverage | s/goal |"
    )
    rows = [head, "|" + "---|" * 15]
    kinds = sorted({r.kind for r in records}, key=[r.kind for r in records].index)
    groups = [(k, [r for r in records if r.kind == k]) for k in kinds]
    for name, group in [*groups, ("all", records)]:
        count = Counter(r.outcome for r in group)
        planned = [r for r in group if r.tasks]
        precisions = [p for r in group if (p := r.precision) is not None]
        faithful = [p for r in group if (p := r.faithfulness) is not None]
        covered = [p for r in group if (p := r.coverage) is not None]
        n = len(group)
        cells = [
            f"**{name}**" if name == "all" else name,
            str(n),
            _share(sum(r.valid for r in group), n),
            _share(count["planner"], n),
            _share(count["repair"], n),
            _share(count["answer"], n),
            _share(count["fallback"], n),
            _share(count["failed"], n),
            f"{statistics.mean(r.proposals for r in group):.2f}",
            f"{statistics.mean(len(r.tasks) for r in planned):.1f}" if planned else "-",
            _share(sum(r.repeats for r in planned), sum(len(r.tasks) for r in planned)),
            f"{statistics.mean(precisions):.2f}" if precisions else "-",
            f"{statistics.mean(faithful):.2f}" if faithful else "-",
            f"{statistics.mean(covered):.2f}" if covered else "-",
            f"{statistics.mean(r.seconds for r in group):.1f}",
        ]
        rows.append("| " + " | ".join(cells) + " |")
    return "\n".join(rows)


def summary(records: list[Record], total_s: float, model: str) -> str:
    n = len(records)
    valid = sum(r.valid for r in records)
    fallback = sum(r.outcome == "fallback" for r in records)
    seconds = sorted(r.seconds for r in records)
    tokens = sum(r.input_tokens + r.output_tokens for r in records)
    problems = Counter(
        p.split(": ", 1)[-1][:60] for r in records for round_ in r.problems for p in round_
    )
    lines = [
        f"model {model}: {n} goals in {total_s:.0f} s "
        f"(median {statistics.median(seconds):.1f} s, max {seconds[-1]:.1f} s per goal; "
        f"{tokens:,} tokens)",
        f"valid plan (first try, repaired or answered): {valid}/{n} = {_share(valid, n)}; "
        f"fallback: {fallback}/{n} = {_share(fallback, n)}",
    ]
    if problems:
        lines.append("most frequent problems sent back to the model:")
        lines += [f"  {count:3d}x {text}" for text, count in problems.most_common(5)]
    return "\n".join(lines)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", help="planner model (default: the agents file's planner)")
    parser.add_argument("--limit", type=int, help="plan only the first N goals")
    parser.add_argument("--kinds", help="only these kinds of goals (comma-separated)")
    parser.add_argument("--max-repairs", type=int)
    parser.add_argument("--assign", choices=["router", "model"], help="who assigns agents")
    parser.add_argument("--rescore", type=Path, help="only re-tabulate a --json file")
    parser.add_argument("--json", type=Path, help="write every goal's record here")
    parser.add_argument("--markdown", type=Path, help="write the table here")
    args = parser.parse_args()

    if args.rescore:
        fields = {f.name for f in dataclasses.fields(Record)}
        rows = json.loads(args.rescore.read_text(encoding="utf-8"))
        print(table([Record(**{k: v for k, v in r.items() if k in fields}) for r in rows]))
        return
    allow_model_requests(True)
    team = load_workflow(DATA / "agents.yaml", require_tasks=False)
    planner = team.planner or Planner()
    if args.model:
        planner = dataclasses.replace(planner, model=args.model)
    if args.max_repairs is not None:
        planner = dataclasses.replace(planner, max_repairs=args.max_repairs)
    if args.assign:
        planner = dataclasses.replace(planner, assign=args.assign)
    planner = routed(planner, ScoringRouter(), team.router) or planner
    goals = yaml.safe_load((DATA / "goals.yaml").read_text(encoding="utf-8"))["goals"]
    if args.kinds:
        goals = [g for g in goals if g["kind"] in args.kinds.split(",")]
    goals = goals[: args.limit]

    records: list[Record] = []
    started = time.perf_counter()
    for i, item in enumerate(goals, 1):
        record = await plan_one(planner, team, item)
        records.append(record)
        shape = (
            record.answer
            if record.answer is not None
            else [(t["id"], t.get("agent"), t.get("needs", [])) for t in record.tasks]
        )
        print(
            f"[{i}/{len(goals)}] {record.outcome:8s} {record.seconds:5.1f}s "
            f"{record.proposals}p {record.goal[:50]!r} → {str(shape)[:110]}",
            file=sys.stderr,
            flush=True,
        )
    total = time.perf_counter() - started

    text = table(records)
    print(text)
    print()
    print(summary(records, total, str(planner.model)))
    if args.markdown:
        args.markdown.write_text(text + "\n", encoding="utf-8")
    if args.json:
        data = [
            dataclasses.asdict(r)
            | {"precision": r.precision, "faithfulness": r.faithfulness, "coverage": r.coverage}
            for r in records
        ]
        args.json.write_text(json.dumps(data, indent=1, ensure_ascii=False), encoding="utf-8")


if __name__ == "__main__":
    asyncio.run(main())
