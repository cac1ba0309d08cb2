"""Each label on a hand-built journal whose every event is known; clean journals get none."""

from __future__ import annotations

from typing import Any

import pytest

from podium.diagnose import LABELS, MODES, diagnose, lexical_similarity
from podium.events import (
    AnyEvent,
    ApprovalRejected,
    BreakerOpened,
    ErrorInfo,
    Handoff,
    OutputRejected,
    PlanAccepted,
    PlanRevised,
    RunFailed,
    RunForked,
    RunSubmitted,
    RunSucceeded,
    RunWaiting,
    TaskAssigned,
    TaskFailed,
    TaskStarted,
    TaskSucceeded,
    ToolCalled,
)


def journal(*events: Any) -> list[AnyEvent]:
    """`events` (made without run id, seq or ts) numbered as a journal would number them."""
    out: list[AnyEvent] = [RunSubmitted(run_id="r", seq=0, ts=0.0)]
    for ev in events:
        kind, fields = ev
        out.append(kind(run_id="r", seq=len(out), ts=float(len(out)), **fields))
    return out


def ev(kind: type, **fields: Any) -> tuple[type, dict[str, Any]]:
    return kind, fields


def plan(*tasks: dict[str, Any]) -> tuple[type, dict[str, Any]]:
    return ev(PlanAccepted, tasks=list(tasks))


def ran(task: str, agent: str, output: Any, attempt: int = 1) -> list[tuple[type, dict[str, Any]]]:
    return [
        ev(TaskStarted, task=task, agent=agent, attempt=attempt),
        ev(TaskSucceeded, task=task, agent=agent, attempt=attempt, output=output),
    ]


def failed(task: str, kind: str, message: str, **more: Any) -> tuple[type, dict[str, Any]]:
    return ev(TaskFailed, task=task, error=ErrorInfo(type=kind, message=message), **more)


def call(task: str, args: dict[str, Any], tool: str = "lookup") -> tuple[type, dict[str, Any]]:
    return ev(ToolCalled, task=task, agent="a", tool=tool, arguments=args, result="found")


CLEAN = journal(
    plan(
        {"id": "research", "instruction": "Collect facts about coral reefs", "agent": "r"},
        {"id": "report", "instruction": "Write a report on coral reefs", "needs": ["research"]},
    ),
    ev(TaskStarted, task="research", agent="r"),
    call("research", {"term": "coral reefs"}),
    call("research", {"term": "reef bleaching"}),
    ev(TaskSucceeded, task="research", agent="r", output="Coral reefs cover 0.1% of the sea"),
    *ran("report", "w", {"title": "Coral reefs", "body": "Reefs cover a small share of the sea"}),
    ev(RunSucceeded),
)


def test_a_clean_run_gets_no_label() -> None:
    d = diagnose(CLEAN)
    assert (d.labels, d.status, d.finished, d.events) == ([], "succeeded", True, 9)
    assert d.to_json()["findings"] == []


def test_short_outputs_are_not_judged_for_relevance() -> None:
    events = journal(
        plan({"id": "a", "instruction": "Ping the service"}, {"id": "b", "needs": ["a"]}),
        *ran("a", "q", "ok"),
        *ran("b", "q", "done"),
        ev(RunSucceeded),
    )
    assert diagnose(events).labels == []


def test_step_repetition_counts_identical_calls_per_attempt() -> None:
    events = journal(
        plan({"id": "t", "instruction": "Look up reefs"}),
        ev(TaskStarted, task="t", agent="a"),
        call("t", {"term": "reefs"}),
        call("t", {"term": "reefs"}),
        ev(TaskFailed, task="t", error=ErrorInfo(type="x", message="y"), final=False),
        ev(TaskStarted, task="t", agent="a", attempt=2),
        call("t", {"term": "reefs"}),  # a new attempt may ask again: not a repetition
        ev(TaskSucceeded, task="t", agent="a", attempt=2, output="reefs found"),
        ev(RunSucceeded),
    )
    d = diagnose(events)
    assert d.labels == ["step_repetition"]
    (finding,) = d.findings
    assert [(e.seq, e.task) for e in finding.evidence] == [(4, "t")]
    assert "called 2 times in attempt 1 (seq 3, 4)" in finding.evidence[0].note


def test_a_step_planned_twice_is_repetition() -> None:
    events = journal(
        plan(
            {"id": "a", "instruction": "Fetch the  data"},
            {"id": "b", "instruction": "fetch the data"},
        ),
        *ran("a", "x", "the data"),
        *ran("b", "x", "the data"),
        ev(RunSucceeded),
    )
    (finding,) = diagnose(events).findings
    assert (finding.label, [e.seq for e in finding.evidence]) == ("step_repetition", [5])


