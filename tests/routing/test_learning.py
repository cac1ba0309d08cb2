"""The outcome book: Beta posteriors with back-off, expected cost and latency."""

from __future__ import annotations

from typing import Any

import pytest

from podium.routing import COST_TIERS, OutcomeBook
from podium.routing._learning import metadata_cost, metadata_latency, metadata_success
from podium.store import Outcome, OutcomeStats

from .helpers import agent, outcomes


def test_unknown_agent_gets_the_prior() -> None:
    est = OutcomeBook().estimate("write/report", agent("w"))
    assert (est.alpha, est.beta, est.runs) == (2.0, 2.0, 0)
    assert est.mean == 0.5
    assert est.std == pytest.approx(0.2236, abs=1e-4)
    assert (est.cost_usd, est.cost_source, est.latency_s, est.latency_source) == (
        None,
        "unknown",
        None,
        "unknown",
    )
    assert est.checks is None


def test_metadata_sets_the_prior_and_the_fallbacks() -> None:
    a = agent("w", expected_success=0.9, cost_tier="high", expected_latency_s=3)
    est = OutcomeBook().estimate("write/report", a)
    assert est.mean == pytest.approx(0.9)
    assert (est.cost_usd, est.cost_source) == (COST_TIERS["high"], "metadata")
    assert (est.latency_s, est.latency_source) == (3.0, "metadata")


@pytest.mark.parametrize(
    ("metadata", "cost"),
    [
        ({"expected_cost_usd": 0.25, "cost_tier": "high"}, 0.25),
        ({"cost_tier": "Low"}, COST_TIERS["low"]),
        ({"cost_tier": 3}, COST_TIERS["high"]),
        ({"cost_tier": 0}, 0.0),
        ({"cost_tier": "platinum"}, None),
        ({"cost_tier": 9}, None),
        ({"cost_tier": True}, None),
        ({"expected_cost_usd": -1}, None),
        ({"expected_cost_usd": "cheap"}, None),
        ({}, None),
    ],
)
def test_metadata_cost(metadata: dict[str, Any], cost: float | None) -> None:
    assert metadata_cost(agent("a", "", **metadata)) == cost


def test_metadata_success_and_latency_must_make_sense() -> None:
    assert metadata_success(agent("a", expected_success=1.5)) is None
    assert metadata_success(agent("a", expected_success=0)) is None
    assert metadata_latency(agent("a", expected_latency_s=-2)) is None


def test_kind_outcomes_make_the_posterior() -> None:
    book = OutcomeBook(kind_strength=4)
    for o in outcomes("write/report", "w", 8, 2):
        book.add(o)
    est = book.estimate("write/report", agent("w"))
    # the base and agent levels hold only this kind's outcomes, so the prior mean stays 0.5
    assert (est.alpha, est.beta, est.runs) == (10.0, 4.0, 10)


def test_a_new_kind_backs_off_to_the_base_then_to_the_agent() -> None:
    book = OutcomeBook()
    for o in outcomes("write/report", "w", 20, 0) + outcomes("code/fix", "w", 0, 20):
        book.add(o)
    on_base = book.estimate("write/memo", agent("w"))  # new kind, known base
    elsewhere = book.estimate("draw/chart", agent("w"))  # new base
    assert on_base.runs == elsewhere.runs == 0
    assert on_base.mean > 0.8
    assert 0.4 < elsewhere.mean < 0.6  # 20 successes and 20 failures on other bases


def test_outcomes_are_not_counted_twice_across_levels() -> None:
    book = OutcomeBook(agent_strength=2, base_strength=4, kind_strength=4)
    for o in outcomes("write/report", "w", 3, 1):
        book.add(o)
    est = book.estimate("write/report", agent("w"))
    assert est.alpha + est.beta == pytest.approx(4 + 4)  # 4 outcomes + the kind prior's weight


def test_cost_and_latency_come_from_the_finest_level_that_has_them() -> None:
    book = OutcomeBook()
    for o in outcomes("write/report", "w", 2, 0, cost=0.5):
        book.add(o)
    book.add(Outcome(kind="write/memo", agent="w", success=True, latency_s=9.0))
    a = agent("w", expected_cost_usd=5.0, expected_latency_s=1.0)
    memo = book.estimate("write/memo", a)
    assert (memo.cost_usd, memo.cost_source) == (0.5, "base")  # memo reported no cost
    assert (memo.latency_s, memo.latency_source) == (9.0, "kind")
    other = book.estimate("code/fix", a)
    assert (other.cost_usd, other.cost_source) == (0.5, "agent")
    assert other.latency_s == pytest.approx(11 / 3)
    assert other.latency_source == "agent"


def test_checks_share() -> None:
    book = OutcomeBook()
    book.add(Outcome(kind="k/", agent="w", success=True, checks_passed=True))
    book.add(Outcome(kind="k/", agent="w", success=False, checks_passed=False))
    book.add(Outcome(kind="k/", agent="w", success=False))
    assert book.estimate("k/", agent("w")).checks == 0.5


def test_load_replaces_and_stats_lists_pairs() -> None:
    book = OutcomeBook()
    book.add(Outcome(kind="a/", agent="x", success=True))
    book.load([OutcomeStats(kind="b/", agent="y", runs=3, successes=1)])
    assert book.stats("a/", "x") is None
    assert [(s.kind, s.agent, s.runs) for s in book.all_stats()] == [("b/", "y", 3)]
    assert book.estimate("b/", agent("y")).runs == 3
