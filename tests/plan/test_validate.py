"""`validate_plan` on plans built in Python."""

from __future__ import annotations

import pytest

from podium.exceptions import PlanValidationError, Problem
from podium.plan import Plan, Task, check_plan, find_cycles, upstream_of, validate_plan

AGENTS = {"writer": ("writing",), "researcher": ("research", "search")}


def messages(plan: Plan, *, input_names: list[str] | None = None) -> list[tuple[str, str]]:
    return [
        (p.where, p.message) for p in validate_plan(plan, agents=AGENTS, input_names=input_names)
    ]


def test_a_sound_plan_has_no_problems() -> None:
    plan = Plan(
        [
            Task(id="split", agent="writer", instruction="Split {{ inputs.topic }}"),
            Task(
                id="gather",
                capability="research",
                needs=("split",),
                map="tasks.split.output",
                instruction="Answer {{ item.question }}",
            ),
            Task(
                id="report",
                agent="writer",
                needs=("gather",),
                instruction="{{ tasks.gather.output }} and {{ tasks.split.output }}",
            ),
        ],
        output={"report": "{{ tasks.report.output }}", "topic": "{{ inputs.topic }}"},
    )
    assert validate_plan(plan, agents=AGENTS, input_names=["topic"]) == []
    check_plan(plan, agents=AGENTS, input_names=["topic"])  # does not raise


def test_duplicate_ids() -> None:
    plan = Plan([Task(id="a", agent="writer"), Task(id="a", agent="writer")])
    assert messages(plan) == [("tasks.a.id", "duplicate task id 'a'")]


def test_invalid_id_and_empty_plan() -> None:
    assert messages(Plan([Task(id="a b", agent="writer")])) == [
        ("tasks.a b.id", "invalid task id 'a b': use letters, digits, _ and -")
    ]
    assert messages(Plan([])) == [("tasks", "the plan has no tasks")]


def test_unknown_agent_capability_or_neither() -> None:
    plan = Plan(
        [
            Task(id="a", agent="editor"),
            Task(id="b", capability="drawing"),
            Task(id="c"),
            Task(id="d", capability="search"),
        ]
    )
    assert messages(plan) == [
        ("tasks.a.agent", "unknown agent 'editor' (known: researcher, writer)"),
        ("tasks.b.capability", "no agent has capability 'drawing'"),
        ("tasks.c.agent", "names neither an `agent` nor a `capability`"),
    ]


def test_unbound_input() -> None:
    plan = Plan([Task(id="a", agent="writer", instruction="{{ inputs.topic }} {{ inputs.tpoic }}")])
    assert messages(plan, input_names=["topic"]) == [
        (
            "tasks.a.instruction",
            "unbound input 'tpoic': the workflow declares no such input (declared: ['topic'])",
        ),
    ]
    assert messages(plan, input_names=[]) == [
        (
            "tasks.a.instruction",
            "unbound input 'topic': the workflow declares no such input (declared: none)",
        ),
        (
            "tasks.a.instruction",
            "unbound input 'tpoic': the workflow declares no such input (declared: none)",
        ),
    ]
    assert messages(plan, input_names=None) == []  # undeclared inputs: anything goes


def test_references_must_be_upstream() -> None:
    plan = Plan(
        [
            Task(id="a", agent="writer"),
            Task(id="b", agent="writer", needs=("a",)),
            Task(id="c", agent="writer", needs=("b",), instruction="{{ tasks.a.output }}"),
            Task(id="d", agent="writer", instruction="{{ tasks.a.output }} {{ tasks.zz.output }}"),
        ]
    )
    assert messages(plan) == [
        (
            "tasks.d.instruction",
            "references task 'a', which is not upstream of 'd': add it to `needs`",
        ),
        ("tasks.d.instruction", "references unknown task 'zz'"),
    ]


def test_needs_an_unknown_task() -> None:
    plan = Plan([Task(id="a", agent="writer", needs=("b",))])
    assert messages(plan) == [("tasks.a.needs", "needs unknown task 'b'")]


def test_item_needs_a_map() -> None:
    plan = Plan(
        [
            Task(id="a", agent="writer", instruction="{{ item }}"),
            Task(id="b[0]", agent="writer", instruction="{{ item.x }}", parent="b", index=0),
        ]
    )
    assert messages(plan) == [("tasks.a.instruction", "uses {{ item }} but the task has no `map`")]


@pytest.mark.parametrize(
    ("map_", "message"),
    [
        ("item", "`map` must be tasks.ID.output or inputs.NAME, not 'item'"),
        ("split", "`map` must be tasks.ID.output or inputs.NAME, not 'split'"),
        (
            "tasks.s.output }} {{ inputs.x",
            ("`map` must be tasks.ID.output or inputs.NAME, not 'tasks.s.output }} {{ inputs.x'"),
        ),
        ("tasks.s", "{{ tasks.s }}: write tasks.s.output"),
        ("tasks.other.output", "references unknown task 'other'"),
        (
            "inputs.rows",
            "unbound input 'rows': the workflow declares no such input (declared: ['topic'])",
        ),
    ],
)
def test_bad_map_expressions(map_: str, message: str) -> None:
    plan = Plan(
        [
            Task(id="s", agent="writer"),
            Task(id="m", agent="writer", needs=("s",), map=map_),
        ]
    )
    assert messages(plan, input_names=["topic"]) == [("tasks.m.map", message)]