def test_loop_from_the_guard_a_handoff_cycle_and_many_identical_calls() -> None:
    events = journal(
        plan({"id": "t", "instruction": "x"}, {"id": "u", "instruction": "y"}),
        ev(TaskStarted, task="t", agent="alice"),
        ev(Handoff, task="t", from_agent="alice", to_agent="bob"),
        ev(Handoff, task="t", from_agent="bob", to_agent="alice"),
        ev(Handoff, task="t", from_agent="alice", to_agent="bob"),
        ev(Handoff, task="t", from_agent="bob", to_agent="alice"),
        ev(TaskStarted, task="u", agent="a"),
        *[call("u", {"n": 1}) for _ in range(3)],
        failed("u", "loop", "tool 'lookup' was called 3 times with the same arguments"),
        ev(RunFailed, reason="loop", message="tool 'lookup' was called 3 times"),
    )
    d = diagnose(events)
    assert d.labels == ["step_repetition", "loop"]
    loop = d.findings[1]
    kinds = [e.kind for e in loop.evidence]
    assert kinds == ["Handoff", "ToolCalled", "TaskFailed", "RunFailed"]
    assert loop.confidence == pytest.approx(0.95)
    assert loop.evidence[0].note == "handoffs go round: bob → alice → bob"


def test_step_and_round_limits_are_unawareness_of_termination_not_loops() -> None:
    events = journal(
        plan({"id": "t", "instruction": "x"}, {"id": "u", "instruction": "y"}),
        ev(TaskStarted, task="t", agent="a"),
        failed("t", "max_rounds", "agent 'a' did not finish within 3 model rounds"),
        ev(TaskStarted, task="u", agent="a"),
        failed("u", "loop", "the run took more than 3 steps (model and tool calls); raise it"),
        ev(
            RunFailed,
            reason="loop",
            message="the run took more than 3 steps (model and tool calls)",
        ),
    )
    d = diagnose(events)
    assert d.labels == ["unaware_of_termination"]
    assert [e.seq for e in d.findings[0].evidence] == [3, 5, 6]


def test_derailment_and_the_missing_check_downstream() -> None:
    events = journal(
        plan(
            {"id": "a", "instruction": "What is the GDP of France?"},
            {"id": "b", "instruction": "Polish the answer", "needs": ["a"]},
        ),
        *ran("a", "x", "Coffee beans grow best in volcanic soil"),
        *ran("b", "y", "Answer, polished: coffee beans grow best in volcanic soil"),
        ev(RunSucceeded),
    )
    d = diagnose(events)
    assert d.labels == ["derailment", "verification"]
    derail, check = d.findings
    assert [(e.seq, e.task) for e in derail.evidence] == [(3, "a")]
    assert [(e.seq, e.task) for e in check.evidence] == [(3, "a")]
    assert "used by b" in check.evidence[0].note
    # the same output with a schema on the task: checked, so only the derailment stays
    events[1] = PlanAccepted(
        run_id="r",
        seq=1,
        ts=1.0,
        tasks=[
            {
                "id": "a",
                "instruction": "What is the GDP of France?",
                "output_schema": {"type": "string"},
            },
            {"id": "b", "instruction": "Polish the answer", "needs": ["a"], "checks": ["x"]},
        ],
    )
    assert diagnose(events).labels == ["derailment"]


def test_failed_checks_are_verification_failures() -> None:
    bad = ErrorInfo(type="output_invalid", message="not JSON")
    events = journal(
        plan({"id": "t", "instruction": "x"}, {"id": "u", "instruction": "y"}),
        ev(TaskStarted, task="t", agent="a"),
        ev(OutputRejected, task="t", agent="a", error=bad, repair=True),
        ev(TaskSucceeded, task="t", agent="a", output={"x": 1}),
        ev(TaskStarted, task="u", agent="a"),
        failed("u", "grounding", "the claim has no source"),
        failed("u", "RuntimeError", "not a check"),
        ev(RunFailed, reason="error"),
    )
    d = diagnose(events)
    assert d.labels == ["verification"]
    assert [e.seq for e in d.findings[0].evidence] == [3, 6]
    assert d.findings[0].confidence == pytest.approx(0.9)


def test_corrections_of_the_agent_are_misallocation() -> None:
    events = journal(
        ev(RunForked, parent="p", task="f", changes={"agent": "editor"}),
        plan({"id": "b"}, {"id": "h"}, {"id": "f"}, {"id": "c"}),
        ev(TaskAssigned, task="b", agent="junior"),
        ev(TaskStarted, task="b", agent="junior"),
        failed("b", "RuntimeError", "no", final=False),
        ev(TaskAssigned, task="b", agent="senior", reason="backup for junior"),
        ev(TaskStarted, task="b", agent="senior", attempt=2),
        ev(TaskSucceeded, task="b", agent="senior", attempt=2, output="ok"),
        ev(TaskStarted, task="h", agent="triage"),
        ev(Handoff, task="h", from_agent="triage", to_agent="expert"),
        ev(TaskSucceeded, task="h", agent="expert", output="ok"),
        ev(TaskStarted, task="c", agent="a"),  # a handoff that came back: no correction
        ev(Handoff, task="c", from_agent="a", to_agent="b"),
        ev(TaskSucceeded, task="c", agent="a", output="ok"),
        ev(PlanRevised, replaced=["f"], tasks=[]),
        ev(RunSucceeded),
    )
    d = diagnose(events)
    assert d.labels == ["task_misallocation"]
    evidence = d.findings[0].evidence
    assert [(e.seq, e.kind) for e in evidence] == [
        (1, "RunForked"),
        (6, "TaskAssigned"),
        (10, "Handoff"),
        (15, "PlanRevised"),
    ]


