"""Task kinds: capability (or agent) plus a short normalised signature of the instruction."""

from __future__ import annotations

from podium.plan import Task
from podium.routing import instruction_signature, task_kind
from podium.routing._kind import base_of, kind_base


def test_signature_is_four_sorted_content_stems_without_templates() -> None:
    text = "Summarise the findings about {{ inputs.topic }} in a short report for the board"
    assert instruction_signature(text) == "find+report+short+summariz"


def test_signature_ignores_word_order_case_inputs_and_word_forms() -> None:
    kinds = {
        instruction_signature("Translate the abstract into {{ inputs.lang }}"),
        instruction_signature("TRANSLATING abstracts into {{ inputs.language }}!"),
        instruction_signature("abstract: translate it, into {{ x }}"),
    }
    assert kinds == {"abstract+translat"}


def test_signature_of_an_empty_or_numeric_instruction_is_empty() -> None:
    assert instruction_signature("") == ""
    assert instruction_signature("{{ tasks.a.output }} 2024 42") == ""


def test_kind_is_base_slash_signature() -> None:
    cap = Task(id="a", capability="write", instruction="Draft the release notes")
    fixed = Task(id="b", agent="writer", instruction="Draft the release notes")
    loose = Task(id="c", instruction="Draft the release notes")
    assert task_kind(cap) == "write/draft+not+releas"
    assert task_kind(fixed) == "@writer/draft+not+releas"
    assert task_kind(loose) == "*/draft+not+releas"
    assert task_kind(Task(id="d", capability="write")) == "write/"
    assert kind_base(cap) == "write"


def test_map_items_and_inputs_share_one_kind() -> None:
    parent = Task(
        id="n", capability="notes", instruction="Take notes on {{ item }}", map="inputs.x"
    )
    child = Task(id="n[3]", capability="notes", instruction=parent.instruction, item="tides")
    assert task_kind(parent) == task_kind(child) == "notes/not+tak"


def test_base_of_a_capability_with_a_slash() -> None:
    kind = task_kind(Task(id="a", capability="team/writing", instruction="Draft"))
    assert kind == "team/writing/draft"
    assert base_of(kind) == "team/writing"
    assert base_of(task_kind(Task(id="a", capability="team/writing"))) == "team/writing"
