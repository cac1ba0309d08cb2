"""Workflow files (YAML) → `Workflow`.

The text is composed into YAML nodes first, within limits (`_yaml_compose`), so every key keeps
its line. Each section is checked with a small pydantic model (unknown keys are refused with a
"did you mean"), ``module:function`` references are imported (or only looked up, to check a file
without running its code), and the plan goes through `validate_plan` with a `locate` that knows
the lines. Every problem found on the way is raised at once in one `PlanValidationError`; only a
file that is not YAML at all, or passes a limit, stops at its first error (a `ConfigError` with
its line).
"""

from __future__ import annotations

import codecs
import os
from collections.abc import Collection, Mapping
from pathlib import Path

from podium._allowed_modules import AllowedModules, allowed_from
from podium.exceptions import ConfigError, PlanValidationError, Problem
from podium.plan._planner_file import compile_planner
from podium.plan._references import Importer, References, SourceLookup
from podium.plan._scopes import scope_problems
from podium.plan._task import Plan
from podium.plan._validate import validate_plan
from podium.plan._workflow import Workflow
from podium.plan._yaml_check import Checker, Resolver, kind_of, suggest
from podium.plan._yaml_code import check_code
from podium.plan._yaml_compose import MAX_FILE_SIZE, _size
from podium.plan._yaml_guardrails import compile_guardrails
from podium.plan._yaml_mcp import compile_mcp_servers
from podium.plan._yaml_nodes import JSON, Loc, _compose, _Locator
from podium.plan._yaml_router import compile_router
from podium.plan._yaml_sections import (
    Capabilities,
    compile_agents,
    compile_context,
    compile_executor,
    compile_inputs,
    compile_interceptors,
    compile_output,
    compile_policy,
    compile_prices,
    compile_tools,
)
from podium.plan._yaml_tasks import Echoes, TaskSection

__all__ = ["load_workflow", "load_workflow_text"]

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
    "executor",
    "router",
    "interceptors",
    "guardrails",
    "mcp_servers",
    "tasks",
    "output",
)
_OTHER_BOMS = (
    (codecs.BOM_UTF32_LE, "UTF-32"),  # before UTF-16's, which it starts with
    (codecs.BOM_UTF32_BE, "UTF-32"),
    (codecs.BOM_UTF16_LE, "UTF-16"),
    (codecs.BOM_UTF16_BE, "UTF-16"),
)
_MAX_PROBLEMS = 100  # listed at most; past them, how many more there are


def load_workflow(
    path: str | os.PathLike[str],
    *,
    require_tasks: bool = True,
    import_code: bool = True,
    allowed_modules: Collection[str] | None = None,
) -> Workflow:
    """Compile a workflow file (with ``require_tasks=False``, an agents file: tasks optional).

    ``python: module:function`` references import their modules, which runs the modules'
    top-level code; with ``import_code=False`` nothing is imported, and `allowed_modules`
    restricts which modules may be named (see `load_workflow_text`).

    Raises:
        ConfigError: the file cannot be read, is not YAML or passes a limit of the format (at
            most 4 MiB, lists and mappings nested at most 64 deep, 250,000 nodes with aliases
            expanded), with its line.
        PlanValidationError: every problem of the file and its plan, each with file, line, field.
    """
    file = os.fspath(path)
    text = _read(file)
    return load_workflow_text(
        text,
        path=file,
        require_tasks=require_tasks,
        import_code=import_code,
        allowed_modules=allowed_modules,
    )


def _read(file: str) -> str:
    """The file's text: at most `MAX_FILE_SIZE` bytes of UTF-8."""
    try:
        with open(file, "rb") as stream:
            data = stream.read(MAX_FILE_SIZE + 1)  # a larger file is not read to its end
    except OSError as exc:
        raise ConfigError(
            f"cannot read the workflow file: {exc.strerror or exc}", file=file
        ) from None
    if len(data) > MAX_FILE_SIZE:
        raise ConfigError(
            f"the workflow file is larger than {_size(MAX_FILE_SIZE)} (it passes it on this line)",
            file=file,
            line=data.count(b"\n", 0, MAX_FILE_SIZE) + 1,
        )
    for bom, encoding in _OTHER_BOMS:
        if data.startswith(bom):
            raise ConfigError(
                f"the workflow file is not UTF-8 text (it starts with the byte-order mark of "
                f"{encoding}): save it as UTF-8",
                file=file,
            )
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        column = exc.start - data.rfind(b"\n", 0, exc.start)
        raise ConfigError(
            f"the workflow file is not UTF-8 text ({exc.reason} at byte {exc.start}: line "
            f"{line}, column {column})",
            file=file,
        ) from None


def load_workflow_text(
    text: str,
    *,
    path: str | None = None,
    require_tasks: bool = True,
    import_code: bool = True,
    allowed_modules: Collection[str] | None = None,
) -> Workflow:
    """Compile a workflow from its YAML text.

    Args:
        text: the YAML.
        path: the file it came from: shown in messages, and its directory is where
            ``python: module:function`` references are imported from (besides the current one).
        require_tasks: ``False`` for an agents file (a team a goal is planned for).
        import_code: ``False`` to check the file without running any of its code: each
            ``python:`` reference is looked up in its module's source (found as an import would
            find it, defined at the module's top level) instead of imported, and compiles to a
            stand-in that raises `ConfigError` when called. Such a workflow is for checking
            (``podium validate``), not for running.
        allowed_modules: the only modules references may name (each with its submodules;
            empty: no Python code at all). ``None``: ``PODIUM_ALLOWED_MODULES`` decides, and
            when it is unset any module may be. A reference outside the list is a problem of
            the file, found before its module is imported; so are an MCP server's ``command``
            and a Ray ``runtime_env``, which would run code the list does not cover.

    Raises:
        ConfigError: the text is not YAML or passes a limit of the format (with its line), or
            the allow-list is malformed.
        PlanValidationError: every problem of the file and its plan, each with file, line, field.
    """
    allowed = allowed_from(allowed_modules)
    data, lines, duplicates = _compose(text, path)
    base_dir = os.path.dirname(os.path.abspath(path)) if path is not None else None
    references = Importer(base_dir, allowed) if import_code else SourceLookup(base_dir, allowed)
    compiler = _Compiler(path, lines, references, allowed)
    for loc, message in duplicates:
        compiler.check.add(loc, message)
    return compiler.workflow(data, text, require_tasks=require_tasks)


