"""Workflow files (YAML) → `Workflow`.

The text is composed into YAML nodes first, so every key keeps its line. Each section is checked
with a small pydantic model (unknown keys are refused with a "did you mean"), ``module:function``
references are imported, and the plan goes through `validate_plan` with a `locate` that knows the
lines. Every problem found on the way is raised at once in one `PlanValidationError`; only a file
that is not YAML at all stops at its first error (a `ConfigError` with its line).
"""

from __future__ import annotations

import difflib
import importlib
import os
import re
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

import pydantic
import yaml

from podium.agents import Agent
from podium.agents._handoff import DEFAULT_MAX_HANDOFFS
from podium.context import ContextPolicy, MergePolicy
from podium.exceptions import ConfigError, PlanValidationError, Problem
from podium.models._prices import Price, parse_price
from podium.plan._task import Plan, Task
from podium.plan._validate import validate_plan
from podium.plan._workflow import InputSpec, Workflow
from podium.policy import Policy
from podium.reliability._budget import Budget
from podium.reliability._retry import RetryPolicy
from podium.tools import Tool
from podium.verify import check_schema

JSON = Any
Loc = tuple[Any, ...]
"""A path into the file: mapping keys and list indexes, e.g. ``("tasks", 2, "needs")``."""

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_\-]*$")
_WHERE_PART = re.compile(r"\[(\d+)\]|[^.\[\]]+")
_SUBTASK = re.compile(r"\[\d+\]$")
_MERGE_TAG = "tag:yaml.org,2002:merge"
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


def _one_or_many(value: JSON) -> JSON:
    return [value] if isinstance(value, str) else value


_Names = Annotated[list[str], pydantic.BeforeValidator(_one_or_many)]


class _Body(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid", strict=True, frozen=True)


class _InputBody(_Body):
    type: Literal["string", "integer", "number", "boolean", "array", "object", "any"] = "any"
    description: str = ""
    default: JSON = None


class _ToolBody(_Body):
    python: str
    effect: Literal["read", "write", "irreversible"] = "read"
    description: str | None = None


class _RetryBody(_Body):
    attempts: int = pydantic.Field(3, ge=1)
    backoff_s: float = pydantic.Field(1.0, ge=0)
    max_backoff_s: float = pydantic.Field(60.0, ge=0)
    multiplier: float = pydantic.Field(2.0, ge=1)
    jitter: float = pydantic.Field(0.2, ge=0, le=1)
    on: _Names = []

    @pydantic.model_validator(mode="before")
    @classmethod
    def _yaml_on(cls, data: JSON) -> JSON:
        # YAML 1.1 reads a bare `on` key as the boolean true
        if isinstance(data, dict) and True in data and "on" not in data:
            return {("on" if k is True else k): v for k, v in data.items()}
        return data

    def policy(self) -> RetryPolicy:
        return RetryPolicy(**{**self.model_dump(), "on": tuple(self.on)})


class _BudgetBody(_Body):
    tokens: int | None = pydantic.Field(None, ge=0)
    usd: float | None = pydantic.Field(None, ge=0)
    wall_s: float | None = pydantic.Field(None, ge=0)
    steps: int | None = pydantic.Field(None, ge=0)
    fallback_model: str | None = None
    fallback_below: float = pydantic.Field(0.2, ge=0, le=1)
    output_estimate: int = pydantic.Field(256, ge=0)


class _AgentBody(_Body):
    description: str = ""
    capabilities: _Names = []
    model: str | None = None
    python: str | None = None
    tools: _Names = []
    instructions: str = ""
    max_rounds: int = pydantic.Field(8, ge=1)
    max_concurrency: int | None = pydantic.Field(None, ge=1)
    metadata: dict[str, JSON] = {}  # e.g. cost_tier, expected_cost_usd (read by the router)
    retry: _RetryBody | None = None
    backups: _Names = []
    handoffs: _Names = []
    max_handoffs: int = pydantic.Field(DEFAULT_MAX_HANDOFFS, ge=0)


class _ContextBody(_Body):
    merge: Literal["error", "last", "append", "reduce"] = "error"
    reducer: str | None = None


class _TaskBody(_Body):
    id: str | None = None
    instruction: str = ""
    agent: str | None = None
    capability: str | None = None
    needs: _Names = []
    reads: _Names = []
    optional: bool = False
    map: str | None = None
    output_schema: dict[str, JSON] | None = None
    retries: int = pydantic.Field(0, ge=0)
    timeout_s: float | None = pydantic.Field(None, gt=0)
    risk: Literal["low", "medium", "high"] | None = None
    approval: Literal["required"] | None = None
    retry: _RetryBody | None = None
    backups: _Names = []
    budget: _BudgetBody | None = None


class _PolicyBody(_Body):
    approve_effects: list[Literal["read", "write", "irreversible"]] = ["irreversible"]
    approve_risks: list[Literal["low", "medium", "high"]] = ["high"]
    min_confidence: float | None = pydantic.Field(None, ge=0, le=1)
    approval_ttl_s: float | None = pydantic.Field(None, gt=0)


_B = TypeVar("_B", bound=_Body)


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


# -- YAML → data and lines ------------------------------------------------------------------


def _compose(text: str, file: str | None) -> tuple[JSON, dict[Loc, int], list[tuple[Loc, str]]]:
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        lines: dict[Loc, int] = {}
        duplicates: list[tuple[Loc, str]] = []
        if node is None:
            return None, lines, duplicates
        # index before constructing: construction rewrites merge keys (<<) in place
        _index(loader, node, (), lines=lines, duplicates=duplicates, active=set())
        return loader.construct_document(node), lines, duplicates
    except yaml.MarkedYAMLError as exc:
        raise _yaml_error(exc, file) from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"invalid YAML: {exc}", file=file) from None
    finally:
        loader.dispose()


