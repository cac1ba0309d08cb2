"""Hybrid relevance (BM25 + embeddings, examples as neighbours), the no-fit verdict and the
tie-breaker, with a stand-in encoder: deterministic, no model."""

from __future__ import annotations

import math
from collections.abc import Sequence

import pytest

from podium import Agent
from podium.exceptions import ConfigError
from podium.models._base import ModelRequest
from podium.plan import RouterSpec, Task
from podium.routing import (
    Decision,
    HybridRelevance,
    ModelTieBreaker,
    NoFit,
    ScoringRouter,
    router_for,
)
from podium.routing._hybrid import DEFAULT_MIN_SCORE, MAX_VIEWS, default_mode
from podium.routing._roles import OpenSet
from podium.testing import FunctionModel

from .helpers import agent, room, table

TOPICS = ("french", "report", "python", "invoice")


def topics(texts: list[str]) -> Sequence[Sequence[float]]:
    """A stand-in encoder: one dimension per topic word, plus a small shared one (so unrelated
    texts are not orthogonal, as with real sentence embeddings)."""
    return [[*(3.0 * t.lower().count(w) for w in TOPICS), 0.3] for t in texts]


TEAM = table(
    agent("translator", "Translates documents into French", "language"),
    agent("writer", "Writes a report from notes", "language"),
    agent("coder", "Fixes Python code", "code"),
)


def hybrid(mode: str = "hybrid", **kw: object) -> HybridRelevance:
    """Hybrid relevance on the stand-in encoder (no occupations unless given)."""
    kw.setdefault("open_set", False)
    return HybridRelevance(mode, encode=topics, **kw)  # type: ignore[arg-type]


def test_fused_scores_rank_by_meaning_and_words() -> None:
    a = hybrid().assess("French, in French: the report", TEAM, list(TEAM))
    assert a.scores["translator"] == pytest.approx(1.0)  # "french" twice, "report" once
    assert 0 < a.scores["writer"] < 1
    assert a.scores["coder"] < a.scores["writer"]
    assert set(a.details["translator"]) == {"bm25", "embedding", "fused", "fit"}
    assert a.details["translator"]["bm25"] > 0
    assert a.fit == pytest.approx(a.details["translator"]["fit"], abs=1e-6)
    assert a.method == "hybrid relevance (BM25 + MiniLM embeddings)"
    # ranking scores fall off with the gap in fused score, by the temperature
    gap = a.details["translator"]["fused"] - a.details["writer"]["fused"]
    assert a.scores["writer"] == pytest.approx(math.exp(-gap / 0.05), rel=1e-3)


def test_modes_use_only_their_parts() -> None:
    words = hybrid("bm25").assess("the report", TEAM, list(TEAM))
    assert all("embedding" not in d for d in words.details.values())
    assert words.scores == {"translator": 0.0, "writer": 1.0, "coder": 0.0}
    meaning = hybrid("embeddings").assess("the report", TEAM, list(TEAM))
    assert all("bm25" not in d for d in meaning.details.values())
    assert max(meaning.scores, key=meaning.scores.__getitem__) == "writer"
    assert hybrid("bm25").assess("nothing shared", TEAM, list(TEAM)).fit == 0.0
    assert hybrid().assess("x", TEAM, []).scores == {}


def test_examples_are_labelled_neighbours() -> None:
    """No word of the task is in any description; the writer's example shares its topic."""
    team = table(
        agent("translator", "Translates documents", "language"),
        Agent(
            name="writer",
            description="Writes prose",
            function=TEAM["writer"].function,
            examples=("Turn the invoice notes into a letter",),
        ),
    )
    plain = hybrid().assess(
        "An invoice for March", {"translator": team["translator"]}, ["translator"]
    )
    assert plain.details["translator"]["embedding"] < 0.2
    a = hybrid().assess("An invoice for March", team, list(team))
    assert max(a.scores, key=a.scores.__getitem__) == "writer"
    assert a.details["writer"]["examples"] > 0.5
    assert "bm25_examples" in a.details["writer"]
    assert a.method.endswith("with the agents' examples")
    no_weight = hybrid(example_weight=0.0).assess("An invoice for March", team, list(team))
    assert no_weight.details["writer"]["fused"] < a.details["writer"]["fused"]


