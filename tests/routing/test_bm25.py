"""BM25 relevance: tokenising, stemming, ranking, normalising."""

from __future__ import annotations

import pytest

from podium.agents._relevance import agent_document, stem
from podium.routing import BM25Index, BM25Relevance, tokenize
from podium.tools import Tool

from .helpers import agent, table


@pytest.mark.parametrize(
    "words",
    [
        ("summarise", "summarize", "summarising", "summarization"),
        ("translate", "translation", "translating", "translator"),
        ("analyse", "analyze", "analysing", "analyzing"),
        ("test", "tests", "testing", "tester"),
        ("database", "databases"),
        ("answer", "answers", "answering"),
        ("plan", "planning", "planner"),
        ("query", "queries"),
        ("class", "classes"),
    ],
)
def test_stem_joins_word_forms(words: tuple[str, ...]) -> None:
    assert len({stem(w) for w in words}) == 1, {w: stem(w) for w in words}


def test_stem_keeps_short_words_and_numbers() -> None:
    assert [stem(w) for w in ("sql", "api", "2024", "status")] == ["sql", "api", "2024", "status"]


def test_tokenize_drops_templates_stopwords_and_splits_names() -> None:
    text = "Summarise the {{ inputs.topic }} notes for the WeeklyReport of {{tasks.a.output}}"
    assert tokenize(text) == ["summariz", "not", "week", "report"]


def test_agent_document_has_name_description_capabilities_and_tools() -> None:
    def search_web(query: str) -> str:
        """Search the web."""
        return query

    a = agent("fact_checker", "Checks claims against sources.", "verify")
    a = type(a)(
        name=a.name,
        description=a.description,
        capabilities=a.capabilities,
        function=a.function,
        tools=(Tool.from_function(search_web),),
    )
    doc = agent_document(a)
    for part in ("fact checker", "Checks claims", "verify\nverify", "search web", "Search the web"):
        assert part in doc


def test_bm25_ranks_the_document_that_shares_rare_words() -> None:
    index = BM25Index(
        {
            "sql": tokenize("writes sql queries against the warehouse database"),
            "prose": tokenize("writes prose: blog posts and essays"),
            "both": tokenize("writes things"),
        }
    )
    scores = index.scores(tokenize("write a SQL query for the sales database"), ["sql", "prose"])
    assert scores["sql"] > 3 * scores["prose"] > 0  # "prose" shares only "write"
    # a word every document has counts for little
    assert 0 < index.score("both", tokenize("writes")) < index.score("sql", tokenize("sql"))


def test_bm25_saturates_term_frequency_and_normalises_length() -> None:
    index = BM25Index({"short": ["sql"], "long": ["sql"] + ["filler"] * 30, "none": ["x"]})
    assert index.score("short", ["sql"]) > index.score("long", ["sql"])
    index = BM25Index({"a": ["sql", "x"], "b": ["sql"] * 50 + ["x"], "c": ["y"]}, b=0.0)
    once, many = index.score("a", ["sql"]), index.score("b", ["sql"])
    assert once < many < once * 2.2 / 1.0  # bounded by (k1 + 1) / 1, not 50 times


def test_empty_index_scores_nothing() -> None:
    assert BM25Index({}).scores(["a"], []) == {}


def test_relevance_normalises_to_the_best_candidate_above_the_floor() -> None:
    agents = table(
        agent("translator", "Translates documents between English and German", "language"),
        agent("writer", "Writes reports and summaries", "language"),
        agent("coder", "Fixes Python code", "code"),
    )
    relevance = BM25Relevance()
    scores = relevance.scores("Translate the report into German", agents, ["translator", "writer"])
    assert scores["translator"] == 1.0
    assert 0 < scores["writer"] < 1.0
    nothing = relevance.scores("Bake a cake", agents, list(agents))
    assert nothing == {"translator": 0.0, "writer": 0.0, "coder": 0.0}
    weak = BM25Relevance(floor=100.0).scores("Translate", agents, ["translator"])
    assert 0 < weak["translator"] < 0.1  # one shared word is not full relevance under a high floor


def test_relevance_reuses_the_index_of_an_agent_table() -> None:
    agents = table(agent("a", "alpha"), agent("b", "beta"))
    relevance = BM25Relevance()
    relevance.scores("alpha", agents, ["a", "b"])
    first = relevance._index(agents)
    relevance.scores("beta", agents, ["a"])
    assert relevance._index(agents) is first
    for n in range(20):  # the cache is bounded
        relevance.scores("x", table(agent(f"n{n}", "x")), [f"n{n}"])
    assert len(relevance._cache) == 16
