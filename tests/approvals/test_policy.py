"""The approval rules, action hashes and idempotency keys, on their own."""

from __future__ import annotations

import hashlib

import pytest

from podium import Task, TaskCall, tool
from podium.context import Blackboard, ContextView, PendingWrite
from podium.events import ApprovalGranted, ApprovalRejected, ApprovalRequested
from podium.exceptions import ConfigError
from podium.policy import ApprovalBook, Policy, ResultReview
from podium.tools import KeyedGate, action_hash, canonical_json, effect_key, task_hash


@tool(effect="irreversible")
def send(to: str, amount: int) -> str:
    """Send money."""
    return "sent"


@tool(effect="write")
def note(text: str) -> str:
    """Write a note."""
    return text


@tool
def look(q: str) -> str:
    """Look something up."""
    return q


def test_canonical_json_ignores_key_order_and_spacing() -> None:
    assert canonical_json({"b": 1, "a": {"d": [1, 2.5], "c": None}}) == (
        b'{"a":{"c":null,"d":[1,2.5]},"b":1}'
    )
    assert action_hash("send", {"to": "x", "amount": 3}) == action_hash(
        "send", {"amount": 3, "to": "x"}
    )


def test_action_hash_is_sha256_of_the_canonical_tool_and_arguments() -> None:
    expected = hashlib.sha256(b'{"arguments":{"amount":3,"to":"x"},"tool":"send"}').hexdigest()
    assert action_hash("send", {"to": "x", "amount": 3}) == expected
    assert action_hash("send", {"to": "x", "amount": 4}) != expected
    assert action_hash("other", {"to": "x", "amount": 3}) != expected
    assert task_hash("t", "do it") != task_hash("t", "do it!")
    assert task_hash("t", "do it") != task_hash("u", "do it")


def test_keyed_gate_numbers_side_effects_apart_from_reads() -> None:
    gate = KeyedGate("run1", "task1")
    first = gate.admit(note, {"text": "a"}).key
    lookup = gate.admit(look, {"q": "a"}).key
    second = gate.admit(send, {"to": "x", "amount": 1}).key
    digest = action_hash("note", {"text": "a"})[:16]
    assert first == f"run1/task1/1:{digest}"
    assert lookup.startswith("run1/task1/r1:")
    assert second.startswith("run1/task1/2:")
    # A new attempt numbers its calls from the start: the same calls get the same keys.
    again = KeyedGate("run1", "task1")
    assert again.admit(note, {"text": "a"}).key == first
    assert again.admit(send, {"to": "x", "amount": 1}).key == second


def test_task_call_idempotency_key_ignores_the_attempt() -> None:
    view = ContextView(Blackboard(), task="t", reads=())

    def call(attempt: int) -> TaskCall:
        return TaskCall(
            run_id="r",
            task_id="t[2]",
            agent="a",
            instruction="",
            inputs={},
            run_inputs={},
            task_outputs={},
            context=view,
            attempt=attempt,
        )

    assert call(1).idempotency_key("charge") == "r/t[2]/charge" == effect_key("r", "t[2]", "charge")
    assert call(3).idempotency_key("charge") == call(1).idempotency_key("charge")
    assert call(1).idempotency_key("refund") != call(1).idempotency_key("charge")


def test_default_policy_asks_for_irreversible_tools_and_risky_tasks() -> None:
    policy = Policy()
    assert policy.tool_reason(send) == "tool 'send' is irreversible"
    assert policy.tool_reason(note) is None
    assert policy.task_reason(Task(id="t", approval="required")) == "the task requires approval"
    assert policy.task_reason(Task(id="t", risk="high")) == "the task is high risk"
    assert policy.task_reason(Task(id="t", risk="medium")) is None
    assert policy.task_reason(Task(id="t")) is None
    assert not policy.reviews_results
    assert policy.expiry(100.0) is None