def test_bad_settings_and_a_broken_encoder_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="relevance must be one of"):
        HybridRelevance("magic")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="weights must be >= 0"):
        HybridRelevance(temperature=0)
    with pytest.raises(ConfigError, match="min_score must be a number >= 0"):
        HybridRelevance(min_score=float("nan"))
    short = HybridRelevance(encode=lambda texts: [[1.0, 0.0]])
    with pytest.raises(ConfigError, match="returned 1 vectors for"):
        short.assess("x", TEAM, list(TEAM))
    zero = HybridRelevance("embeddings", encode=lambda texts: [[0.0, 0.0] for _ in texts])
    assert zero.assess("x", TEAM, list(TEAM)).fit == 0.0  # an empty vector matches nothing


def test_long_descriptions_and_many_examples_are_bounded() -> None:
    seen: list[str] = []

    def encode(texts: list[str]) -> Sequence[Sequence[float]]:
        seen.extend(texts)
        return topics(texts)

    many = Agent(
        name="a",
        description=", ".join(f"duty number {i}" for i in range(500)),
        function=TEAM["coder"].function,
        examples=tuple(f"example {i}" for i in range(500)),
    )
    HybridRelevance(encode=encode, open_set=False).assess("x", {"a": many}, ["a"])
    # name, whole, description, clauses, examples, task
    assert len(seen) <= 3 + 2 * MAX_VIEWS + 1


def test_the_vector_cache_is_bounded_and_reused() -> None:
    calls: list[int] = []

    def encode(texts: list[str]) -> Sequence[Sequence[float]]:
        calls.append(len(texts))
        return topics(texts)

    relevance = HybridRelevance(encode=encode, cache_size=8, open_set=False)
    relevance.assess("french", TEAM, list(TEAM))
    relevance.assess("french", TEAM, list(TEAM))
    assert len(calls) == 1  # the second time, every vector was cached
    relevance.assess("python", TEAM, list(TEAM))
    assert calls[1] == 1  # only the new task
    assert len(relevance._vectors) <= max(8, calls[0])


def test_default_thresholds_and_mode() -> None:
    assert hybrid().min_score == DEFAULT_MIN_SCORE["hybrid"] > 0
    assert hybrid("bm25").min_score == 0.0  # BM25 cannot tell "no fit" from "no shared word"
    assert hybrid(min_score=0.4).min_score == 0.4
    mode, why = default_mode()
    assert mode in ("hybrid", "bm25")
    assert why


# -- no fit ------------------------------------------------------------------------------------


def test_a_task_no_agent_fits_is_a_no_fit_decision() -> None:
    router = ScoringRouter(relevance=hybrid(), explore="mean")
    unfit = router.route(Task(id="t", instruction="Bake a cake"), TEAM, room)
    assert isinstance(unfit, NoFit)
    assert unfit.reason.startswith("no agent fits: best fit ")
    assert "under the threshold 0.12" in unfit.reason
    assert "the task fails rather than guess" in unfit.reason
    assert unfit.best in TEAM
    assert not unfit.escalate
    assert {c["agent"] for c in unfit.candidates} == set(TEAM)
    assert all("fused" in c for c in unfit.candidates)
    fits = router.route(Task(id="t", instruction="A Python bug"), TEAM, room)
    assert isinstance(fits, Decision)
    assert fits.agent == "coder"
    assert "hybrid relevance (BM25 + MiniLM embeddings): best fit" in fits.reason