def test_ignored_inputs_compares_an_output_with_what_it_needed() -> None:
    events = journal(
        plan(
            {"id": "a", "instruction": "Collect revenue figures for Europe"},
            {"id": "b", "instruction": "Write the report from the figures", "needs": ["a"]},
            {"id": "c", "instruction": "Write the summary from the figures", "needs": ["a"]},
        ),
        *ran("a", "x", "Revenue figures: Europe grew eight percent"),
        *ran("b", "y", "Report: a heading and an empty section"),
        *ran("c", "y", "Summary: revenue in Europe grew eight percent"),
        ev(RunSucceeded),
    )
    d = diagnose(events)
    assert d.labels == ["ignored_inputs"]
    assert [(e.seq, e.task) for e in d.findings[0].evidence] == [(5, "b")]


def test_podium_stops() -> None:
    events = journal(
        plan(*({"id": t} for t in "abcdef")),
        failed("a", "budget", "the run step budget (3) is used up"),
        ev(BreakerOpened, scope="agent", name="x", failure_rate=1.0, calls=2, cooldown_s=30.0),
        failed("b", "breaker_open", "agent 'x' is open"),
        ev(ApprovalRejected, task="c", action_hash="h", by="ops", reason="expired"),
        failed("d", "timeout", "took longer than 1s", final=False),
        failed("e", "provider_timeout", "no answer"),
        ev(RunFailed, reason="timeout", message="the run took longer than 5s"),
    )
    d = diagnose(events)
    assert d.labels == ["budget_exhausted", "breaker_open", "approval_rejected", "timeout"]
    budget, breaker, approval, timeout = d.findings
    assert [e.seq for e in budget.evidence] == [2]
    assert [e.kind for e in breaker.evidence] == ["BreakerOpened", "TaskFailed"]
    assert approval.evidence[0].note == "expired by ops"
    assert [e.seq for e in timeout.evidence] == [6, 7, 8]
    assert "(retried)" in timeout.evidence[0].note


def test_a_breaker_that_only_rerouted_is_not_a_stop() -> None:
    events = journal(
        plan({"id": "a"}),
        ev(BreakerOpened, scope="agent", name="x", failure_rate=1.0, calls=2, cooldown_s=1.0),
        *ran("a", "backup", "ok"),
        ev(RunSucceeded),
    )
    assert diagnose(events).labels == []


def test_an_unfinished_run_is_diagnosed_as_far_as_it_goes() -> None:
    events = journal(plan({"id": "a"}), ev(RunWaiting, tasks=["a"]))
    d = diagnose(events)
    assert (d.status, d.finished, d.labels) == ("waiting", False, [])
    assert diagnose([]).to_json()["status"] == "running"


def test_a_similarity_can_be_given() -> None:
    events = journal(
        plan({"id": "a", "instruction": "Describe the weather in Paris today"}),
        *ran("a", "x", "Sunny skies with light wind and mild temperatures"),
        ev(RunSucceeded),
    )
    assert diagnose(events).labels == ["derailment"]  # no word in common
    assert diagnose(events, similarity=lambda a, b: 0.8).labels == []


def test_huge_and_odd_outputs_stay_bounded() -> None:
    deep: Any = "reef"
    for _ in range(200):
        deep = {"k": [deep, 1.5, None, True]}
    events = journal(
        plan({"id": "a", "instruction": "Collect reef facts"}),
        *ran("a", "x", {"text": "reef " * 1_000_000, "deep": deep}),
        ev(RunSucceeded),
    )
    assert diagnose(events).labels == []
    assert lexical_similarity("", "reef") == 0.0


def test_every_label_has_a_mode() -> None:
    assert set(LABELS) == set(MODES)
    assert all(m.mast for m in MODES.values())


def test_a_relevance_rejection_is_derailment_caught_by_a_check() -> None:
    off = ErrorInfo(type="relevance", message="the answer is not about the question")
    cut = ErrorInfo(type="truncated", message="the answer was cut off")
    events = journal(
        plan({"id": "t", "instruction": "x"}),
        ev(TaskStarted, task="t", agent="a"),
        ev(OutputRejected, task="t", agent="a", error=off, repair=True),
        ev(OutputRejected, task="t", agent="a", error=cut, repair=True),
        ev(TaskSucceeded, task="t", agent="a", output="fine"),
        ev(RunSucceeded),
    )
    d = diagnose(events)
    assert d.labels == ["derailment", "verification"]
    assert [e.seq for e in d.findings[0].evidence] == [3]
    assert [e.seq for e in d.findings[1].evidence] == [3, 4]


def test_a_wide_output_is_read_only_as_far_as_needed() -> None:
    wide = {"items": ["reef"] * 2_000_000}
    events = journal(
        plan({"id": "a", "instruction": "List reef sites"}),
        *ran("a", "x", wide),
        ev(RunSucceeded),
    )
    assert diagnose(events).labels == []
