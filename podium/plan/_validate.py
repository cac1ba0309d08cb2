"""Validation of a plan before anything runs: every problem at once, each with its location."""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping

from podium.exceptions import PlanValidationError, Problem
from podium.plan._task import Plan, Task
from podium.plan._template import Reference, references

Locate = Callable[[str, str], tuple[str | None, int | None]]
"""Maps (task id, field) to (file, line) for error messages."""

_ID = re.compile(r"^[A-Za-z_][A-Za-z0-9_\-]*$")


def _nowhere(_task: str, _field: str) -> tuple[str | None, int | None]:
    return None, None


class _Report:
    def __init__(self, locate: Locate) -> None:
        self.locate = locate
        self.problems: list[Problem] = []

    def add(self, task: str, field: str, message: str) -> None:
        file, line = self.locate(task, field)
        where = f"tasks.{task}.{field}" if task else field
        self.problems.append(Problem(message, where=where, file=file, line=line))


def upstream_of(plan: Plan) -> dict[str, set[str]]:
    """For each task, every task it transitively needs (cycles are tolerated, not reported)."""
    memo: dict[str, set[str]] = {}

    def visit(tid: str, stack: set[str]) -> set[str]:
        if tid in memo:
            return memo[tid]
        result: set[str] = set()
        task = plan.tasks.get(tid)
        if task is not None:
            stack.add(tid)
            for dep in task.needs:
                if dep in plan.tasks and dep not in stack:
                    result.add(dep)
                    result |= visit(dep, stack)
            stack.discard(tid)
        memo[tid] = result
        return result

    for tid in plan.tasks:
        visit(tid, set())
    return memo


def find_cycles(plan: Plan) -> list[list[str]]:
    """Each dependency cycle once, as the list of task ids along it."""
    white, grey, black = 0, 1, 2
    color = dict.fromkeys(plan.tasks, white)
    cycles: list[list[str]] = []
    seen: set[frozenset[str]] = set()

    def dfs(tid: str, path: list[str]) -> None:
        color[tid] = grey
        path.append(tid)
        for dep in plan.tasks[tid].needs:
            if dep not in plan.tasks:
                continue
            if color[dep] == grey:
                cycle = path[path.index(dep) :]
                key = frozenset(cycle)
                if key not in seen:
                    seen.add(key)
                    cycles.append([*cycle, dep])
            elif color[dep] == white:
                dfs(dep, path)
        path.pop()
        color[tid] = black

    for tid in sorted(plan.tasks):
        if color[tid] == white:
            dfs(tid, [])
    # a cycle found along `needs` reads backwards (a needs b needs a); show it in run order
    return [list(reversed(c)) for c in cycles]


def _check_refs(
    report: _Report,
    task: Task,
    field: str,
    refs: Iterable[Reference],
    *,
    upstream: set[str],
    plan: Plan,
    input_names: Collection[str] | None,
) -> None:
    for ref in refs:
        if ref.error is not None:
            report.add(task.id, field, ref.error)
        elif ref.root == "inputs":
            if input_names is not None and ref.name not in input_names:
                report.add(
                    task.id,
                    field,
                    f"unbound input {ref.name!r}: the workflow declares "
                    f"no such input (declared: {sorted(input_names) or 'none'})",
                )
        elif ref.root == "tasks":
            if ref.name not in plan.tasks:
                report.add(task.id, field, f"references unknown task {ref.name!r}")
            elif ref.name not in upstream:
                report.add(
                    task.id,
                    field,
                    f"references task {ref.name!r}, which is not upstream "
                    f"of {task.id!r}: add it to `needs`",
                )
        elif ref.root == "item" and task.map is None and task.parent is None:
            report.add(task.id, field, "uses {{ item }} but the task has no `map`")


def _check_backups(report: _Report, task: Task, agents: Mapping[str, Collection[str]]) -> None:
    for backup in task.backups:
        if backup not in agents:
            known = ", ".join(sorted(agents)) or "none"
            report.add(task.id, "backups", f"unknown backup agent {backup!r} (known: {known})")


