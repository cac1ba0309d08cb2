"""The views an agent is embedded by (its clauses, pooled by a soft maximum and a mean, and its
name), the fit score the no-fit verdict reads, and the clause a decision's reason quotes; with a
stand-in encoder: deterministic, no model."""

from __future__ import annotations

import math
from collections.abc import Sequence

import pytest

from podium.plan import Task
from podium.routing import Decision, HybridRelevance, NoFit, ScoringRouter
from podium.routing._hybrid import (
    CLAUSE_TEMPERATURE,
    DEFAULT_MIN_SCORE,
    VIEW_WEIGHTS,
    _soft_max,
)

from .helpers import agent, room, table

TOPICS = ("french", "report", "python", "invoice", "tax")


def topics(texts: list[str]) -> Sequence[Sequence[float]]:
    """One dimension per topic word, plus a small shared one (as in test_hybrid)."""
    return [[*(3.0 * t.lower().count(w) for w in TOPICS), 0.3] for t in texts]


def unit(v: Sequence[float]) -> list[float]:
    norm = math.sqrt(sum(x * x for x in v))
    return [x / norm for x in v]


def cosine(a: str, b: str) -> float:
    [va, vb] = topics([a, b])
    return sum(x * y for x, y in zip(unit(va), unit(vb), strict=True))


def embeddings(**kw: object) -> HybridRelevance:
    return HybridRelevance("embeddings", encode=topics, open_set=False, **kw)  # type: ignore[arg-type]


def test_the_soft_maximum_lies_between_the_mean_and_the_maximum() -> None:
    values = [0.1, 0.2, 0.6]
    soft = _soft_max(values, CLAUSE_TEMPERATURE)
    assert sum(values) / 3 < soft < max(values)
    # one clause standing out: within T * log(n) of it
    assert max(values) - soft <= CLAUSE_TEMPERATURE * math.log(3) + 1e-9
    assert _soft_max([0.4, 0.4, 0.4], CLAUSE_TEMPERATURE) == pytest.approx(0.4)
    assert _soft_max([0.7], CLAUSE_TEMPERATURE) == pytest.approx(0.7)
    # computed from the largest value: no overflow at any scale
    assert _soft_max([1e6, 0.0], 1e-3) == pytest.approx(1e6 - 1e-3 * math.log(2))


def test_the_embedding_similarity_is_the_weighted_mean_of_the_views() -> None:
    team = table(agent("python_coder", "Fixes Python code, writes the report"))
    a = embeddings().assess("python", team, list(team))
    by_clause = [cosine("python", "Fixes Python code"), cosine("python", "writes the report")]
    soft, mean, name = VIEW_WEIGHTS
    expected = (
        soft * _soft_max(by_clause, CLAUSE_TEMPERATURE)
        + mean * sum(by_clause) / 2
        + name * cosine("python", "python coder")
    ) / (soft + mean + name)
    assert a.details["python_coder"]["embedding"] == pytest.approx(expected, abs=1e-4)
    assert a.matched == {"python_coder": "Fixes Python code"}


def test_one_duty_among_several_is_not_diluted() -> None:
    """The task is about one of the clerk's four duties: the clause finds it, where the
    description embedded whole would be closer to the one-line agent's mixed topic."""
    team = table(
        agent("clerk", "Handles the tax return, files each invoice, keeps the report"),
        agent("analyst", "Python tax tooling"),
    )
    task = "The tax"
    whole = {n: cosine(task, a.description) for n, a in team.items()}
    assert whole["analyst"] > whole["clerk"]  # what the old whole-text view saw
    a = embeddings().assess(task, team, list(team))
    assert max(a.scores, key=a.scores.__getitem__) == "clerk"
    assert a.matched["clerk"] == "Handles the tax return"


def test_the_name_counts_when_descriptions_say_the_same() -> None:
    team = table(
        agent("invoice_clerk", "Does office work"), agent("report_writer", "Does office work")
    )
    a = embeddings().assess("An invoice", team, list(team))
    assert a.scores["invoice_clerk"] == 1.0
    assert a.scores["report_writer"] < 1.0
    b = embeddings().assess("The report", team, list(team))
    assert b.scores["report_writer"] == 1.0


def test_the_fit_does_not_fall_with_the_number_of_duties() -> None:
    """The clauses' mean falls as a description lists more duties; the fit the no-fit verdict
    reads is on a scale that does not, so a long description is not judged unfit."""
    short = table(agent("clerk", "Handles every invoice"))
    duties = ", ".join(f"keeps ledger {i}" for i in range(9))
    long = table(agent("clerk", f"Handles every invoice, {duties}"))
    a = embeddings().assess("An invoice", short, ["clerk"])
    b = embeddings().assess("An invoice", long, ["clerk"])
    assert b.details["clerk"]["embedding"] < a.details["clerk"]["embedding"] - 0.1
    assert b.fit >= DEFAULT_MIN_SCORE["embeddings"]
    assert a.fit == pytest.approx(a.details["clerk"]["fit"], abs=1e-6)
    # the fit score: the mean of the whole document's, the description's and the best clause's
    whole = cosine("An invoice", "clerk\nHandles every invoice")
    expected = (whole + cosine("An invoice", "Handles every invoice") + 1.0) / 3
    assert a.fit == pytest.approx(expected, abs=1e-4)


def test_the_reason_quotes_the_duty_the_task_matched() -> None:
    team = table(
        agent("translator", "Translates documents into French, French subtitles"),
        agent("coder", "Fixes Python code"),
    )
    router = ScoringRouter(relevance=embeddings(), explore="mean")
    decision = router.route(Task(id="t", instruction="A French letter"), team, room)
    assert isinstance(decision, Decision)
    assert decision.agent == "translator"
    assert "closest duty of 'translator': 'Translates documents into French'" in decision.reason
    assert "best fit" in decision.reason  # the fit and its threshold are still said
    unfit = router.route(Task(id="t", instruction="Bake a cake"), team, room)
    assert isinstance(unfit, NoFit)
    assert "best fit" in unfit.reason
    assert f"the closest is {unfit.best!r} (closest duty: '" in unfit.reason


def test_bm25_alone_quotes_no_duty() -> None:
    team = table(agent("coder", "Fixes Python code"), agent("writer", "Writes the report"))
    router = ScoringRouter(relevance=HybridRelevance("bm25"), explore="mean")
    decision = router.route(Task(id="t", instruction="Python code"), team, room)
    assert isinstance(decision, Decision)
    assert decision.agent == "coder"
    assert "closest duty" not in decision.reason
    assert "BM25 relevance: best fit" in decision.reason
