"""ScoringRouter: hard filters, score components, cost-aware choice, explanations."""

from __future__ import annotations

import random

import pytest

from podium.exceptions import ConfigError
from podium.plan import Task
from podium.routing import OutcomeBook, RouterWeights, ScoringRouter, task_kind

from .helpers import agent, outcomes, room, table

TEAM = table(
    agent("translator", "Translates documents between English, French and German", "language"),
    agent("writer", "Writes reports, summaries and blog posts from notes", "language", "writing"),
    agent("coder", "Writes, reviews and fixes Python code and unit tests", "code"),
)


def learned(*batches: tuple[Task, str, int, int]) -> OutcomeBook:
    book = OutcomeBook()
    for task, name, good, bad in batches:
        for o in outcomes(task_kind(task), name, good, bad):
            book.add(o)
    return book


def test_a_fixed_agent_wins_when_it_has_room() -> None:
    router = ScoringRouter()
    task = Task(id="a", agent="coder", instruction="Translate this")
    decision = router.route(task, TEAM, room)
    assert decision is not None
    assert (decision.agent, decision.reason, decision.candidates) == (
        "coder",
        "fixed by the task",
        [],
    )
    assert decision.kind == "@coder/translat"
    assert router.route(task, TEAM, lambda name: name != "coder") is None


def test_candidates_need_the_capability_and_relevance_decides() -> None:
    router = ScoringRouter(explore="mean")
    task = Task(id="a", capability="language", instruction="Translate the notes into German")
    decision = router.route(task, TEAM, room)
    assert decision is not None
    assert decision.agent == "translator"
    assert [c["agent"] for c in decision.candidates] == ["translator", "writer"]
    top, other = decision.candidates
    assert top["relevance"] == 1.0 > other["relevance"]
    assert set(top) >= {"score", "relevance", "success", "success_mean", "runs", "cost", "latency"}
    assert "best score" in decision.reason
    assert "'language'" in decision.reason
    assert "next 'writer'" in decision.reason
    assert decision.kind == "language/german+not+translat"


def test_learned_success_outweighs_a_small_relevance_edge() -> None:
    task = Task(id="a", capability="language", instruction="Translate the notes into German")
    book = learned((task, "translator", 2, 18), (task, "writer", 19, 1))
    decision = ScoringRouter(explore="mean", book=book).route(task, TEAM, room)
    assert decision is not None
    assert decision.agent == "writer"
    writer = next(c for c in decision.candidates if c["agent"] == "writer")
    assert writer["runs"] == 20
    assert writer["success_mean"] > 0.8


def test_only_candidate() -> None:
    task = Task(id="a", capability="code", instruction="Fix the flaky test")
    decision = ScoringRouter().route(task, TEAM, room)
    assert decision is not None
    assert decision.agent == "coder"
    assert decision.reason.startswith("the only agent with capability 'code'")


def test_busy_agents_are_passed_over_and_none_when_all_are_busy() -> None:
    task = Task(id="a", capability="language", instruction="Translate the notes into German")
    router = ScoringRouter(explore="mean")
    decision = router.route(task, TEAM, lambda name: name != "translator")
    assert decision is not None
    assert decision.agent == "writer"
    assert "'translator' scored" in decision.reason
    assert "no room" in decision.reason
    assert [c["has_room"] for c in decision.candidates] == [False, True]
    assert router.route(task, TEAM, lambda name: False) is None


def test_unavailable_agents_are_excluded_and_listed() -> None:
    router = ScoringRouter(is_available=lambda a: a.name != "translator")
    task = Task(id="a", capability="language", instruction="Translate into French")
    decision = router.route(task, TEAM, room)
    assert decision is not None
    assert decision.agent == "writer"
    assert decision.candidates[-1] == {"agent": "translator", "excluded": "unavailable"}
    assert ScoringRouter(is_available=lambda a: False).route(task, TEAM, room) is None


def test_agents_over_the_budget_left_are_excluded() -> None:
    team = table(
        agent("big", "Translates anything", "language", expected_cost_usd=0.5),
        agent("small", "Translates short texts", "language", cost_tier="low"),
        agent("unknown", "Translates", "language"),
    )
    left = [1.0]
    router = ScoringRouter(explore="mean", budget_left=lambda: left[0])
    task = Task(id="a", capability="language", instruction="Translate")
    decision = router.route(task, team, room)
    assert decision is not None
    assert not any("excluded" in c for c in decision.candidates)
    left[0] = 0.1
    decision = router.route(task, team, room)
    assert decision is not None
    assert decision.agent != "big"
    assert {"agent": "big", "excluded": "expected cost $0.5 is over the $0.1 left"} in (
        decision.candidates
    )


