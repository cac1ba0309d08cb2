"""Routing quality: accuracy on a labelled task set, and cost at equal success.

Usage:
    .venv/bin/python bench/routing.py [--embeddings] [--tasks N] [--seeds N]

1. Accuracy. `bench/data/routing_tasks.yaml` holds a team of agents and tasks, each labelled with
   the agent a human dispatcher would pick. Every task is routed among all agents (no capability
   given), by relevance alone: BM25 (the default) and, with ``--embeddings``, the offline MiniLM
   model of the ``embeddings`` extra. Top-1 and top-3 accuracy, per agent.
2. Cost at equal success. Simulated agents — four model tiers with a success rate per kind of
   task and a cost per task — take a stream of tasks of three kinds; each router learns online
   from the outcomes. Always-the-strongest is compared with the default router and the
   cost-aware one: success rate, cost, and both over the second half of the stream (after
   learning).
"""

from __future__ import annotations

import argparse
import functools
import random
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(1, str(ROOT))

from podium import Agent, Task, TaskCall  # noqa: E402
from podium.routing import (  # noqa: E402
    EmbeddingRelevance,
    Relevance,
    ScoringRouter,
    task_kind,
)
from podium.store import Outcome  # noqa: E402

DATA = Path(__file__).parent / "data" / "routing_tasks.yaml"


def _noop(call: TaskCall) -> None:
    return None


def _room(_name: str) -> bool:
    return True


# -- 1. accuracy on the labelled set ----------------------------------------------------------


@dataclass
class Accuracy:
    name: str
    top1: float
    top3: float
    per_agent: dict[str, float]
    misses: list[tuple[str, str, str]]
    us_cold: float
    us_warm: float


def load_set() -> tuple[dict[str, Agent], list[tuple[str, str]]]:
    data = yaml.safe_load(DATA.read_text(encoding="utf-8"))
    agents = {
        name: Agent(
            name=name,
            description=body.get("description", ""),
            capabilities=tuple(body.get("capabilities", ())),
            function=_noop,
        )
        for name, body in data["agents"].items()
    }
    tasks = [(item["text"], item["agent"]) for item in data["tasks"]]
    return agents, tasks


def accuracy(name: str, relevance: Relevance | None) -> Accuracy:
    agents, tasks = load_set()
    router = ScoringRouter(explore="mean", relevance=relevance)
    hits = top3 = 0
    per_agent: Counter[str] = Counter()
    misses = []
    relevance_of = router.relevance
    relevance_of.scores("warm up", agents, list(agents))  # index / model load not timed
    start = time.perf_counter()
    for text, expected in tasks:
        decision = router.route(Task(id="t", instruction=text), agents, _room)
        assert decision is not None
        scored = [c for c in decision.candidates if "score" in c]
        ranked = [c["agent"] for c in sorted(scored, key=lambda c: -c["score"])]
        hits += decision.agent == expected
        top3 += expected in ranked[:3]
        per_agent[expected] += decision.agent == expected
        if decision.agent != expected:
            misses.append((text, expected, decision.agent))
    elapsed = time.perf_counter() - start
    start = time.perf_counter()
    for text, _ in tasks:  # again: the text's tokens and the agents' index are cached now
        router.route(Task(id="t", instruction=text), agents, _room)
    warm = time.perf_counter() - start
    count = Counter(expected for _, expected in tasks)
    return Accuracy(
        name=name,
        top1=hits / len(tasks),
        top3=top3 / len(tasks),
        per_agent={a: per_agent[a] / count[a] for a in count},
        misses=misses,
        us_cold=elapsed / len(tasks) * 1e6,
        us_warm=warm / len(tasks) * 1e6,
    )


def print_accuracy(results: list[Accuracy]) -> None:
    agents, tasks = load_set()
    print(f"\n## Routing accuracy: {len(tasks)} labelled tasks, {len(agents)} agents\n")
    print(f"random choice: top-1 {1 / len(agents):.1%}, top-3 {3 / len(agents):.1%}\n")
    print("| relevance | top-1 | top-3 | µs/decision, new text | µs/decision, seen text |")
    print("|---|---|---|---|---|")
    for r in results:
        print(f"| {r.name} | {r.top1:.1%} | {r.top3:.1%} | {r.us_cold:.0f} | {r.us_warm:.0f} |")
    print("\nper agent (top-1):")
    header = "| agent | " + " | ".join(r.name for r in results) + " |"
    print(header)
    print("|---" * (len(results) + 1) + "|")
    for agent in agents:
        row = " | ".join(f"{r.per_agent.get(agent, 0):.0%}" for r in results)
        print(f"| {agent} | {row} |")
    for r in results:
        print(f"\nmisses of {r.name} (first 8 of {len(r.misses)}):")
        for text, expected, got in r.misses[:8]:
            print(f"  - {text!r}: expected {expected}, got {got}")


# -- 2. cost at equal success --------------------------------------------------------------------

# Success rate per kind of task, and cost per task, of four model tiers.
TIERS: dict[str, tuple[float, dict[str, float]]] = {
    "frontier": (0.060, {"classify": 0.97, "summarise": 0.95, "reason": 0.92}),
    "mid": (0.012, {"classify": 0.97, "summarise": 0.945, "reason": 0.78}),
    "small": (0.002, {"classify": 0.965, "summarise": 0.82, "reason": 0.50}),
    "tiny": (0.0004, {"classify": 0.85, "summarise": 0.60, "reason": 0.25}),
}
KINDS = {
    "classify": "Classify the ticket as billing, bug or question",
    "summarise": "Summarise the meeting notes in five bullet points",
    "reason": "Work out the cheapest shipping plan under these constraints",
}