def _index(
    loader: yaml.SafeLoader,
    node: yaml.Node,
    loc: Loc,
    *,
    lines: dict[Loc, int],
    duplicates: list[tuple[Loc, str]],
    active: set[int],
) -> None:
    """Record the line of every key and list item; report keys given twice."""
    lines.setdefault(loc, node.start_mark.line + 1)
    if id(node) in active:  # a recursive alias
        return
    active.add(id(node))
    if isinstance(node, yaml.MappingNode):
        first: dict[Any, int] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag == _MERGE_TAG:
                continue
            key = loader.construct_object(key_node)
            line = key_node.start_mark.line + 1
            if key in first:
                duplicates.append(
                    (
                        (*loc, key),
                        f"duplicate key {key!r} (first at line {first[key]})",
                    )
                )
            first.setdefault(key, line)
            lines[(*loc, key)] = line
            _index(
                loader, value_node, (*loc, key), lines=lines, duplicates=duplicates, active=active
            )
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            lines[(*loc, i)] = item.start_mark.line + 1
            _index(loader, item, (*loc, i), lines=lines, duplicates=duplicates, active=active)
    active.discard(id(node))


def _yaml_error(exc: yaml.MarkedYAMLError, file: str | None) -> ConfigError:
    mark = exc.problem_mark or exc.context_mark
    line = mark.line + 1 if mark is not None else None
    message = "invalid YAML: "
    if exc.context and exc.problem:  # e.g. "while parsing a flow sequence", "expected ..."
        started = exc.context_mark
        message += exc.context + (f" (line {started.line + 1}), " if started else ", ")
    message += exc.problem or exc.context or "unreadable"
    if mark is not None:
        message += f" (column {mark.column + 1})"
    if file is None and line is not None:
        message = f"line {line}: {message}"
    return ConfigError(message, file=file, line=line)


def _line(lines: Mapping[Loc, int], loc: Loc) -> int | None:
    """The line of `loc`, or of its nearest ancestor in the file."""
    for end in range(len(loc), -1, -1):
        line = lines.get(loc[:end])
        if line is not None:
            return line
    return None