# -- data → Workflow ----------------------------------------------------------------------------


class _Compiler:
    """The whole file: each section compiled by its part, then the plan validated with the
    file's lines. Every part adds its problems to one `Checker`."""

    def __init__(
        self,
        file: str | None,
        lines: Mapping[Loc, int],
        references: References,
        allowed: AllowedModules | None = None,
    ) -> None:
        self.check = Checker(file, lines)
        self.allowed = allowed
        self.resolve = Resolver(self.check, references)
        self.runs_code = isinstance(references, Importer)  # else MCP servers are not contacted
        self.base_dir = os.path.dirname(os.path.abspath(file)) if file is not None else None
        self.echoes = Echoes()
        self.tasks = TaskSection(self.check, self.echoes)

    def workflow(self, data: JSON, text: str, *, require_tasks: bool = True) -> Workflow:
        check, resolve = self.check, self.resolve
        if not isinstance(data, dict):
            got = "empty" if data is None else f"a {kind_of(data)}"
            check.add((), f"a workflow file is a mapping with at least `tasks`; this one is {got}")
            raise PlanValidationError(check.problems)
        name = self._header(data)
        inputs, input_names = compile_inputs(check, data.get("inputs"))
        tools = compile_tools(check, resolve, data.get("tools"))
        compile_mcp_servers(
            check,
            data.get("mcp_servers"),
            tools,
            connect=self.runs_code,
            base_dir=self.base_dir,
            allowed=self.allowed,
        )
        agents, capabilities = compile_agents(
            check, resolve, self.echoes, data.get("agents"), tools
        )
        context = compile_context(check, resolve, data.get("context"))
        policy = compile_policy(check, data.get("policy"))
        prices = compile_prices(check, data.get("prices"))
        executor = compile_executor(check, data.get("executor"), capabilities)
        interceptors = compile_interceptors(check, resolve, data.get("interceptors"))
        guardrails = compile_guardrails(check, resolve, data.get("guardrails"))
        router = compile_router(check, data.get("router"))
        if self.allowed is not None:
            check_code(check, resolve, data, self.allowed)
        plan, locate, plan_problems = self._plan(data, capabilities, input_names, require_tasks)
        plan_problems += scope_problems(plan, {a.name: a for a in agents}, locate)
        planner = compile_planner(self.tasks, data.get("planner"), capabilities, input_names)
        self._raise_problems(plan_problems)
        file = check.file
        return Workflow(
            name=name,
            plan=plan,
            agents=tuple(agents),
            inputs=tuple(inputs),
            context=context,
            source_path=os.path.abspath(file) if file is not None else None,
            source_text=text,
            locate=locate,
            policy=policy,
            planner=planner,
            prices=prices,
            executor=executor,
            interceptors=tuple(interceptors),
            router=router,
            guardrails=tuple(guardrails),
        )

    def _header(self, data: Mapping[str, JSON]) -> str:
        """The workflow's name (default: the file's), its top-level keys and description
        checked."""
        check = self.check
        for key in data:
            if key not in _SECTIONS:
                check.add((), f"unknown key {key!r}{suggest(str(key), list(_SECTIONS))}", at=(key,))
        default_name = Path(check.file).stem if check.file else "workflow"
        name = data.get("name", default_name)
        if not isinstance(name, str) or not name:
            check.add(("name",), f"must be a non-empty string, got {kind_of(name)} {name!r}")
        if not isinstance(data.get("description", ""), str):
            check.add(("description",), "must be a string")
        return name if isinstance(name, str) else ""  # not a string: reported, never used

    def _plan(
        self,
        data: Mapping[str, JSON],
        capabilities: Capabilities,
        input_names: set[str] | None,
        require_tasks: bool,
    ) -> tuple[Plan, _Locator, list[Problem]]:
        """The plan, its `Locate` and what `validate_plan` finds wrong with it."""
        plan = Plan(self.tasks.compile(data.get("tasks")), output=compile_output(self.check, data))
        locate = self.tasks.locator()
        problems = validate_plan(plan, agents=capabilities, input_names=input_names, locate=locate)
        if not require_tasks and not plan.tasks:  # an agents file: its plan comes from a goal
            problems = [p for p in problems if p.where != "tasks"]
        return plan, locate, problems

    def _raise_problems(self, plan_problems: list[Problem]) -> None:
        """Raise every problem of the file at once, by line, if there is any."""
        problems = self.check.problems + [p for p in plan_problems if not self.echoes(p)]
        if problems:
            problems.sort(key=lambda p: (p.line is None, p.line or 0))
            raise PlanValidationError(_shown(problems, self.check.file))


def _shown(problems: list[Problem], file: str | None) -> list[Problem]:
    if len(problems) <= _MAX_PROBLEMS:
        return problems
    more = len(problems) - _MAX_PROBLEMS
    summary = Problem(f"… and {more:,} more problems", file=file)
    return [*problems[:_MAX_PROBLEMS], summary]
