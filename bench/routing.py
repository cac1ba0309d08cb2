"""Routing quality: accuracy on a labelled task set, and cost at equal success.

Usage:
    .venv/bin/python bench/routing.py [--sets "120 tasks,dev,held-out"] [--no-spend]
        [--tasks N] [--seeds N]

1. Accuracy. `bench/data/routing_tasks.yaml` holds a team of agents and 120 tasks, each labelled
   with the agent a human dispatcher would pick; `bench/data/routing/` holds a second team
   (`team.yaml`, with example tasks per agent) and two sets of paraphrased tasks for it, with
   tasks that fit no agent: `dev.yaml` (what the router was tuned on) and `heldout.yaml` (never
   tuned on). Every task is routed among all agents (no capability given), by relevance alone:
   BM25, MiniLM embeddings, hybrid, and hybrid with the agents' examples (the embedding methods
   need the ``embeddings`` extra). Top-1 and top-3 accuracy, and the no-fit verdict's precision
   and recall on the tasks that fit no agent (at each method's default threshold). The last
   numbers, before and after issue 13's change, are in bench/README.md ("Routing accuracy").
2. Cost at equal success. Simulated agents — four model tiers with a success rate per kind of
   task and a cost per task — take a stream of tasks of three kinds; each router learns online
   from the outcomes. Always-the-strongest is compared with the default router and the
   cost-aware one: success rate, cost, and both over the second half of the stream (after
   learning).
"""

from __future__ import annotations

import argparse
import dataclasses
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
    HybridRelevance,
    NoFit,
    Relevance,
    ScoringRouter,
    task_kind,
)
from podium.routing._hybrid import shared_minilm  # noqa: E402
from podium.store import Outcome  # noqa: E402

DATA = Path(__file__).parent / "data" / "routing_tasks.yaml"
PARAPHRASES = Path(__file__).parent / "data" / "routing"
TEAM = PARAPHRASES / "team.yaml"  # the agents of the dev and held-out sets


def _noop(call: TaskCall) -> None:
    return None


def _room(_name: str) -> bool:
    return True


# -- 1. accuracy on the labelled sets ---------------------------------------------------------


@dataclass(frozen=True)
class TaskSet:
    name: str
    agents: dict[str, Agent]  # with their examples, if the set has any
    tasks: list[tuple[str, str | None]]  # (text, expected agent); None: no agent fits


@dataclass
class Accuracy:
    name: str
    set_name: str
    top1: float
    top3: float
    per_agent: dict[str, float]
    misses: list[tuple[str, str, str]]
    no_fit_precision: float | None  # of the tasks said to fit no agent, how many fit none
    no_fit_recall: float | None  # of the tasks that fit no agent, how many were said to
    fits_lost: int  # fitting tasks said to fit no agent
    us_warm: float


def _agents(raw: dict[str, dict[str, object]], *, examples: bool) -> dict[str, Agent]:
    return {
        name: Agent(
            name=name,
            description=str(body.get("description", "")),
            capabilities=tuple(body.get("capabilities", ())),  # type: ignore[arg-type]
            examples=tuple(body.get("examples", ())) if examples else (),  # type: ignore[arg-type]
            function=_noop,
        )
        for name, body in raw.items()
    }


def _tasks(path: Path) -> list[tuple[str, str | None]]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    return [(t["text"], None if t["agent"] == "none" else t["agent"]) for t in data["tasks"]]


def load_sets() -> list[TaskSet]:
    """The 120-task set (its own team), then the paraphrase sets' dev and held-out halves."""
    old = yaml.safe_load(DATA.read_text(encoding="utf-8"))
    team = yaml.safe_load(TEAM.read_text(encoding="utf-8"))["agents"]
    return [
        TaskSet("120 tasks", _agents(old["agents"], examples=False), _tasks(DATA)),
        TaskSet("dev", _agents(team, examples=True), _tasks(PARAPHRASES / "dev.yaml")),
        TaskSet("held-out", _agents(team, examples=True), _tasks(PARAPHRASES / "heldout.yaml")),
    ]


def load_set() -> tuple[dict[str, Agent], list[tuple[str, str]]]:
    """The 120-task set alone (agents, (text, agent) pairs)."""
    first = load_sets()[0]
    return first.agents, [(t, a) for t, a in first.tasks if a is not None]


class CachedEncoder:
    """The shared MiniLM with every text's vector kept: the methods share their encodings."""

    def __init__(self) -> None:
        self.vectors: dict[str, list[float]] = {}

    def __call__(self, texts: list[str]) -> list[list[float]]:
        missing = [t for t in dict.fromkeys(texts) if t not in self.vectors]
        if missing:
            for t, v in zip(missing, shared_minilm()(missing), strict=True):
                self.vectors[t] = [float(x) for x in v]
        return [self.vectors[t] for t in texts]