@dataclass
class Spend:
    name: str
    success: float
    cost_per_task: float
    late_success: float
    late_cost_per_task: float
    mix: dict[str, float]


Rule = Callable[[str], str]
"""A fixed policy: kind of task -> agent."""


def strongest(kind: str) -> str:
    return "frontier"


def oracle(margin: float) -> Rule:
    """Knows the true rates: the cheapest tier within `margin` of the best on the kind."""

    def rule(kind: str) -> str:
        best = max(rates[kind] for _, rates in TIERS.values())
        close = [t for t, (_, rates) in TIERS.items() if rates[kind] >= best - margin - 1e-9]
        return min(close, key=lambda t: TIERS[t][0])

    return rule


def simulate(name: str, make: Callable[[], ScoringRouter | Rule], tasks: int, seed: int) -> Spend:
    agents = {
        tier: Agent(name=tier, description="A general model", capabilities=("llm",), function=_noop)
        for tier in TIERS
    }
    policy = make()
    router = policy if isinstance(policy, ScoringRouter) else None
    dice = random.Random(seed)
    kinds = list(KINDS)
    results: list[tuple[bool, float]] = []
    mix: Counter[str] = Counter()
    for n in range(tasks):
        kind = kinds[dice.randrange(len(kinds))]
        task = Task(id=f"t{n}", capability="llm", instruction=KINDS[kind])
        if router is None:
            assert not isinstance(policy, ScoringRouter)
            agent = policy(kind)
        else:
            decision = router.route(task, agents, _room)
            assert decision is not None
            agent = decision.agent
        cost, rates = TIERS[agent]
        ok = dice.random() < rates[kind]
        results.append((ok, cost))
        mix[agent] += 1
        if router is not None:
            outcome = Outcome(kind=task_kind(task), agent=agent, success=ok, cost_usd=cost)
            router.observe(outcome)
    late = results[tasks // 2 :]
    return Spend(
        name=name,
        success=sum(ok for ok, _ in results) / tasks,
        cost_per_task=sum(c for _, c in results) / tasks,
        late_success=sum(ok for ok, _ in late) / len(late),
        late_cost_per_task=sum(c for _, c in late) / len(late),
        mix={a: mix[a] / tasks for a in TIERS},
    )


def spend(tasks: int, seeds: int) -> list[Spend]:
    policies: list[tuple[str, Callable[[int], ScoringRouter | Rule]]] = [
        ("always the strongest", lambda s: strongest),
        ("oracle: cheapest within 0.02 (true rates)", lambda s: oracle(0.02)),
        ("default weights", lambda s: ScoringRouter(rng=random.Random(s))),
        (
            "cost-aware, margin 0.05",
            lambda s: ScoringRouter(rng=random.Random(s), cost_aware=True, margin=0.05),
        ),
        (
            "cost-aware, margin 0.02",
            lambda s: ScoringRouter(rng=random.Random(s), cost_aware=True, margin=0.02),
        ),
    ]
    out = []
    for name, make in policies:
        runs = [simulate(name, functools.partial(make, seed), tasks, seed) for seed in range(seeds)]
        out.append(
            Spend(
                name=name,
                success=statistics.mean(r.success for r in runs),
                cost_per_task=statistics.mean(r.cost_per_task for r in runs),
                late_success=statistics.mean(r.late_success for r in runs),
                late_cost_per_task=statistics.mean(r.late_cost_per_task for r in runs),
                mix={a: statistics.mean(r.mix[a] for r in runs) for a in TIERS},
            )
        )
    return out


def print_spend(results: list[Spend], tasks: int, seeds: int) -> None:
    print(f"\n## Cost at equal success: {tasks} tasks x {seeds} seeds, learning online\n")
    print("Easy tasks are done as well by cheaper tiers; hard ones need the strongest.\n")
    for tier, (cost, rates) in TIERS.items():
        shown = ", ".join(f"{k} {v:.1%}" for k, v in rates.items())
        print(f"- {tier}: ${cost} per task; success {shown}")
    base = results[0]
    print(
        "\n| policy | success | Δ vs strongest | $/task | cost vs strongest |"
        " 2nd half: success | 2nd half: cost vs strongest | mix frontier/mid/small/tiny |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for r in results:
        mix = "/".join(f"{r.mix[a]:.0%}" for a in TIERS)
        print(
            f"| {r.name} | {r.success:.1%} | {(r.success - base.success) * 100:+.1f} pt |"
            f" ${r.cost_per_task:.4f} | {r.cost_per_task / base.cost_per_task:.0%} |"
            f" {r.late_success:.1%} | {r.late_cost_per_task / base.late_cost_per_task:.0%} |"
            f" {mix} |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--embeddings", action="store_true", help="also the MiniLM relevance")
    parser.add_argument("--tasks", type=int, default=3000, help="simulated tasks per seed")
    parser.add_argument("--seeds", type=int, default=5)
    args = parser.parse_args()
    results = [accuracy("BM25", None)]
    if args.embeddings:
        results.append(accuracy("MiniLM embeddings", EmbeddingRelevance()))
    print_accuracy(results)
    print_spend(spend(args.tasks, args.seeds), args.tasks, args.seeds)


if __name__ == "__main__":
    main()
