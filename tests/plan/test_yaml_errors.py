"""Bad workflow files: every problem is reported at once, each with file, line and field."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from podium.exceptions import ConfigError, PlanValidationError
from podium.plan import load_workflow, load_workflow_text

DATA = Path(__file__).parent / "data"
FILE = str(DATA / "inline.yaml")  # not on disk: its folder is where `python:` imports from


def problems(text: str) -> list[tuple[int | None, str, str]]:
    """(line, field, message) of every problem of a workflow text."""
    with pytest.raises(PlanValidationError) as info:
        load_workflow_text(textwrap.dedent(text), path=FILE)
    assert all(p.file == FILE for p in info.value.problems)
    return [(p.line, p.where, p.message) for p in info.value.problems]


# -- YAML syntax ----------------------------------------------------------------------------


def test_a_yaml_syntax_error_names_file_and_line() -> None:
    text = "name: x\ntasks:\n  - id: a\n    needs: [b, c\n  - id: b\n"
    with pytest.raises(ConfigError) as info:
        load_workflow_text(text, path="flow.yaml")
    assert not isinstance(info.value, PlanValidationError)
    assert (info.value.file, info.value.line) == ("flow.yaml", 5)
    assert str(info.value) == (
        "flow.yaml:5: invalid YAML: while parsing a flow sequence (line 4), "
        "expected ',' or ']', but got ':' (column 7)"
    )
    assert info.value.__cause__ is None
    assert info.value.__suppress_context__


def test_a_yaml_syntax_error_without_a_file_still_has_its_line() -> None:
    with pytest.raises(ConfigError) as info:
        load_workflow_text("tasks:\n  a: b: c\n")
    assert info.value.line == 2
    assert str(info.value) == "line 2: invalid YAML: mapping values are not allowed here (column 7)"


def test_a_bad_indent_and_two_documents_are_syntax_errors(tmp_path: Path) -> None:
    path = tmp_path / "two.yaml"
    path.write_text("tasks: []\n---\ntasks: []\n", encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_workflow(path)
    assert str(info.value) == (
        f"{path}:2: invalid YAML: expected a single document in the stream (line 1), "
        "but found another document (column 1)"
    )
    with pytest.raises(ConfigError) as info:
        load_workflow_text("tasks:\n  - id: a\n   agent: w\n", path="indent.yaml")
    assert str(info.value).startswith("indent.yaml:3: invalid YAML:")


def test_an_empty_file_or_a_list_is_not_a_workflow() -> None:
    assert problems("") == [
        (None, "", "a workflow file is a mapping with at least `tasks`; this one is empty")
    ]
    assert problems("# nothing\n- id: a\n") == [
        (2, "", "a workflow file is a mapping with at least `tasks`; this one is a list")
    ]


# -- structure --------------------------------------------------------------------------------


def test_unknown_keys_suggest_the_closest_name() -> None:
    assert problems("""\
        nmae: x
        agents:
          w:
            pyhton: wfhelpers:write
        tasks:
          - id: a
            agent: w
            instructoin: hi
        zzz: 1
        """) == [
        (1, "", "unknown key 'nmae' (did you mean 'name'?)"),
        (
            3,
            "agents.w.model",
            "the agent needs `model: provider:model` or `python: module:function`",
        ),
        (4, "agents.w", "unknown key 'pyhton' (did you mean 'python'?)"),
        (8, "tasks[0]", "unknown key 'instructoin' (did you mean 'instruction'?)"),
        (
            9,
            "",
            "unknown key 'zzz' (expected one of: agents, context, description, executor, "
            "guardrails, inputs, interceptors, mcp_servers, name, output, planner, policy, prices, "
            "router, tasks, tools)",
        ),
    ]


def test_wrong_types_are_reported_per_field() -> None:
    assert problems("""\
        agents:
          w: {python: "wfhelpers:write", max_rounds: 0, capabilities: 3}
        tasks:
          - id: a
            agent: w
            needs: [1]
            retries: -1
            timeout_s: fast
            optional: "yes"
            output_schema: [x]
        """) == [
        (2, "agents.w.capabilities", "should be a valid list, got integer 3"),
        (2, "agents.w.max_rounds", "should be greater than or equal to 1, got integer 0"),
        (6, "tasks[0].needs[0]", "should be a valid string, got integer 1"),
        (7, "tasks[0].retries", "should be greater than or equal to 0, got integer -1"),
        (8, "tasks[0].timeout_s", "should be a valid number, got string 'fast'"),
        (9, "tasks[0].optional", "should be a valid boolean, got string 'yes'"),
        (10, "tasks[0].output_schema", "should be a valid dictionary, got list ['x']"),
    ]


def test_sections_and_bodies_of_the_wrong_shape() -> None:
    assert problems("""\
        name: 3
        inputs: topic
        agents: [w]
        tools: {t: search}
        context: {k: null}
        tasks:
          - just a string
          - id: a
            agent: w
        output: 3
        """) == [
        (1, "name", "must be a non-empty string, got integer 3"),
        (2, "inputs", "must be a mapping of input names to specs, not a string"),
        (3, "agents", "must be a mapping of agent names to agents, not a list"),
        (4, "tools.t", "must be a mapping, not a string"),
        (7, "tasks[0]", "must be a mapping, not a string"),
        (10, "output", "must be a template, a task id or a mapping of templates, not a integer"),
    ]


def test_missing_required_fields() -> None:
    assert problems("""\
        tools:
          t: {effect: read}
        agents:
          neither: {description: nothing drives me}
          both: {model: test, python: "wfhelpers:write"}
        tasks:
          - agent: both
          - id: b
            agent: neither
          - {id: 3, agent: both}
        """) == [
        (2, "tools.t", "give either `python` (MODULE:FUNCTION) or `use` (a standard tool)"),
        (
            4,
            "agents.neither.model",
            ("the agent needs `model: provider:model` or `python: module:function`"),
        ),
        (5, "agents.both.python", "give either `model` or `python`, not both"),
        (7, "tasks[0]", "missing required key 'id'"),
        (10, "tasks[2].id", "should be a valid string, got integer 3"),
    ]


def test_bad_effect_merge_mode_and_reducer() -> None:
    assert problems("""\
        tools:
          t: {python: "wfhelpers:search", effect: delete}
        context:
          k: {merge: concat}
          r: {merge: reduce}
          s: {merge: last, reducer: "wfhelpers:union"}
          u: {merge: reduce, reducer: "wfhelpers:nope"}
        agents: {w: {model: test, tools: [t, tt]}}
        tasks: [{id: a, agent: w}]
        """) == [
        (2, "tools.t.effect", "'delete' is not one of 'read', 'write' or 'irreversible'"),
        (4, "context.k.merge", "'concat' is not one of 'error', 'last', 'append' or 'reduce'"),
        (5, "context.r.reducer", "`merge: reduce` needs `reducer: module:function`"),
        (6, "context.s.reducer", "`reducer` needs `merge: reduce`, not 'last'"),
        (
            7,
            "context.u.reducer",
            (
                "cannot import 'nope' from module 'wfhelpers' (expected one of: notify, search, "
                "split, star_tool, union, write)"
            ),
        ),
        (8, "agents.w.tools[1]", "unknown tool 'tt' (did you mean 't'?)"),
    ]


def test_import_failures() -> None:
    assert problems("""\
        agents:
          a: {python: "nosuchmodule_for_podium:f"}
          b: {python: "wfhelpers:wirte"}
          c: {python: "wfhelpers_broken:f"}
          d: {python: "wfhelpers:NOT_A_FUNCTION"}
          e: {python: "wfhelpers"}
          f: {model: test, tools: [star]}
        tools:
          star: {python: "wfhelpers:star_tool"}
        tasks: [{id: a, agent: a}]
        """) == [
        (
            2,
            "agents.a.python",
            (
                "cannot import module 'nosuchmodule_for_podium': not found in the workflow's "
                "folder, the current folder or the installed packages"
            ),
        ),
        (
            3,
            "agents.b.python",
            "cannot import 'wirte' from module 'wfhelpers' (did you mean 'write'?)",
        ),
        (
            4,
            "agents.c.python",
            ("importing module 'wfhelpers_broken' failed: RuntimeError: boom at import"),
        ),
        (5, "agents.d.python", "'wfhelpers:NOT_A_FUNCTION' is not callable (it is a int)"),
        (6, "agents.e.python", "'wfhelpers' is not a reference of the form module:function"),
        (
            9,
            "tools.star.python",
            (
                "cannot make a tool of 'wfhelpers:star_tool': tool 'star_tool': *args/**kwargs are "
                "not supported"
            ),
        ),
    ]


def test_inputs_names_and_defaults() -> None:
    assert problems("""\
        inputs:
          n: {type: integer, default: many}
          "my topic": {type: text}
          ok: {type: string, default: null}
        agents: {w: {model: test}}
        tasks: [{id: a, agent: w, instruction: "{{ inputs.n }} {{ inputs.ok }}"}]
        """) == [
        (2, "inputs.n.default", "input 'n' must be integer, got 'many'"),
        (3, "inputs.my topic", "invalid input name 'my topic': use letters, digits, _ and -"),
        (
            3,
            "inputs.my topic.type",
            (
                "'text' is not one of 'string', 'integer', 'number', 'boolean', 'array', 'object' "
                "or 'any'"
            ),
        ),
    ]


def test_a_bad_output_schema_and_a_mismatched_id() -> None:
    assert problems("""\
        agents: {w: {model: test}}
        tasks:
          a:
            id: b
            agent: w
            output_schema: {type: 3}
        """) == [
        (4, "tasks.a.id", "id 'b' differs from the task's key 'a'; drop `id` or make them equal"),
        (
            6,
            "tasks.a.output_schema",
            "not a valid JSON Schema: 3 is not valid under any of the given schemas",
        ),
    ]


def test_duplicate_keys_and_names_that_are_not_strings() -> None:
    assert problems("""\
        agents:
          w: {model: test}
          w: {model: test}
        tasks:
          a: {agent: w}
          yes: {agent: w}
        """) == [
        (3, "agents.w", "duplicate key 'w' (first at line 2)"),
        (6, "tasks.True", "names must be strings, not boolean True (quote it)"),
    ]


# -- plan problems, located -------------------------------------------------------------------


def test_the_plan_message_points_at_file_line_and_field() -> None:
    text = textwrap.dedent("""\
        name: research
        inputs:
          topic: {type: string}
        agents:
          researcher: {model: test, capabilities: [research]}
          writer: {model: test}
        tasks:
          gather:
            capability: research
            instruction: Find facts about {{ inputs.topic }}
          summarize:
            agent: writer
            instruction: Summarize
            needs: [gatherr]
        """)
    with pytest.raises(PlanValidationError) as info:
        load_workflow_text(text, path="workflow.yaml")
    assert [str(p) for p in info.value.problems] == [
        "workflow.yaml:14: tasks.summarize.needs: needs unknown task 'gatherr'"
    ]
    assert str(info.value) == (
        "the plan has 1 problem:\n"
        "  - workflow.yaml:14: tasks.summarize.needs: needs unknown task 'gatherr'"
    )


def test_a_cycle_is_named() -> None:
    assert problems("""\
        agents: {w: {model: test}}
        tasks:
          - id: a
            agent: w
            needs: [b]
          - id: b
            agent: w
            needs: [a]
        """) == [(5, "tasks.a.needs", "dependency cycle: a → b → a")]


def test_plan_problems_carry_lines() -> None:
    assert problems("""\
        inputs: [topic]
        agents:
          w: {model: test, capabilities: [writing]}
        tasks:
          - id: a
            agent: ww
          - id: b
            capability: research
          - id: c
            agent: w
            instruction: "{{ inputs.topc }} {{ tasks.a.output }} {{ item }}"
            map: item.x
          - id: a
            agent: w
          - id: bad id
            agent: w
        output: "{{ tasks.zz.output }}"
        """) == [
        (6, "tasks.a.agent", "unknown agent 'ww' (known: w)"),
        (8, "tasks.b.capability", "no agent has capability 'research'"),
        (
            11,
            "tasks.c.instruction",
            ("unbound input 'topc': the workflow declares no such input (declared: ['topic'])"),
        ),
        (
            11,
            "tasks.c.instruction",
            ("references task 'a', which is not upstream of 'c': add it to `needs`"),
        ),
        (12, "tasks.c.map", "`map` must be tasks.ID.output or inputs.NAME, not 'item.x'"),
        (13, "tasks.a.id", "duplicate task id 'a'"),
        (15, "tasks.bad id.id", "invalid task id 'bad id': use letters, digits, _ and -"),
        (17, "output", "references unknown task 'zz'"),
    ]


def test_structure_and_plan_problems_are_reported_together() -> None:
    found = problems("""\
        inputs:
          topic: {type: strng}
        agents:
          w: {model: test, max_rounds: many}
        tools:
          t: {python: "wfhelpers:nothing"}
        context:
          k: {merge: sometimes}
        tasks:
          - id: a
            agent: writer
            needs: [a]
          - id: b
            agnet: w
            needs: [zz]
          - id: c
            agent: w
            retries: two
            needs: [nope]
            instruction: "{{ tasks.b }}"
        output:
          first: "{{ tasks.a.output }}"
          last: "{{ tasks.missing.output }}"
        """)
    assert [(line, where) for line, where, _ in found] == [
        (2, "inputs.topic.type"),
        (4, "agents.w.max_rounds"),
        (6, "tools.t.python"),
        (8, "context.k.merge"),
        (11, "tasks.a.agent"),  # unknown agent 'writer'
        (12, "tasks.a.needs"),  # a → a
        (14, "tasks[1]"),  # unknown key 'agnet'; b's own plan problems would only echo it
        (18, "tasks[2].retries"),
        (19, "tasks.c.needs"),  # the rest of c is still checked
        (20, "tasks.c.instruction"),
        (23, "output.last"),
    ]
    assert found[0][2] == (
        "'strng' is not one of 'string', 'integer', 'number', 'boolean', 'array', 'object' or "
        "'any' (did you mean 'string'?)"
    )
    assert found[5][2] == "dependency cycle: a → a"
    assert found[9][2] == "{{ tasks.b }}: write tasks.b.output"
