"""`podium.audit`: a run's journal as attributed actions, recorded journals included."""

from __future__ import annotations

from pathlib import Path
from typing import TypedDict

import pytest

from podium.audit import ACTIONS, AuditEntry, audit, audit_run, person_actor
from podium.events import (
    AnyEvent,
    ApprovalRejected,
    ApprovalRequested,
    ErrorInfo,
    Handoff,
    PolicyDecided,
    RunFeedback,
    RunSubmitted,
    TaskCompensated,
    TaskFailed,
    TaskSucceeded,
    decode_many,
)
from podium.exceptions import RunNotFound
from podium.store import open_store

JOURNALS = Path(__file__).parents[1] / "journals"


def recorded(name: str) -> list[AnyEvent]:
    lines = (JOURNALS / f"{name}.v0.1.0.jsonl").read_text(encoding="utf-8").splitlines()
    return decode_many("[" + ",".join(lines) + "]")


def rows(entries: list[AuditEntry]) -> list[tuple[str, str, str]]:
    return [(e.actor, e.action, e.target) for e in entries]


def test_a_recorded_journal_names_its_agents_and_an_unknown_submitter() -> None:
    entries = audit(recorded("map_context_model"))
    assert rows(entries)[:4] == [
        ("unknown", "submitted", "run"),  # written before submitters were recorded
        ("podium", "plan accepted", "run"),
        ("agent:splitter", "task started", "task:split"),
        ("agent:splitter", "task succeeded", "task:split"),
    ]
    writes = [
        (e.actor, e.target, e.details["version"]) for e in entries if e.action == "wrote context"
    ]
    assert writes == [
        ("agent:noter", "context:notes", 1),
        ("agent:noter", "context:notes", 2),
        ("agent:noter", "context:notes", 3),
    ]
    [call] = [e for e in entries if e.action == "tool call"]
    assert (call.actor, call.target, dict(call.details)) == (
        "agent:llm",
        "tool:lookup",
        {"effect": "read", "task": "ask"},
    )
    # the mapped parent's success gathers its items': no agent produced it
    assert ("podium", "task succeeded", "task:notes") in rows(entries)
    assert entries[-1].action == "run ended"
    assert entries[-1].details == {"status": "succeeded"}
    assert [e.seq for e in entries] == sorted(e.seq for e in entries)


def test_failures_and_a_partial_end_are_attributed() -> None:
    entries = audit(recorded("retry_partial"))
    failed = [(e.actor, e.target) for e in entries if e.action == "task failed"]
    assert failed == [("agent:flaky", "task:try"), ("agent:broken", "task:extra"),
                      ("agent:flaky", "task:end")]  # fmt: skip
    assert entries[-1].details["status"] == "partially_succeeded"
    assert entries[-1].details["missing"] == ["extra"]


class At(TypedDict):
    run_id: str
    seq: int
    ts: float


def at(seq: int) -> At:
    return {"run_id": "r", "seq": seq, "ts": 100.0 + seq}


def test_people_agents_policy_and_podium_each_get_their_actions() -> None:
    error = ErrorInfo(type="ApprovalDenied", message="expired")
    events: list[AnyEvent] = [
        RunSubmitted(**at(0), by="mcp:claude"),
        ApprovalRequested(**at(1), task="pay", action="tool", action_hash="h", tool="pay"),
        ApprovalRejected(**at(2), task="pay", action_hash="h", by="podium", reason="expired"),
        TaskFailed(**at(3), task="pay", error=error),
        Handoff(**at(4), task="t", from_agent="triage", to_agent="billing"),
        PolicyDecided(
            **at(5),
            task="t",
            agent="billing",
            tool="refund",
            effect="write",
            action_hash="h2",
            decision="block",
            reason="untrusted",
        ),
        TaskSucceeded(**at(6), task="t", agent="billing", copied_from="parent"),
        TaskCompensated(**at(7), task="t", phase="started"),
        TaskCompensated(**at(8), task="t", phase="succeeded", by="ann"),
        RunFeedback(**at(9), score=4, by="ann"),
    ]
    assert rows(audit(events)) == [
        ("mcp:claude", "submitted", "run"),
        ("podium", "approval requested", "task:pay"),
        ("podium", "approval rejected", "task:pay"),  # expired: nobody decided
        ("podium", "task failed", "task:pay"),
        ("agent:triage", "handed off", "task:t"),
        ("podium", "policy decided", "tool:refund"),
        ("podium", "task succeeded", "task:t"),  # copied from the parent run
        ("podium", "compensation started", "task:t"),
        ("user:ann", "compensation succeeded", "task:t"),
        ("user:ann", "feedback", "run"),
    ]
    policy = audit(events)[5]
    assert policy.details == {
        "decision": "block",
        "effect": "write",
        "task": "t",
        "agent": "billing",
        "reason": "untrusted",
    }
    assert policy.to_json()["ts"] == 105.0
    assert {e.action for e in audit(events)} <= set(ACTIONS)


def test_actors_are_named_and_matched_whole_or_by_name() -> None:
    assert [person_actor(b) for b in ("alice", "", "podium", "mcp:x")] == [
        "user:alice",
        "unknown",
        "podium",
        "mcp:x",
    ]
    entry = AuditEntry(seq=0, ts=0.0, actor="user:alice", action="submitted")
    assert [entry.done_by(n) for n in ("alice", "user:alice", "user", "ali", "")] == [
        True,
        True,
        False,
        False,
        False,
    ]


@pytest.mark.anyio
async def test_audit_run_of_an_unknown_run_says_so(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'runs.db'}")
    await store.open()
    try:
        with pytest.raises(RunNotFound, match="no-such"):
            await audit_run(store, "no-such")
    finally:
        await store.close()