def test_good_map_expressions() -> None:
    plan = Plan(
        [
            Task(id="s", agent="writer"),
            Task(id="m1", agent="writer", needs=("s",), map="tasks.s.output.rows"),
            Task(id="m2", agent="writer", map="inputs.rows", instruction="{{ item }}"),
        ]
    )
    assert messages(plan, input_names=["rows"]) == []


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("{{ tasks.a }}", "{{ tasks.a }}: write tasks.a.output"),
        ("{{ tasks.a.result }}", "{{ tasks.a.result }}: write tasks.a.output"),
        ("{{ 1 + 2 }}", "cannot understand {{ 1 + 2 }}; use inputs.NAME, tasks.ID.output or item"),
        ("{{ inputs }}", "{{ inputs }} names no input"),
        ("{{ inputs[0] }}", "{{ inputs[0] }} names no input"),
        (
            "{{ outputs.a }}",
            ("cannot understand {{ outputs.a }}; use inputs.NAME, tasks.ID.output or item"),
        ),
    ],
)
def test_malformed_templates(template: str, message: str) -> None:
    plan = Plan(
        [
            Task(id="a", agent="writer"),
            Task(id="b", agent="writer", needs=("a",), instruction=f"Use {template} here"),
        ]
    )
    assert messages(plan) == [("tasks.b.instruction", message)]


def test_cycles_are_named_in_run_order() -> None:
    two = Plan(
        [
            Task(id="a", agent="writer", needs=("b",)),
            Task(id="b", agent="writer", needs=("a",)),
        ]
    )
    assert find_cycles(two) == [["a", "b", "a"]]
    assert messages(two) == [("tasks.a.needs", "dependency cycle: a → b → a")]

    three = Plan(
        [
            Task(id="a", agent="writer", needs=("b",)),
            Task(id="b", agent="writer", needs=("c",)),
            Task(id="c", agent="writer", needs=("a",)),
            Task(id="d", agent="writer", needs=("d",)),
        ]
    )
    # a needs b needs c needs a: c can only start after a, b after c, a after b
    assert find_cycles(three) == [["a", "c", "b", "a"], ["d", "d"]]


def test_upstream_is_transitive_and_tolerates_cycles() -> None:
    plan = Plan(
        [
            Task(id="a", agent="writer"),
            Task(id="b", agent="writer", needs=("a",)),
            Task(id="c", agent="writer", needs=("b", "x")),
            Task(id="d", agent="writer", needs=("e",)),
            Task(id="e", agent="writer", needs=("d",)),
        ]
    )
    up = upstream_of(plan)
    assert up["a"] == set()
    assert up["c"] == {"a", "b"}
    assert up["d"] == {"e"}


def test_retries_timeout_and_schema() -> None:
    plan = Plan(
        [
            Task(id="a", agent="writer", retries=-1, timeout_s=0, output_schema={"type": 3}),
        ]
    )
    assert messages(plan) == [
        ("tasks.a.retries", "must be 0 or more"),
        ("tasks.a.timeout_s", "must be positive"),
        ("tasks.a.output_schema", "`type` must be a string"),
    ]


def test_output_references() -> None:
    tasks = [Task(id="a", agent="writer")]
    assert messages(Plan(tasks, output="a")) == []
    assert messages(Plan(tasks, output="b")) == [("output", "references unknown task 'b'")]
    assert messages(Plan(tasks, output="{{ tasks.a.output }}")) == []
    assert messages(Plan(tasks, output="{{ inputs.x }}"), input_names=[]) == [
        ("output", "unbound input 'x'")
    ]
    assert messages(Plan(tasks, output="{{ tasks.a }}")) == [
        ("output", "{{ tasks.a }}: write tasks.a.output")
    ]


def test_mapping_outputs_are_checked_too() -> None:
    plan = Plan(
        [Task(id="a", agent="writer")],
        output={
            "ok": "{{ tasks.a.output }}",
            "literal": "a",  # a plain string in a mapping is text, not a task id
            "bad": "{{ tasks.zz.output }}",
            "nested": {"rows": ["{{ item }}", 3]},
        },
    )
    assert messages(plan) == [
        ("output.bad", "references unknown task 'zz'"),
        ("output.nested.rows[0]", "uses {{ item }}, which only a mapped task has"),
    ]


def test_locate_gives_file_and_line() -> None:
    calls: list[tuple[str, str]] = []

    def locate(task: str, field: str) -> tuple[str | None, int | None]:
        calls.append((task, field))
        return "plan.yaml", 7

    plan = Plan([Task(id="a", agent="nobody")], output="zz")
    found = validate_plan(plan, agents=AGENTS, locate=locate)
    assert calls == [("a", "agent"), ("", "output")]
    assert found[0] == Problem(
        "unknown agent 'nobody' (known: researcher, writer)",
        where="tasks.a.agent",
        file="plan.yaml",
        line=7,
    )
    assert str(found[1]) == "plan.yaml:7: output: references unknown task 'zz'"


def test_check_plan_raises_every_problem() -> None:
    plan = Plan([Task(id="a", agent="nobody", needs=("zz",))])
    with pytest.raises(PlanValidationError) as info:
        check_plan(plan, agents=AGENTS)
    assert len(info.value.problems) == 2
    assert str(info.value) == (
        "the plan has 2 problems:\n"
        "  - tasks.a.agent: unknown agent 'nobody' (known: researcher, writer)\n"
        "  - tasks.a.needs: needs unknown task 'zz'"
    )
