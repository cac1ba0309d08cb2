"""Workflow files (YAML) → `Workflow`.

The text is composed into YAML nodes first, so every key keeps its line. Each section is checked
with a small pydantic model (unknown keys are refused with a "did you mean"), ``module:function``
references are imported, and the plan goes through `validate_plan` with a `locate` that knows the
lines. Every problem found on the way is raised at once in one `PlanValidationError`; only a file
that is not YAML at all stops at its first error (a `ConfigError` with its line).
"""

from __future__ import annotations

import os
from pathlib import Path

from podium.exceptions import ConfigError, PlanValidationError, Problem
from podium.plan._task import Plan
from podium.plan._validate import validate_plan
from podium.plan._workflow import Workflow
from podium.plan._yaml_check import _kind, _suggest
from podium.plan._yaml_nodes import JSON, Loc, _compose, _Locator
from podium.plan._yaml_schema import _Body
from podium.plan._yaml_sections import _Sections

# Loc, _Body, _Compiler and _Locator are imported by _planner_file
__all__ = ["Loc", "_Body", "_Compiler", "_Locator", "load_workflow", "load_workflow_text"]

_SECTIONS = (
    "name",
    "description",
    "inputs",
    "agents",
    "tools",
    "context",
    "policy",
    "planner",
    "prices",
    "tasks",
    "output",
)


def load_workflow(path: str | os.PathLike[str], *, require_tasks: bool = True) -> Workflow:
    """Compile a workflow file (with ``require_tasks=False``, an agents file: tasks optional).

    Raises:
        ConfigError: the file cannot be read or is not YAML (with its line).
        PlanValidationError: every problem of the file and its plan, each with file, line, field.
    """
    file = os.fspath(path)
    try:
        text = Path(file).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(
            f"cannot read the workflow file: {exc.strerror or exc}", file=file
        ) from None
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"the workflow file is not UTF-8 text ({exc.reason} at byte {exc.start})", file=file
        ) from None
    return load_workflow_text(text, path=file, require_tasks=require_tasks)


def load_workflow_text(
    text: str, *, path: str | None = None, require_tasks: bool = True
) -> Workflow:
    """Compile a workflow from its YAML text.

    Args:
        text: the YAML.
        path: the file it came from: shown in messages, and its directory is where
            ``python: module:function`` references are imported from (besides the current one).
        require_tasks: ``False`` for an agents file (a team a goal is planned for).

    Raises:
        ConfigError: the text is not YAML (with its line).
        PlanValidationError: every problem of the file and its plan, each with file, line, field.
    """
    data, lines, duplicates = _compose(text, path)
    base_dir = os.path.dirname(os.path.abspath(path)) if path is not None else None
    compiler = _Compiler(path, lines, base_dir)
    for loc, message in duplicates:
        compiler.add(loc, message)
    return compiler.workflow(data, text, require_tasks=require_tasks)


# -- data → Workflow ----------------------------------------------------------------------------


class _Compiler(_Sections):
    """The whole file: its sections, then the plan validated with the file's lines."""

    def workflow(self, data: JSON, text: str, *, require_tasks: bool = True) -> Workflow:
        if not isinstance(data, dict):
            got = "empty" if data is None else f"a {_kind(data)}"
            self.add((), f"a workflow file is a mapping with at least `tasks`; this one is {got}")
            raise PlanValidationError(self.problems)
        for key in data:
            if key not in _SECTIONS:
                self.add((), f"unknown key {key!r}{_suggest(str(key), list(_SECTIONS))}", at=(key,))
        default_name = Path(self.file).stem if self.file else "workflow"
        name = data.get("name", default_name)
        if not isinstance(name, str) or not name:
            self.add(("name",), f"must be a non-empty string, got {_kind(name)} {name!r}")
        if not isinstance(data.get("description", ""), str):
            self.add(("description",), "must be a string")
        inputs, input_names = self.inputs(data.get("inputs"))
        tools = self.tools(data.get("tools"))
        agents, capabilities = self.agents(data.get("agents"), tools)
        context = self.context(data.get("context"))
        policy = self.policy(data.get("policy"))
        prices = self.prices(data.get("prices"))
        plan = Plan(self.tasks(data.get("tasks")), output=self.output(data))
        locate = _Locator(self.file, self.lines, self.task_locs, self.repeats)
        plan_problems = validate_plan(
            plan, agents=capabilities, input_names=input_names, locate=locate
        )
        if not require_tasks and not plan.tasks:  # an agents file: its plan comes from a goal
            plan_problems = [p for p in plan_problems if p.where != "tasks"]
        from podium.plan._planner_file import compile_planner  # it builds on this module

        planner = compile_planner(self, data.get("planner"), capabilities, input_names)
        problems = self.problems + [p for p in plan_problems if not self._echoes(p)]
        if problems:
            problems.sort(key=lambda p: (p.line is None, p.line or 0))
            raise PlanValidationError(problems)
        return Workflow(
            name=name,
            plan=plan,
            agents=tuple(agents),
            inputs=tuple(inputs),
            context=context,
            source_path=os.path.abspath(self.file) if self.file is not None else None,
            source_text=text,
            locate=locate,
            policy=policy,
            planner=planner,
            prices=prices,
        )

    def _echoes(self, problem: Problem) -> bool:
        """Whether a plan problem only repeats a structure problem already reported."""
        if problem.where == "tasks":
            return "" in self.quiet
        if not problem.where.startswith("tasks."):
            return False
        tid, _, field = problem.where.removeprefix("tasks.").rpartition(".")
        for key in (tid, "*"):
            if key in self.quiet:
                fields = self.quiet[key]
                if fields is None or field in fields:
                    return True
        return False
