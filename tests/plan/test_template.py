"""`{{ … }}` templates: parsing and rendering."""

from __future__ import annotations

from typing import Any

import pytest

from podium.plan import TemplateError, references, render
from podium.plan._template import Reference

SCOPE: dict[str, Any] = {
    "inputs": {"topic": "tides", "n": 3, "rows": [{"name": "first"}, {"name": "second"}]},
    "tasks": {
        "split": {"items": ["neap", "spring"], "count": 2},
        "list": ["x", "y"],
        "none": None,
    },
    "item": {"question": "why?", "tags": ["a", "b"]},
}


@pytest.mark.parametrize(
    ("template", "value"),
    [
        ("{{ tasks.split.output }}", {"items": ["neap", "spring"], "count": 2}),
        ("{{ tasks.split.output.items }}", ["neap", "spring"]),
        ("{{tasks.split.output.count}}", 2),
        ("  {{ inputs.n }} ", 3),
        ("{{ tasks.none.output }}", None),
        ("{{ item }}", {"question": "why?", "tags": ["a", "b"]}),
    ],
)
def test_a_whole_reference_keeps_its_type(template: str, value: Any) -> None:
    assert render(template, SCOPE) == value


@pytest.mark.parametrize(
    ("template", "value"),
    [
        ("{{ tasks.split.output.items[0] }}", "neap"),
        ("{{ tasks.split.output.items[1] }}", "spring"),
        ("{{ tasks.list.output[1] }}", "y"),
        ("{{ inputs.rows[1].name }}", "second"),
        ("{{ item.tags[0] }}", "a"),
    ],
)
def test_list_indexing(template: str, value: Any) -> None:
    assert render(template, SCOPE) == value


def test_mixed_text_renders_json_for_non_strings() -> None:
    assert (
        render("About {{ inputs.topic }}: {{ tasks.split.output.items }} x{{ inputs.n }}", SCOPE)
        == 'About tides: ["neap", "spring"] x3'
    )
    assert render("{{ item }}!", SCOPE) == '{"question": "why?", "tags": ["a", "b"]}!'
    assert render("no templates {here}", SCOPE) == "no templates {here}"


@pytest.mark.parametrize(
    ("template", "message"),
    [
        (
            "{{ tasks.split.output.missing }}",
            "{{ tasks.split.output.missing }}: no field 'missing'",
        ),
        ("{{ tasks.split.output.items[5] }}", "{{ tasks.split.output.items[5] }}: no item [5]"),
        ("{{ tasks.split.output.count.x }}", "{{ tasks.split.output.count.x }}: no field 'x'"),
        ("{{ tasks.other.output }}", "{{ tasks.other.output }}: 'other' is not available here"),
        ("{{ inputs.nope }}", "{{ inputs.nope }}: 'nope' is not available here"),
        ("{{ tasks.split }}", "{{ tasks.split }}: write tasks.split.output"),
        (
            "Text {{ 1 + 1 }}",
            "cannot understand {{ 1 + 1 }}; use inputs.NAME, tasks.ID.output or item",
        ),
    ],
)
def test_unresolvable_references_raise(template: str, message: str) -> None:
    with pytest.raises(TemplateError) as info:
        render(template, SCOPE)
    assert str(info.value) == message


def test_references_are_parsed() -> None:
    assert references("plain") == []
    assert references("{{ inputs.topic }} and {{ tasks.a.output.x[2].y }} and {{ item }}") == [
        Reference("inputs.topic", "inputs", "topic", ()),
        Reference("tasks.a.output.x[2].y", "tasks", "a", ("x[2]", "y")),
        Reference("item", "item", "", ()),
    ]
    assert references("{{ inputs.rows[0] }}") == [
        Reference("inputs.rows[0]", "inputs", "rows", ("[0]",))
    ]
    assert references("{{ tasks.a.output[3] }}") == [
        Reference("tasks.a.output[3]", "tasks", "a", ("[3]",))
    ]
    (bad,) = references("{{ tasks.a.outputs }}")
    assert bad.error == "{{ tasks.a.outputs }}: write tasks.a.output"
