"""The ``interceptors`` section of a workflow file: import paths, made when the file is loaded."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from podium import Orchestrator
from podium.exceptions import PlanValidationError
from podium.plan import load_workflow

MODULE = """
SEEN = []


class Timings:
    def __init__(self, label="first"):
        self.label = label

    async def execute(self, call, next):
        SEEN.append((self.label, call.input.task.id))
        return await next(call)


def refuses(**_):
    raise ValueError("no settings file")


class Plain:
    pass


async def work(call):
    return "done"
"""

HEAD = "name: audited\nagents:\n  w: {python: 'audited_mod:work'}\n"
TASKS = "tasks:\n  - {id: a, agent: w}\n"


@pytest.fixture
def folder(tmp_path: Path) -> Iterator[Path]:
    (tmp_path / "audited_mod.py").write_text(MODULE)
    yield tmp_path
    sys.modules.pop("audited_mod", None)


def write(folder: Path, section: str) -> Path:
    path = folder / "flow.yaml"
    path.write_text(HEAD + section + TASKS)
    return path


@pytest.mark.anyio
async def test_a_file_adds_interceptors_that_wrap_its_attempts(folder: Path) -> None:
    path = write(
        folder,
        "interceptors:\n"
        "  - audited_mod:Timings\n"
        "  - {python: 'audited_mod:Timings', args: {label: second}}\n",
    )
    workflow = load_workflow(path)
    assert [i.label for i in workflow.interceptors] == ["first", "second"]
    async with Orchestrator(store="memory://") as orch:
        result = await orch.run(workflow)
    assert result.status == "succeeded"
    assert sys.modules["audited_mod"].SEEN == [("first", "a"), ("second", "a")]  # outer first


def test_checking_a_file_makes_no_interceptor(folder: Path) -> None:
    path = write(folder, "interceptors: [audited_mod:Timings]\n")
    workflow = load_workflow(path, import_code=False)
    assert workflow.interceptors == ()
    assert "audited_mod" not in sys.modules


@pytest.mark.parametrize(
    ("section", "problem"),
    [
        ("interceptors: audited_mod:Timings\n", "flow.yaml:4: interceptors: must be a list"),
        (
            "interceptors:\n  - audited_mod:Timing\n",
            "flow.yaml:5: interceptors[0]: cannot import 'Timing' from module 'audited_mod'"
            " (did you mean 'Timings'?)",
        ),
        (
            "interceptors:\n  - {python: 'audited_mod:Timings', arg: {}}\n",
            "flow.yaml:5: interceptors[0]: unknown key 'arg'",
        ),
        (
            "interceptors:\n  - {python: 'audited_mod:refuses'}\n",
            "flow.yaml:5: interceptors[0]: making the interceptor 'audited_mod:refuses' failed:"
            " ValueError: no settings file",
        ),
        (
            "interceptors:\n  - audited_mod:Plain\n",
            "flow.yaml:5: interceptors[0]: 'audited_mod:Plain' made a Plain, which is not an"
            " interceptor",
        ),
    ],
)
def test_a_bad_interceptor_says_where(folder: Path, section: str, problem: str) -> None:
    with pytest.raises(PlanValidationError) as caught:
        load_workflow(write(folder, section))
    assert problem in str(caught.value)