def test_policy_can_widen_or_narrow_the_rules() -> None:
    policy = Policy(approve_effects=("write", "irreversible"), approve_risks=(), approval_ttl_s=60)
    assert policy.tool_reason(note) == "tool 'note' is write"
    assert policy.task_reason(Task(id="t", risk="high")) is None
    assert policy.expiry(100.0) == 160.0
    assert Policy(approve_effects=()).tool_reason(send) is None


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"approve_effects": ("delete",)}, "unknown effect"),
        ({"approve_risks": ("extreme",)}, "unknown risk"),
        ({"min_confidence": 1.5}, "min_confidence"),
        ({"approval_ttl_s": 0}, "approval_ttl_s"),
    ],
)
def test_policy_refuses_bad_settings(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        Policy(**kwargs)  # type: ignore[arg-type]


def _review(output: object, *confidences: float | None) -> ResultReview:
    writes = [
        PendingWrite(key=f"k{i}", value=i, sources=("s",), confidence=c)
        for i, c in enumerate(confidences)
    ]
    return ResultReview(task=Task(id="t"), agent="a", output=output, writes=writes)


def test_result_confidence_is_the_lowest_stated() -> None:
    assert _review("x").confidence() is None
    assert _review("x", None, 0.9, 0.4).confidence() == 0.4
    assert _review({"answer": 1, "confidence": 0.3}, 0.9).confidence() == 0.3
    assert _review({"confidence": True}).confidence() is None


def test_min_confidence_and_review_rules() -> None:
    policy = Policy(min_confidence=0.5)
    assert policy.reviews_results
    assert policy.result_reason(_review("x", 0.7)) is None
    assert policy.result_reason(_review("x", 0.2)) == "confidence 0.2 is below 0.5"
    assert policy.result_reason(_review("x")) is None  # states no confidence: nothing to judge

    def checks_disagree(review: ResultReview) -> str | None:
        verdicts = review.output.get("checks", []) if isinstance(review.output, dict) else []
        return "the checks disagree" if len(set(verdicts)) > 1 else None

    ruled = Policy(review=(checks_disagree,))
    assert ruled.result_reason(_review({"checks": [True, False]})) == "the checks disagree"
    assert ruled.result_reason(_review({"checks": [True, True]})) is None


def test_result_digest_binds_to_output_and_writes() -> None:
    a = _review({"x": 1}, 0.2)
    assert a.digest() == _review({"x": 1}, 0.2).digest()
    assert a.digest() != _review({"x": 2}, 0.2).digest()
    assert a.digest() != _review({"x": 1}, 0.3).digest()


def _request(seq: int, task: str = "t", digest: str = "h") -> ApprovalRequested:
    return ApprovalRequested(
        run_id="r", seq=seq, ts=float(seq), task=task, action="task", action_hash=digest
    )


def test_approval_book_first_decision_wins() -> None:
    book = ApprovalBook()
    book.request(_request(1))
    book.request(_request(2, task="u"))
    assert [a.task for a in book.pending()] == ["t", "u"]
    granted = ApprovalGranted(run_id="r", seq=3, ts=3.0, task="t", action_hash="h", by="ann")
    assert book.decide(granted) is not None
    late = ApprovalRejected(run_id="r", seq=4, ts=4.0, task="t", action_hash="h", by="bob")
    assert book.decide(late) is None  # already decided: ignored
    stray = ApprovalGranted(run_id="r", seq=5, ts=5.0, task="u", action_hash="other", by="c")
    assert book.decide(stray) is None  # binds to another action: ignored
    found = book.get("t", "h")
    assert found is not None
    assert (found.status, found.by, found.decided_at) == ("granted", "ann", 3.0)
    assert book.granted("t", "h")
    assert not book.granted("u", "h")
    assert [a.task for a in book.pending()] == ["u"]
    assert len(book) == 2


def test_an_approval_expires_only_while_pending() -> None:
    book = ApprovalBook()
    approval = book.request(
        ApprovalRequested(
            run_id="r", seq=1, ts=1.0, task="t", action="tool", action_hash="h", expires_at=10.0
        )
    )
    assert not approval.expired(9.9)
    assert approval.expired(10.0)
    book.decide(ApprovalGranted(run_id="r", seq=2, ts=5.0, task="t", action_hash="h", by="a"))
    assert not approval.expired(100.0)