def _where(loc: Loc) -> str:
    out = ""
    for part in loc:
        index = isinstance(part, int) and not isinstance(part, bool)
        out += f"[{part}]" if index else (f".{part}" if out else str(part))
    return out


def _kind(value: JSON) -> str:
    kinds = {
        str: "string",
        bool: "boolean",
        int: "integer",
        float: "number",
        list: "list",
        dict: "mapping",
        type(None): "null",
    }
    return kinds.get(type(value), type(value).__name__)


def _suggest(word: str, choices: list[str]) -> str:
    close = difflib.get_close_matches(word, choices, n=1)
    if close:
        return f" (did you mean {close[0]!r}?)"
    return f" (expected one of: {', '.join(sorted(choices)) or 'none'})"


@dataclass(frozen=True, slots=True)
class _Locator:
    """`Locate` for a compiled file: (task id, field) → (file, line)."""

    file: str | None
    lines: Mapping[Loc, int]
    tasks: Mapping[str, Loc]
    repeats: Mapping[str, Loc]  # the last occurrence of a task id given more than once

    def __call__(self, task: str, field: str) -> tuple[str | None, int | None]:
        parts: Loc = tuple(
            int(i) if i else name
            for i, name in ((m.group(1), m.group(0)) for m in _WHERE_PART.finditer(field))
        )
        if not task:
            return self.file, _line(self.lines, parts)
        base = self.repeats.get(task) if field == "id" else None
        base = base or self.tasks.get(task) or self.tasks.get(_SUBTASK.sub("", task))
        if base is None:
            return self.file, None
        return self.file, _line(self.lines, (*base, *parts))


# -- data → Workflow ----------------------------------------------------------------------------


