"""What an A2A message means to Podium: run inputs, goals and decisions."""

from __future__ import annotations

import pytest
from a2a.types import Message, Part
from a2a.utils.errors import InvalidParamsError

from podium.a2a._messages import Target, decision_of, message_value
from podium.a2a._proto import value
from podium.exceptions import ConfigError
from podium.plan import InputSpec, Plan, Task, Workflow


@pytest.mark.parametrize(
    ("said", "granted", "comment"),
    [
        ("approve", True, None),
        ("Yes, ship it", True, "ship it"),
        ("OK.", True, None),
        ("reject too risky", False, "too risky"),
        ("No!", False, None),
        ({"decision": "approve", "comment": "fine"}, True, "fine"),
        ({"decision": "deny"}, False, None),
    ],
)
def test_decisions(said: object, granted: bool, comment: str | None) -> None:
    decision = decision_of(said)
    assert (decision.granted, decision.comment) == (granted, comment)


@pytest.mark.parametrize("said", ["maybe", "", {"decision": "later"}, {"comment": "x"}])
def test_anything_else_is_no_decision(said: object) -> None:
    with pytest.raises(InvalidParamsError, match="reply 'approve' or 'reject'"):
        decision_of(said)


def test_a_lone_data_part_is_its_value_and_text_parts_are_joined() -> None:
    data = Message(message_id="m", parts=[Part(data=value({"city": "Oslo", "days": [1, 2.5]}))])
    assert message_value(data) == {"city": "Oslo", "days": [1, 2.5]}
    text = Message(message_id="m", parts=[Part(text="one"), Part(text="two")])
    assert message_value(text) == "one\ntwo"


def workflow(inputs: list[str] | None, *, tasks: bool = True) -> Workflow:
    plan = Plan([Task(id="t", agent="a", instruction="x")]) if tasks else Plan([])
    specs = None if inputs is None else [InputSpec(name=n) for n in inputs]
    return Workflow(name="w", plan=plan, inputs=specs)


def test_where_a_message_goes() -> None:
    assert Target.of(workflow(["message", "other"])).run_args("hi") == ({"message": "hi"}, None)
    assert Target.of(workflow(["topic"])).run_args("hi") == ({"topic": "hi"}, None)
    assert Target.of(workflow(None)).run_args("hi") == ({"message": "hi"}, None)
    team = Target.of(workflow(None, tasks=False))
    assert team.is_goal
    assert team.run_args({"a": 1}) == ({}, '{"a": 1}')
    with pytest.raises(ConfigError, match="name one of them `message`"):
        Target.of(workflow(["a", "b"]))