def test_no_fit_threshold_capability_and_escalation() -> None:
    cake = Task(id="t", instruction="Bake a cake")
    never = ScoringRouter(relevance=hybrid(), explore="mean", min_score=0)
    assert isinstance(never.route(cake, TEAM, room), Decision)
    strict = ScoringRouter(relevance=hybrid(), explore="mean", min_score=5.0)
    assert isinstance(strict.route(Task(id="t", instruction="French"), TEAM, room), NoFit)
    # a capability many agents share says little about the task: it is judged all the same
    named = Task(id="t", instruction="Bake a cake", capability="language")
    assert isinstance(never.route(named, TEAM, room), Decision)
    assert isinstance(strict.route(named, TEAM, room), NoFit)
    # agents with neither description nor examples give no ground to refuse a task
    blank = table(agent("a", "", "language"), agent("b", "", "language"))
    assert isinstance(strict.route(named, blank, room), Decision)
    ask = ScoringRouter(relevance=hybrid(), explore="mean", on_no_fit="ask")
    unfit = ask.route(cake, TEAM, room)
    assert isinstance(unfit, NoFit)
    assert unfit.escalate
    assert "a person is asked" in unfit.reason
    # a plain relevance measures no fit: nothing is said to fit none
    plain = ScoringRouter(explore="mean")
    assert isinstance(plain.route(cake, TEAM, room), Decision)
    with pytest.raises(ConfigError, match="on_no_fit"):
        ScoringRouter(on_no_fit="guess")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="min_score"):
        ScoringRouter(min_score=-1)


def test_a_task_closer_to_work_no_agent_resembles_fits_none() -> None:
    """Open set: an occupation no candidate covers, closer to the task than any candidate."""
    jobs = OpenSet({"bookkeeping": "Invoice work", "translation": "French work"}, margin=0.1)
    relevance = hybrid(open_set=jobs)
    coders = table(agent("coder", "Fixes Python code"), agent("writer", "Writes a report"))
    a = relevance.assess("Invoice, invoice, and the report", coders, list(coders))
    assert a.rival is not None
    assert a.rival.occupation == "bookkeeping"
    assert a.fit >= DEFAULT_MIN_SCORE["hybrid"]  # the fit alone would pass
    router = ScoringRouter(relevance=relevance, explore="mean")
    unfit = router.route(Task(id="t", instruction="Invoice, invoice, and the report"), coders, room)
    assert isinstance(unfit, NoFit)
    assert "it reads as the work of the occupation 'bookkeeping' (" in unfit.reason
    assert "which no candidate resembles" in unfit.reason
    # with an agent that covers bookkeeping, the same task fits it
    team = {**coders, "clerk": agent("clerk", "Handles every invoice")}
    fits = router.route(Task(id="t", instruction="Invoice, invoice, and the report"), team, room)
    assert isinstance(fits, Decision)
    assert fits.agent == "clerk"
    # the report alone is the writer's: the uncovered occupations are not closer
    report = router.route(Task(id="t", instruction="The report"), coders, room)
    assert isinstance(report, Decision)
    assert report.agent == "writer"
    assert HybridRelevance(encode=topics).open_set is not None  # on by default
    with pytest.raises(ConfigError, match="OpenSet"):
        OpenSet(margin=-1)


def test_no_fit_comes_before_room() -> None:
    """A task no agent fits is said so even while every agent is busy."""
    router = ScoringRouter(relevance=hybrid(), explore="mean")
    assert isinstance(router.route(Task(id="t", instruction="Bake"), TEAM, lambda _: False), NoFit)
    assert router.route(Task(id="t", instruction="French"), TEAM, lambda _: False) is None


# -- the tie-breaker ---------------------------------------------------------------------------


def picker(answer: str) -> FunctionModel:
    return FunctionModel(lambda request: answer)


CLOSE = table(
    agent("translator", "Translates a French report", "language"),
    agent("writer", "Writes a French report", "language"),
    agent("coder", "Fixes Python code", "code"),
)


