"""The pieces of a context budget: the token estimate, the split of a budget, the extractive
summary (lead + BM25), reuse of stored summaries, and what a handoff carries over."""

from __future__ import annotations

import pytest

from podium import Agent, Orchestrator, Plan, Task
from podium.context import Entry
from podium.context._budget import context_budget, estimate_tokens, shares
from podium.context._summarise import clip, extract, reusable
from podium.models import ModelRequest
from podium.models._base import ModelResponse, ToolCall, UserMessage
from podium.testing import FunctionModel

pytestmark = pytest.mark.anyio


def test_tokens_are_a_quarter_of_the_characters_rounded_up() -> None:
    assert [estimate_tokens(t) for t in ("", "a", "abcd", "abcde")] == [0, 1, 1, 2]


def test_shares_keep_small_parts_whole_and_split_the_rest() -> None:
    assert shares([10, 500, 800], 300) == [10, 145, 145]
    assert shares([10, 20], 300) == [10, 20]
    assert shares([], 300) == []
    assert sum(shares([400, 400, 401], 1000)) <= 1000


def test_the_task_budget_wins_then_the_agents_and_a_floor_holds() -> None:
    assert context_budget(300, 800) == 300
    assert context_budget(None, 800) == 800
    assert context_budget(None, None) == 1500
    assert context_budget(1, None) == 64


def test_extract_keeps_the_lead_and_the_relevant_sentence() -> None:
    filler = " ".join(f"Paragraph {i} talks about the weather in general terms." for i in range(60))
    text = "Coral survey of 2024. " + filler + " Site 17 lost 80 percent of its coral. " + filler
    summary = extract(text, "Which site lost coral?", 40)
    assert estimate_tokens(summary) <= 40
    assert summary.startswith("Coral survey of 2024.")
    assert "Site 17 lost 80 percent of its coral." in summary


def test_extract_and_clip_bound_text_without_sentences() -> None:
    blob = "x" * 1_000_000
    assert estimate_tokens(extract(blob, "anything", 50)) <= 50
    assert clip(blob, 10).endswith("…")
    assert len(clip(blob, 10)) == 40
    assert clip("short", 10) == "short"
    assert extract("", "q", 10) == ""
    assert estimate_tokens(extract("[\n{\n}\n]" * 400, "q", 5)) <= 5


def test_a_stored_summary_is_reused_only_for_its_version_and_if_it_fits() -> None:
    entry = Entry(key="k", value="v" * 1000, version=3, task="t")
    summaries = [
        Entry(key="k~summary", value="old", version=1, task="t", sources=("k@2",)),
        Entry(key="k~summary", value="new " * 10, version=2, task="t", sources=("k@3",)),
    ]
    assert reusable(summaries, entry, 100) == "new " * 10
    assert reusable(summaries, entry, 5) is None  # too long for this budget: made afresh
    assert reusable(summaries[:1], entry, 100) is None


async def test_a_handoff_carries_a_bounded_account_of_a_long_first_turn() -> None:
    big = " ".join(f"Detail {i} of the survey is noted here." for i in range(400))
    seen: list[ModelRequest] = []

    def first(request: ModelRequest) -> ModelResponse:
        seen.append(request)
        call = ToolCall(id="h", name="handoff_to_second", arguments={"reason": "go", "note": big})
        return ModelResponse(text=big, tool_calls=(call,))

    def second(request: ModelRequest) -> str:
        seen.append(request)
        return "finished"

    agents = [
        Agent(name="first", model=FunctionModel(first), handoffs=("second",), context_budget=200),
        Agent(name="second", model=FunctionModel(second)),
    ]
    async with Orchestrator(agents=agents) as orch:
        result = await orch.run(Plan([Task(id="t", agent="first", instruction="Survey")]))
    assert result.output == "finished"
    handed = seen[-1].messages[1]
    assert isinstance(handed, UserMessage)
    assert "handed this task over" in handed.content
    # the note and what the first agent said are summarised into half the budget
    brief = handed.content.partition("handed this task over to you.\n")[2]
    assert "Note: Detail 0 of the survey" in brief
    assert "What happened so far:\n" in brief
    assert estimate_tokens(brief) <= 200 // 2 + 10  # the labels: Reason, Note, What happened
    assert estimate_tokens(big) > 2000
