"""`podium validate` (and load) catch template mistakes, each at file:line:field; agents files
validate on their own."""

from __future__ import annotations

from pathlib import Path

import pytest

from podium.exceptions import PlanValidationError
from podium.plan import load_workflow
from podium.plan._template_check import brace_problems

from ..cli.helpers import invoke

HEAD = """\
name: t
inputs: {x: {type: string}}
agents:
  w: {description: writes, python: "os.path:join"}
tasks:
  - id: a
    agent: w
    instruction: Find a person
    output_schema:
      type: object
      properties:
        name: {type: string}
        tags: {type: array, items: {type: object, properties: {label: {type: string}}}}
  - id: b
    agent: w
    needs: [a]
"""


def problems(tmp_path: Path, instruction: str) -> list[str]:
    path = tmp_path / "wf.yaml"
    path.write_text(HEAD + f"    instruction: {instruction!r}\n", encoding="utf-8")
    with pytest.raises(PlanValidationError) as caught:
        load_workflow(path, import_code=False)
    return [f"{p.line}:{p.where}: {p.message}" for p in caught.value.problems]


@pytest.mark.parametrize(
    ("instruction", "expected"),
    [
        ("Greet {{ inputs.x }", "'{{ inputs.x }' needs '}}'"),
        ("Greet { tasks.a.output }}", "'{ tasks.a.output }}' needs '{{'"),
        ("Greet {{ inputs.x", "'{{ inputs.x' is never closed"),
        ("Greet {{ tasks.a.output.nme }}", "has no field 'nme' (did you mean 'name'?)"),
        ("Greet {{ tasks.a.output.tags[0].lable }}", "no field 'lable' (did you mean 'label'?)"),
        ("Greet {{ inputs.x | upper }}", "templates have no filters ('|'); write {{ inputs.x }}"),
    ],
)
def test_a_template_mistake_is_reported_at_its_line(
    tmp_path: Path, instruction: str, expected: str
) -> None:
    [found] = problems(tmp_path, instruction)
    assert found.startswith("17:tasks.b.instruction: ")
    assert expected in found


def test_correct_templates_and_json_braces_pass(tmp_path: Path) -> None:
    path = tmp_path / "wf.yaml"
    good = 'Greet {{ tasks.a.output.name }}, {{ tasks.a.output.tags[0].label }} as {"a": {"b": 1}}'
    path.write_text(HEAD + f"    instruction: {good!r}\n", encoding="utf-8")
    assert len(load_workflow(path, import_code=False).plan) == 2
    assert brace_problems("{{ item.x }} and {{ inputs.y }}") == []


def test_validate_names_the_file_line_and_field(tmp_path: Path) -> None:
    path = tmp_path / "wf.yaml"
    path.write_text(HEAD + "    instruction: 'Hi {{ tasks.a.output.nme }}'\n", encoding="utf-8")
    result = invoke("validate", path)
    assert result.exit_code != 0
    assert f"{path}:17: tasks.b.instruction:" in result.stderr + result.stdout
    assert "did you mean 'name'?" in result.stderr + result.stdout


def test_an_agents_file_validates_on_its_own(tmp_path: Path) -> None:
    path = tmp_path / "team.yaml"
    path.write_text(
        "name: team\nagents:\n  w: {description: writes, python: 'os.path:join'}\n"
        "  r: {description: reads, python: 'os.path:join'}\n",
        encoding="utf-8",
    )
    result = invoke("validate", path)
    assert result.exit_code == 0, result.stderr
    assert "ok: agents file, 2 agents" in result.stdout
    empty = tmp_path / "empty.yaml"
    empty.write_text("name: nothing\n", encoding="utf-8")
    result = invoke("validate", empty)
    assert result.exit_code != 0
    assert "no tasks and no agents" in result.stderr + result.stdout