def test_cost_and_latency_lower_the_score() -> None:
    team = table(
        agent("dear", "Translates", "language", expected_cost_usd=0.2, expected_latency_s=30),
        agent("cheap", "Translates", "language", expected_cost_usd=0.01, expected_latency_s=30),
        agent("slow", "Translates", "language", expected_cost_usd=0.01, expected_latency_s=300),
    )
    task = Task(id="a", capability="language", instruction="Translate")
    decision = ScoringRouter(explore="mean").route(task, team, room)
    assert decision is not None
    scores = {c["agent"]: c["score"] for c in decision.candidates}
    assert decision.agent == "cheap"
    assert scores["cheap"] - scores["dear"] == pytest.approx(0.1 * (1 - 0.05), abs=1e-3)
    assert scores["cheap"] - scores["slow"] == pytest.approx(0.05 * (1 - 0.1), abs=1e-3)


def test_tiny_latencies_do_not_sway_the_choice() -> None:
    team = table(
        agent("a", "Translates", "language", expected_latency_s=0.001),
        agent("b", "Translates", "language", expected_latency_s=0.004),
    )
    task = Task(id="t", capability="language", instruction="Translate")
    decision = ScoringRouter(explore="mean").route(task, team, room)
    assert decision is not None
    a, b = decision.candidates
    assert a["score"] - b["score"] < 0.001  # both far below latency_floor_s


def test_unknown_costs_count_as_the_average_of_known_ones() -> None:
    team = table(
        agent("known", "Translates", "language", expected_cost_usd=0.1),
        agent("mystery", "Translates", "language"),
    )
    task = Task(id="t", capability="language", instruction="Translate")
    decision = ScoringRouter(explore="mean").route(task, team, room)
    assert decision is not None
    known, mystery = decision.candidates
    assert (known["cost"], mystery["cost"], mystery["cost_source"]) == (0.1, None, "unknown")
    assert known["score"] == mystery["score"]
    assert decision.agent == "known"  # the tie goes to the first by name


def test_cost_aware_picks_the_cheapest_of_nearly_the_best() -> None:
    team = table(
        agent("strong", "Translates", "language", expected_cost_usd=0.1),
        agent("decent", "Translates", "language", expected_cost_usd=0.01),
        agent("weak", "Translates", "language", expected_cost_usd=0.001),
    )
    task = Task(id="t", capability="language", instruction="Translate")
    book = learned((task, "strong", 96, 4), (task, "decent", 93, 7), (task, "weak", 50, 50))
    plain = ScoringRouter(explore="mean", book=book, weights=RouterWeights(cost=0.0))
    aware = ScoringRouter(explore="mean", book=book, cost_aware=True, margin=0.05)
    first = plain.route(task, team, room)
    second = aware.route(task, team, room)
    assert first is not None
    assert second is not None
    assert first.agent == "strong"
    assert second.agent == "decent"
    assert second.reason.startswith("cheapest (expected $0.01) of 2 of 3 agents")
    assert [c["within_margin"] for c in second.candidates] == [True, True, False]
    strict = ScoringRouter(explore="mean", book=book, cost_aware=True, margin=0.0)
    third = strict.route(task, team, room)
    assert third is not None
    assert third.agent == "strong"


def test_without_a_capability_agents_sharing_no_word_are_dropped() -> None:
    task = Task(id="t", instruction="Fix the failing unit tests in the parser")
    decision = ScoringRouter(explore="mean").route(task, TEAM, room)
    assert decision is not None
    assert decision.agent == "coder"
    assert "of all" in decision.reason
    assert {"agent": "translator", "excluded": "shares no words with the task"} in (
        decision.candidates
    )
    anything = ScoringRouter(explore="mean").route(Task(id="t", instruction="xyzzy"), TEAM, room)
    assert anything is not None
    assert len(anything.candidates) == 3


def test_thompson_sampling_is_deterministic_with_a_seed_and_explores() -> None:
    task = Task(id="t", capability="language", instruction="Translate")
    team = table(agent("a", "Translates", "language"), agent("b", "Translates", "language"))
    book = learned((task, "a", 30, 10), (task, "b", 25, 15))

    def picks(seed: int) -> list[str]:
        router = ScoringRouter(book=book, rng=random.Random(seed))
        return [d.agent for d in (router.route(task, team, room) for _ in range(200)) if d]

    assert picks(1) == picks(1)
    chosen = picks(1)
    assert 0.6 < chosen.count("a") / len(chosen) < 0.97  # mostly the better, not always


def test_ucb_and_mean_modes() -> None:
    task = Task(id="t", capability="language", instruction="Translate")
    team = table(agent("a", "Translates", "language"), agent("b", "Translates", "language"))
    book = learned((task, "a", 40, 10), (task, "b", 3, 1))  # b: fewer runs, similar mean
    mean = ScoringRouter(explore="mean", book=book).route(task, team, room)
    ucb = ScoringRouter(explore="ucb", book=book, ucb_width=2.0).route(task, team, room)
    assert mean is not None
    assert ucb is not None
    assert mean.agent == "a"
    assert ucb.agent == "b"  # the uncertain one gets the benefit of the doubt
    b = next(c for c in ucb.candidates if c["agent"] == "b")
    assert b["success"] > b["success_mean"]


def test_bad_settings_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="explore"):
        ScoringRouter(explore="greedy")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="margin"):
        ScoringRouter(margin=-0.1)
    with pytest.raises(ConfigError, match=r"RouterWeights\.cost"):
        RouterWeights(cost=-1)