def _check_task(
    report: _Report,
    task: Task,
    *,
    plan: Plan,
    upstream: set[str],
    agents: Mapping[str, Collection[str]],
    input_names: Collection[str] | None,
) -> None:
    if not _ID.match(task.id) and task.parent is None:
        report.add(task.id, "id", f"invalid task id {task.id!r}: use letters, digits, _ and -")
    if task.agent is None and task.capability is None:
        report.add(task.id, "agent", "names neither an `agent` nor a `capability`")
    elif task.agent is not None and task.agent not in agents:
        report.add(
            task.id,
            "agent",
            f"unknown agent {task.agent!r} (known: {', '.join(sorted(agents)) or 'none'})",
        )
    elif (
        task.agent is None
        and task.capability is not None
        and not any(task.capability in caps for caps in agents.values())
    ):
        report.add(task.id, "capability", f"no agent has capability {task.capability!r}")
    for dep in task.needs:
        if dep not in plan.tasks:
            report.add(task.id, "needs", f"needs unknown task {dep!r}")
    _check_backups(report, task, agents)
    if task.retries < 0:
        report.add(task.id, "retries", "must be 0 or more")
    if task.timeout_s is not None and task.timeout_s <= 0:
        report.add(task.id, "timeout_s", "must be positive")
    if task.output_schema is not None and not isinstance(task.output_schema.get("type", ""), str):
        report.add(task.id, "output_schema", "`type` must be a string")
    _check_refs(
        report,
        task,
        "instruction",
        references(task.instruction),
        upstream=upstream,
        plan=plan,
        input_names=input_names,
    )
    if task.map is not None:
        refs = references("{{ " + task.map + " }}")
        if len(refs) != 1 or refs[0].root not in ("inputs", "tasks"):
            report.add(
                task.id, "map", f"`map` must be tasks.ID.output or inputs.NAME, not {task.map!r}"
            )
        else:
            _check_refs(
                report, task, "map", refs, upstream=upstream, plan=plan, input_names=input_names
            )


def validate_plan(
    plan: Plan,
    *,
    agents: Mapping[str, Collection[str]],
    input_names: Collection[str] | None = None,
    locate: Locate | None = None,
) -> list[Problem]:
    """Every problem of `plan`, in a stable order.

    Args:
        plan: the plan to check.
        agents: agent name → its capabilities.
        input_names: the declared run inputs, or ``None`` to accept any.
        locate: maps (task id, field) to (file, line) for messages.
    """
    report = _Report(locate or _nowhere)
    seen: set[str] = set()
    for task in plan.all_tasks():
        if task.id in seen:
            report.add(task.id, "id", f"duplicate task id {task.id!r}")
        seen.add(task.id)
    if not plan.tasks:
        report.add("", "tasks", "the plan has no tasks")
    for cycle in find_cycles(plan):
        report.add(cycle[0], "needs", "dependency cycle: " + " → ".join(cycle))
    upstream = upstream_of(plan)
    for task in plan.tasks.values():
        _check_task(
            report,
            task,
            plan=plan,
            upstream=upstream[task.id],
            agents=agents,
            input_names=input_names,
        )
    _check_output(report, plan, input_names)
    return report.problems


def _check_output(report: _Report, plan: Plan, input_names: Collection[str] | None) -> None:
    for field, template in _output_templates(plan.output, "output"):
        out_refs = references(template)
        if field == "output" and not out_refs and template:
            out_refs = [Reference(template, "tasks", template, ())]  # a bare task id
        for ref in out_refs:
            if ref.error is None and ref.root == "tasks" and ref.name not in plan.tasks:
                report.add("", field, f"references unknown task {ref.name!r}")
            elif (
                ref.error is None
                and ref.root == "inputs"
                and input_names is not None
                and ref.name not in input_names
            ):
                report.add("", field, f"unbound input {ref.name!r}")
            elif ref.error is None and ref.root == "item":
                report.add("", field, "uses {{ item }}, which only a mapped task has")
            elif ref.error is not None:
                report.add("", field, ref.error)


def _output_templates(output: object, field: str) -> Iterator[tuple[str, str]]:
    """The template strings of a plan's output (a string, or mappings and lists of them)."""
    if isinstance(output, str):
        yield field, output
    elif isinstance(output, Mapping):
        for key, value in output.items():
            yield from _output_templates(value, f"{field}.{key}")
    elif isinstance(output, list):
        for i, value in enumerate(output):
            yield from _output_templates(value, f"{field}[{i}]")


def check_plan(
    plan: Plan,
    *,
    agents: Mapping[str, Collection[str]],
    input_names: Collection[str] | None = None,
    locate: Locate | None = None,
) -> None:
    """Raise `PlanValidationError` listing every problem, if there is any."""
    problems = validate_plan(plan, agents=agents, input_names=input_names, locate=locate)
    if problems:
        raise PlanValidationError(problems)