def accuracy(
    name: str, relevance: Relevance | None, task_set: TaskSet, *, examples: bool
) -> Accuracy:
    agents = task_set.agents
    if not examples:
        agents = {n: dataclasses.replace(a, examples=()) for n, a in agents.items()}
    router = ScoringRouter(explore="mean", relevance=relevance)
    hits = top3 = flagged = flagged_right = 0
    per_agent: Counter[str] = Counter()
    misses = []
    fitting = [(t, e) for t, e in task_set.tasks if e is not None]
    start = time.perf_counter()
    for text, expected in task_set.tasks:
        decision = router.route(Task(id="t", instruction=text), agents, _room)
        assert decision is not None
        if isinstance(decision, NoFit):
            flagged += 1
            flagged_right += expected is None
            got = decision.best or ""
        else:
            got = decision.agent
        if expected is None:
            continue
        scored = [c for c in decision.candidates if "score" in c]
        ranked = [c["agent"] for c in sorted(scored, key=lambda c: -c["score"])]
        hits += got == expected
        top3 += expected in ranked[:3]
        per_agent[expected] += got == expected
        if got != expected:
            misses.append((text, expected, got))
    elapsed = time.perf_counter() - start
    count = Counter(expected for _, expected in fitting)
    unfit = len(task_set.tasks) - len(fitting)
    return Accuracy(
        name=name,
        set_name=task_set.name,
        top1=hits / max(1, len(fitting)),
        top3=top3 / max(1, len(fitting)),
        per_agent={a: per_agent[a] / count[a] for a in count},
        misses=misses,
        no_fit_precision=(flagged_right / flagged) if flagged else None,
        no_fit_recall=(flagged_right / unfit) if unfit else None,
        fits_lost=flagged - flagged_right,
        us_warm=elapsed / len(task_set.tasks) * 1e6,
    )


def _share(value: float | None) -> str:
    return "—" if value is None else f"{value:.1%}"


def print_accuracy(results: list[Accuracy], sets: list[TaskSet]) -> None:
    print("\n## Routing accuracy (top-1 among all agents, relevance alone)\n")
    for s in sets:
        unfit = sum(1 for _, e in s.tasks if e is None)
        print(
            f"- {s.name}: {len(s.tasks) - unfit} tasks that fit an agent, {unfit} that fit none,"
            f" {len(s.agents)} agents (random choice: top-1 {1 / len(s.agents):.1%})"
        )
    print(
        "\n| set | relevance | top-1 | top-3 | no-fit precision | no-fit recall |"
        " fitting tasks said to fit none | µs/decision (vectors cached) |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for r in results:
        print(
            f"| {r.set_name} | {r.name} | {r.top1:.1%} | {r.top3:.1%} |"
            f" {_share(r.no_fit_precision)} | {_share(r.no_fit_recall)} | {r.fits_lost} |"
            f" {r.us_warm:.0f} |"
        )
    for r in results:
        print(f"\nmisses of {r.name} on {r.set_name} (first 5 of {len(r.misses)}):")
        for text, expected, got in r.misses[:5]:
            print(f"  - {text!r}: expected {expected}, got {got}")


def methods(encode: CachedEncoder) -> list[tuple[str, Callable[[], Relevance | None], bool]]:
    """(name, relevance, with examples) of each method compared."""
    return [
        ("BM25 (the library default)", lambda: None, False),
        ("bm25", lambda: HybridRelevance("bm25"), False),
        ("embeddings", lambda: HybridRelevance("embeddings", encode=encode), False),
        ("hybrid", lambda: HybridRelevance("hybrid", encode=encode), False),
        ("hybrid + examples", lambda: HybridRelevance("hybrid", encode=encode), True),
    ]


def leave_one_out(make: Callable[[], Relevance | None], task_set: TaskSet) -> tuple[int, int]:
    """(said to fit none, routed): each agent's tasks routed with that agent removed (and no
    examples), as "Translate the release notes into German" in a team with no translator."""
    said = total = 0
    for gone in task_set.agents:
        rest = {n: dataclasses.replace(a, examples=()) for n, a in task_set.agents.items()}
        del rest[gone]
        router = ScoringRouter(explore="mean", relevance=make())
        for text, expected in task_set.tasks:
            if expected == gone:
                total += 1
                said += isinstance(router.route(Task(id="t", instruction=text), rest, _room), NoFit)
    return said, total


def run_accuracy(set_names: list[str]) -> None:
    sets = [s for s in load_sets() if s.name in set_names]
    encode = CachedEncoder()
    texts = [t for s in sets for t, _ in s.tasks]
    encode(texts)  # one batch: the model's load and the tasks' encoding are not timed
    results = []
    for s in sets:
        has_examples = any(a.examples for a in s.agents.values())
        for name, make, examples in methods(encode):
            if examples and not has_examples:
                continue
            results.append(accuracy(name, make(), s, examples=examples))
    print_accuracy(results, sets)
    print("\n## No fit when the right agent is missing (leave one agent out)\n")
    print("Each agent's tasks, routed with that agent removed: the share said to fit no agent")
    print("(some may fairly fit another agent: a higher share is better, 100% is not expected).\n")
    print("| set | relevance | said to fit none |")
    print("|---|---|---|")
    for s in sets:
        for name, make, _ in methods(encode):
            if name in ("embeddings", "hybrid"):
                said, total = leave_one_out(make, s)
                print(f"| {s.name} | {name} | {said}/{total} ({said / total:.0%}) |")


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
    parser.add_argument(
        "--sets",
        default="120 tasks,dev,held-out",
        help="comma-separated: '120 tasks', dev, held-out (tune on dev only)",
    )
    parser.add_argument("--tasks", type=int, default=3000, help="simulated tasks per seed")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--no-spend", action="store_true", help="skip the cost simulation")
    args = parser.parse_args()
    run_accuracy([s.strip() for s in args.sets.split(",")])
    if not args.no_spend:
        print_spend(spend(args.tasks, args.seeds), args.tasks, args.seeds)


if __name__ == "__main__":
    main()