def test_a_model_breaks_a_near_tie_among_the_close_candidates() -> None:
    model = picker('{"agent": "writer", "why": "it is prose"}')
    router = ScoringRouter(
        relevance=hybrid(), explore="mean", tie_breaker=ModelTieBreaker(model, margin=0.5)
    )
    decision = router.route(Task(id="t", instruction="A French report"), CLOSE, room)
    assert isinstance(decision, Decision)
    assert decision.agent == "writer"
    assert "tie broken by model 'test:function': it is prose" in decision.reason
    [request] = model.requests
    assert isinstance(request, ModelRequest)
    prompt = request.messages[-1].content or ""
    assert "Task: A French report" in prompt
    assert "- writer: Writes a French report" in prompt
    assert "coder" not in prompt
    assert request.output_schema is not None


@pytest.mark.parametrize(
    ("answer", "note"),
    [
        ("not json", "did not answer JSON: kept"),
        ('{"agent": "coder"}', "named no candidate ('coder'): kept"),
        ('["writer"]', "named no candidate (None): kept"),
    ],
)
def test_a_bad_tie_break_answer_keeps_the_router_choice(answer: str, note: str) -> None:
    router = ScoringRouter(
        relevance=hybrid(), explore="mean", tie_breaker=ModelTieBreaker(picker(answer), margin=0.5)
    )
    decision = router.route(Task(id="t", instruction="A French report"), CLOSE, room)
    assert isinstance(decision, Decision)
    assert decision.agent == "translator"  # the router's own choice: first of a tie
    assert note in decision.reason


def test_a_failing_tie_break_model_keeps_the_choice_and_a_clear_winner_asks_nobody() -> None:
    def boom(request: ModelRequest) -> str:
        raise RuntimeError("provider down")

    failing = FunctionModel(boom)
    router = ScoringRouter(
        relevance=hybrid(), explore="mean", tie_breaker=ModelTieBreaker(failing, margin=0.5)
    )
    decision = router.route(Task(id="t", instruction="A French report"), CLOSE, room)
    assert isinstance(decision, Decision)
    assert decision.agent == "translator"
    assert "failed (RuntimeError): kept" in decision.reason
    clear = router.route(Task(id="t", instruction="Python"), CLOSE, room)
    assert isinstance(clear, Decision)
    assert clear.agent == "coder"
    assert len(failing.requests) == 1  # the clear winner asked no model
    with pytest.raises(ConfigError, match="margin"):
        ModelTieBreaker(failing, margin=0)
    with pytest.raises(ConfigError, match="at least 2"):
        ModelTieBreaker(failing, max_candidates=1)


@pytest.mark.anyio
async def test_the_tie_breaker_runs_from_inside_an_event_loop() -> None:
    """The scheduler routes on the event loop: the model's request runs on its own thread."""
    model = picker('{"agent": "writer"}')
    router = ScoringRouter(
        relevance=hybrid(), explore="mean", tie_breaker=ModelTieBreaker(model, margin=0.5)
    )
    decision = router.route(Task(id="t", instruction="A French report"), CLOSE, room)
    assert isinstance(decision, Decision)
    assert decision.agent == "writer"


# -- router_for ----------------------------------------------------------------------------


def test_router_for_derives_a_router_that_shares_what_the_base_learns() -> None:
    base = ScoringRouter(explore="mean")
    assert router_for(None, base) is base
    spec = RouterSpec(relevance="bm25", min_score=0.3, on_no_fit="ask")
    derived = router_for(spec, base)
    assert isinstance(derived, ScoringRouter)
    assert derived is not base
    assert derived.book is base.book
    assert isinstance(derived.relevance, HybridRelevance)
    assert (derived.relevance.mode, derived.min_score, derived.on_no_fit) == ("bm25", 0.3, "ask")
    assert router_for(spec, base) is derived  # one per spec: its model and vectors are reused
    assert base.relevance is not derived.relevance  # the base is left as it was
    other = router_for(RouterSpec(relevance="bm25"), object())  # type: ignore[arg-type]
    assert isinstance(other, ScoringRouter)
    tie = router_for(RouterSpec(tie_break_model="test:x", relevance="bm25"), base)
    assert isinstance(tie, ScoringRouter)
    assert isinstance(tie.tie_breaker, ModelTieBreaker)