class _Compiler:
    def __init__(self, file: str | None, lines: Mapping[Loc, int], base_dir: str | None) -> None:
        self.file = file
        self.lines = lines
        self.base_dir = base_dir
        self.problems: list[Problem] = []
        self.task_locs: dict[str, Loc] = {}
        self.repeats: dict[str, Loc] = {}
        # task id → its fields whose plan problems would only echo a structure problem (None:
        # all of them); "*" stands for every task, "" for the `tasks` section itself
        self.quiet: dict[str, set[str] | None] = {}

    def add(self, loc: Loc, message: str, *, at: Loc | None = None) -> None:
        """A problem about `loc`, shown on the line of `at` (default: `loc`)."""
        line = _line(self.lines, loc if at is None else at)
        self.problems.append(Problem(message, where=_where(loc), file=self.file, line=line))

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

    # -- helpers

    def entries(self, raw: JSON, loc: Loc, what: str) -> list[tuple[str, JSON]] | None:
        """The (name, body) pairs of a mapping section; ``None`` (reported) if it is not one."""
        if raw is None:
            return []
        if not isinstance(raw, dict):
            self.add(loc, f"must be a mapping of {what}, not a {_kind(raw)}")
            return None
        out = []
        for key, body in raw.items():
            if isinstance(key, str):
                out.append((key, body))
            else:
                self.add((*loc, key), f"names must be strings, not {_kind(key)} {key!r} (quote it)")
        return out

    def model(self, cls: type[_B], body: JSON, loc: Loc) -> _B | None:
        return self.checked(cls, body, loc)[0]

    def checked(self, cls: type[_B], body: JSON, loc: Loc) -> tuple[_B | None, set[str]]:
        """`body` checked against `cls`, and the keys that had errors (all reported).

        Without its faulty keys the body is checked again, so that the rest of it can still be
        compiled and checked; ``None`` when even that fails.
        """
        if body is None:
            body = {}
        if not isinstance(body, dict):
            self.add(loc, f"must be a mapping, not a {_kind(body)}")
            return None, set()
        try:
            return cls.model_validate(body), set()
        except pydantic.ValidationError as exc:
            errors = exc.errors(include_url=False)
        for err in errors:
            self._pydantic_error(err, loc, list(cls.model_fields))
        bad = {str(err["loc"][0]) for err in errors if err["loc"]}
        try:
            return cls.model_validate({k: v for k, v in body.items() if k not in bad}), bad
        except pydantic.ValidationError:
            return None, bad

    def _pydantic_error(self, err: Any, loc: Loc, fields: list[str]) -> None:
        where = (*loc, *err["loc"])
        kind, value = err["type"], err.get("input")
        if kind == "extra_forbidden":
            key = str(err["loc"][-1])
            self.add(where[:-1], f"unknown key {key!r}{_suggest(key, fields)}", at=where)
        elif kind == "missing":
            self.add(where[:-1], f"missing required key {err['loc'][-1]!r}")
        elif kind == "literal_error":
            expected = err["ctx"]["expected"]
            close = difflib.get_close_matches(str(value), re.findall(r"'([^']*)'", expected), 1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            self.add(where, f"{value!r} is not one of {expected}{hint}")
        else:
            message = re.sub(r"^Input should", "should", err["msg"])
            self.add(where, f"{message}, got {_kind(value)} {value!r}")

    def resolve(self, spec: str, loc: Loc) -> Callable[..., Any] | None:
        """Import ``module:function`` (dots after the colon walk attributes)."""
        module_name, colon, attr = spec.partition(":")
        if not colon or not module_name or not attr:
            self.add(loc, f"{spec!r} is not a reference of the form module:function")
            return None
        # kept on sys.path: the module may import its neighbours lazily, and resume reloads it
        for folder in (os.getcwd(), self.base_dir):
            if folder is not None and folder not in sys.path:
                sys.path.insert(0, folder)
        importlib.invalidate_caches()
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name is not None and f"{module_name}.".startswith(f"{exc.name}."):
                places = "the workflow's folder, " if self.base_dir else ""
                self.add(
                    loc,
                    f"cannot import module {module_name!r}: not found in "
                    f"{places}the current folder or the installed packages",
                )
            else:
                self.add(loc, f"importing module {module_name!r} failed: {exc}")
            return None
        except Exception as exc:  # the module's own code failed; report it, don't crash
            self.add(loc, f"importing module {module_name!r} failed: {type(exc).__name__}: {exc}")
            return None
        target: Any = module
        for part in attr.split("."):
            target = getattr(target, part, None)
            if target is None:
                public = [
                    n
                    for n, v in vars(module).items()
                    if not n.startswith("_") and getattr(v, "__module__", None) == module_name
                ]
                self.add(
                    loc,
                    f"cannot import {attr!r} from module {module_name!r}{_suggest(attr, public)}",
                )
                return None
        if not callable(target):
            self.add(loc, f"{spec!r} is not callable (it is a {type(target).__name__})")
            return None
        return target  # type: ignore[no-any-return]

    # -- sections

    def inputs(self, raw: JSON) -> tuple[list[InputSpec], set[str] | None]:
        loc: Loc = ("inputs",)
        entries: list[tuple[str, JSON]] | None
        if isinstance(raw, list):
            for i, name in enumerate(raw):
                if not isinstance(name, str):
                    self.add((*loc, i), f"an input name must be a string, not a {_kind(name)}")
            entries = [(name, None) for name in raw if isinstance(name, str)]
        else:
            entries = self.entries(raw, loc, "input names to specs")
        if entries is None:
            return [], None
        specs = []
        for name, body in entries:
            if not _NAME.match(name):
                self.add((*loc, name), f"invalid input name {name!r}: use letters, digits, _ and -")
            spec = self._input(name, body, (*loc, name))
            if spec is not None:
                specs.append(spec)
        return specs, {name for name, _ in entries}

    def _input(self, name: str, body: JSON, loc: Loc) -> InputSpec | None:
        m = self.model(_InputBody, body, loc)
        if m is None:
            return None
        spec = InputSpec(name=name, type=m.type, description=m.description)
        if "default" not in m.model_fields_set:
            return spec
        default = m.default
        if default is not None:
            try:
                default = spec.coerce(default)
            except ConfigError as exc:
                self.add((*loc, "default"), str(exc))
                return None
        return InputSpec(name=name, type=m.type, description=m.description, default=default)

    def tools(self, raw: JSON) -> dict[str, Tool | None]:
        """Tools by name (``None`` for one with a reported problem)."""
        table: dict[str, Tool | None] = {}
        for name, body in self.entries(raw, ("tools",), "tool names to tools") or ():
            loc = ("tools", name)
            m = self.model(_ToolBody, body, loc)
            function = self.resolve(m.python, (*loc, "python")) if m is not None else None
            table[name] = None
            if m is None or function is None:
                continue
            try:
                table[name] = Tool.from_function(
                    function, name=name, description=m.description, effect=m.effect
                )
            except Exception as exc:  # a signature pydantic cannot describe, and the like
                detail = (
                    str(exc) if isinstance(exc, ConfigError) else f"{type(exc).__name__}: {exc}"
                )
                self.add((*loc, "python"), f"cannot make a tool of {m.python!r}: {detail}")
        return table

    def agents(
        self, raw: JSON, tools: Mapping[str, Tool | None]
    ) -> tuple[list[Agent], dict[str, tuple[str, ...]]]:
        """The agents, and every declared agent's capabilities (for plan validation)."""
        agents: list[Agent] = []
        capabilities: dict[str, tuple[str, ...]] = {}
        entries = self.entries(raw, ("agents",), "agent names to agents")
        if entries is None:
            self.quiet["*"] = {"agent", "capability"}
        for name, body in entries or ():
            m = self.model(_AgentBody, body, ("agents", name))
            if m is None:
                caps = body.get("capabilities") if isinstance(body, dict) else None
                capabilities[name] = (
                    tuple(c for c in caps if isinstance(c, str)) if isinstance(caps, list) else ()
                )
                continue
            capabilities[name] = tuple(m.capabilities)
            agent = self._agent(name, m, tools)
            if agent is not None:
                agents.append(agent)
        for agent in agents:
            for i, backup in enumerate(agent.backups):
                if backup not in capabilities:
                    self.add(
                        ("agents", agent.name, "backups", i),
                        f"unknown backup agent {backup!r}{_suggest(backup, list(capabilities))}",
                    )
        return agents, capabilities

    def _agent(self, name: str, m: _AgentBody, tools: Mapping[str, Tool | None]) -> Agent | None:
        loc = ("agents", name)
        if m.model is not None and m.python is not None:
            self.add((*loc, "python"), "give either `model` or `python`, not both")
            return None
        if m.model is None and m.python is None:
            self.add(
                (*loc, "model"),
                "the agent needs `model: provider:model` or `python: module:function`",
                at=loc,
            )
            return None
        function = self.resolve(m.python, (*loc, "python")) if m.python is not None else None
        chosen = []
        for i, tool_name in enumerate(m.tools):
            found = tools.get(tool_name)
            if tool_name not in tools:
                self.add(
                    (*loc, "tools", i),
                    f"unknown tool {tool_name!r}{_suggest(tool_name, list(tools))}",
                )
            elif found is not None:
                chosen.append(found)
        if (m.python is not None and function is None) or len(chosen) != len(m.tools):
            return None
        try:
            return Agent(
                name=name,
                description=m.description,
                capabilities=tuple(m.capabilities),
                model=m.model,
                function=function,
                tools=tuple(chosen),
                instructions=m.instructions,
                max_rounds=m.max_rounds,
                max_concurrency=m.max_concurrency,
                metadata=m.metadata,
                retry=m.retry.policy() if m.retry is not None else None,
                backups=tuple(m.backups),
                handoffs=tuple(m.handoffs),
                max_handoffs=m.max_handoffs,
            )
        except ConfigError as exc:
            self.add(loc, str(exc))
            return None

    def context(self, raw: JSON) -> ContextPolicy:
        policies: dict[str, MergePolicy] = {}
        for key, body in self.entries(raw, ("context",), "blackboard keys to policies") or ():
            loc = ("context", key)
            m = self.model(_ContextBody, body, loc)
            if m is None:
                continue
            reducer = None
            if m.merge == "reduce" and m.reducer is None:
                self.add(
                    (*loc, "reducer"),
                    "`merge: reduce` needs `reducer: module:function`",
                    at=(*loc, "merge"),
                )
            elif m.merge == "reduce" and m.reducer is not None:
                reducer = self.resolve(m.reducer, (*loc, "reducer"))
            elif m.reducer is not None:
                self.add((*loc, "reducer"), f"`reducer` needs `merge: reduce`, not {m.merge!r}")
            policies[key] = MergePolicy(m.merge, reducer)
        return ContextPolicy(merge=policies)

    def policy(self, raw: JSON) -> Policy | None:
        m = None if raw is None else self.model(_PolicyBody, raw, ("policy",))
        if m is None:
            return None
        return Policy(
            approve_effects=tuple(m.approve_effects),
            approve_risks=tuple(m.approve_risks),
            min_confidence=m.min_confidence,
            approval_ttl_s=m.approval_ttl_s,
        )

    def prices(self, raw: JSON) -> dict[str, Price]:
        """Model prices, USD per million tokens, on top of the orchestrator's."""
        table: dict[str, Price] = {}
        for name, body in self.entries(raw, ("prices",), "model names to prices") or ():
            try:
                table[name] = parse_price(name, body)
            except ConfigError as exc:
                self.add(("prices", name), str(exc))
        return table

    def tasks(self, raw: JSON) -> list[Task]:
        items: list[tuple[Loc, JSON, str | None]]
        if isinstance(raw, list):
            items = [(("tasks", i), body, None) for i, body in enumerate(raw)]
        else:
            entries = self.entries(raw, ("tasks",), "task ids to tasks")
            if entries is None:
                self.quiet[""] = None
                return []
            items = [(("tasks", key), body, key) for key, body in entries]
        tasks = []
        for loc, body, key in items:
            task = self._task(loc, body, key)
            if task is not None:
                tasks.append(task)
                if task.id in self.task_locs:
                    self.repeats[task.id] = loc
                self.task_locs.setdefault(task.id, loc)
        return tasks

    def _task(self, loc: Loc, body: JSON, key: str | None) -> Task | None:
        m, bad = self.checked(_TaskBody, body, loc)
        if m is None or (key is None and m.id is None):
            if m is not None and "id" not in bad:
                self.add(loc, "missing required key 'id'")
            return None
        tid = key if key is not None else m.id or ""
        if bad - set(_TaskBody.model_fields):
            self.quiet[tid] = None  # a misspelt key: what it meant is anyone's guess
        elif bad:
            # a task with a faulty `agent` or `capability` names neither
            self.quiet[tid] = bad | (
                {"agent", "capability"} if bad & {"agent", "capability"} else set()
            )
        if key is not None and m.id is not None and m.id != key:
            self.add(
                (*loc, "id"),
                f"id {m.id!r} differs from the task's key {key!r}; drop `id` or make them equal",
            )
        if m.retries and m.retry is not None:
            self.add((*loc, "retry"), "give `retries: N` or `retry: {...}`, not both")
        schema = m.output_schema
        if schema is not None and (error := check_schema(schema)) is not None:
            self.add((*loc, "output_schema"), f"not a valid JSON Schema: {error}")
            schema = None
        return Task(
            id=tid,
            instruction=m.instruction,
            agent=m.agent,
            capability=m.capability,
            needs=tuple(m.needs),
            reads=tuple(m.reads),
            output_schema=schema,
            optional=m.optional,
            map=m.map,
            retries=m.retries,
            timeout_s=m.timeout_s,
            risk=m.risk,
            approval=m.approval,
            retry=m.retry.policy() if m.retry is not None else None,
            backups=tuple(m.backups),
            budget=Budget(**m.budget.model_dump()) if m.budget is not None else None,
        )

    def output(self, data: Mapping[str, JSON]) -> JSON:
        output = data.get("output")
        if output is None or isinstance(output, str | dict | list):
            return output
        self.add(
            ("output",),
            f"must be a template, a task id or a mapping of templates, not a {_kind(output)}",
        )
        return None
