"""Validation of a plan before anything runs: every problem at once, each with its location."""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping

from podium.exceptions import PlanValidationError, Problem
from podium.plan._task import Plan, Task
from podium.plan._template import Reference, references
from podium.plan._template_check import brace_problems, schema_problem

Locate = Callable[[str, str], tuple[str | None, int | None]]
"""Maps (task id, field) to (file, line) for error messages; the task id is empty for a problem
of the whole plan (its field is ``tasks`` or ``output…``)."""

DEFAULT_MAX_TASKS = 10_000
"""The tasks a plan may have (`validate_plan`'s default, and the runtime's ``Limits.max_tasks``)."""

_ID = re.compile(r"^[A-Za-z_][A-Za-z0-9_\-]*$")
_MAX_CYCLES = 20  # cycles reported; past them the plan is hopeless anyway
_SHOWN = 10  # names listed in a message, e.g. the known agents


def _nowhere(_task: str, _field: str) -> tuple[str | None, int | None]:
    return None, None


class _Report:
    def __init__(self, locate: Locate) -> None:
        self.locate = locate
        self.problems: list[Problem] = []

    def add(self, task: str | None, field: str, message: str) -> None:
        """A problem of `task`, or of the whole plan (``None``)."""
        file, line = self.locate(task or "", field)
        where = f"tasks.{task}.{field}" if task is not None else field
        self.problems.append(Problem(message, where=where, file=file, line=line))


class _Agents:
    """The agents a plan may use, as its checks ask about them."""

    def __init__(self, capabilities: Mapping[str, Collection[str]]) -> None:
        self.capabilities = capabilities
        self.offered = {c for caps in capabilities.values() for c in caps}
        # ``a, b, c``: the first few names, sorted, and how many there are past them
        shown = ", ".join(sorted(capabilities)[:_SHOWN]) or "none"
        more = f", … ({len(capabilities)} in all)" if len(capabilities) > _SHOWN else ""
        self.known = shown + more


def upstream_of(plan: Plan) -> dict[str, set[str]]:
    """For each task, every task it transitively needs (cycles are tolerated, not reported)."""
    upstream = _Upstream(plan)
    return {tid: upstream.of(tid) for tid in plan.tasks}


class _Upstream:
    """What each task transitively needs, as bit sets over the tasks: a chain of 10,000 tasks
    takes 12 MB (as sets of ids it would take gigabytes), and nothing recurses."""

    def __init__(self, plan: Plan) -> None:
        self.ids = list(plan.tasks)
        self.bit = {tid: i for i, tid in enumerate(self.ids)}
        deps = [
            [self.bit[d] for d in dict.fromkeys(plan.tasks[tid].needs) if d in self.bit]
            for tid in self.ids
        ]
        self.needs = [0] * len(deps)
        for component in _components(deps):  # dependencies first
            # a member of a cycle reaches every member: each is the target of an edge inside
            below = 0
            for v in component:
                for w in deps[v]:
                    below |= self.needs[w] | (1 << w)
            for v in component:
                self.needs[v] = below & ~(1 << v)

    def has(self, task: str, dep: str) -> bool:
        """Whether `task` transitively needs `dep`."""
        i, j = self.bit.get(task), self.bit.get(dep)
        return i is not None and j is not None and bool(self.needs[i] >> j & 1)

    def of(self, task: str) -> set[str]:
        bits, out = self.needs[self.bit[task]], set()
        while bits:
            low = bits & -bits
            out.add(self.ids[low.bit_length() - 1])
            bits ^= low
        return out


def _components(deps: list[list[int]]) -> list[list[int]]:
    """The strongly connected components of a graph (Tarjan's, without recursion), each after
    the components it has edges to."""
    n = len(deps)
    order, low, on_stack = [-1] * n, [0] * n, [False] * n
    stack: list[int] = []
    components: list[list[int]] = []
    counter = 0
    for root in range(n):
        if order[root] != -1:
            continue
        order[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack[root] = True
        calls: list[tuple[int, Iterator[int]]] = [(root, iter(deps[root]))]
        while calls:
            v, edges = calls[-1]
            for w in edges:
                if order[w] == -1:
                    order[w] = low[w] = counter
                    counter += 1
                    stack.append(w)
                    on_stack[w] = True
                    calls.append((w, iter(deps[w])))
                    break
                if on_stack[w]:
                    low[v] = min(low[v], order[w])
            else:
                calls.pop()
                if calls:
                    parent = calls[-1][0]
                    low[parent] = min(low[parent], low[v])
                if low[v] == order[v]:
                    component = []
                    while True:
                        w = stack.pop()
                        on_stack[w] = False
                        component.append(w)
                        if w == v:
                            break
                    components.append(component)
    return components


def find_cycles(plan: Plan) -> list[list[str]]:
    """Each dependency cycle once, as the list of task ids along it."""
    return list(_cycles(plan))


def _cycles(plan: Plan) -> Iterator[list[str]]:
    """The dependency cycles, found by a depth-first walk (with a stack, not recursion)."""
    white, grey, black = 0, 1, 2
    color = dict.fromkeys(plan.tasks, white)
    seen: set[frozenset[str]] = set()
    for root in sorted(plan.tasks):
        if color[root] != white:
            continue
        color[root] = grey
        path = [root]
        walk = [iter(dict.fromkeys(plan.tasks[root].needs))]
        while walk:
            dep = next(walk[-1], None)
            if dep is None:
                walk.pop()
                color[path.pop()] = black
            elif dep not in plan.tasks:
                continue
            elif color[dep] == grey:
                cycle = path[path.index(dep) :]
                key = frozenset(cycle)
                if key not in seen:
                    seen.add(key)
                    # a cycle found along `needs` reads backwards (a needs b needs a); show it in
                    # run order
                    yield list(reversed([*cycle, dep]))
            elif color[dep] == white:
                color[dep] = grey
                path.append(dep)
                walk.append(iter(dict.fromkeys(plan.tasks[dep].needs)))


def _check_refs(
    report: _Report,
    task: Task,
    field: str,
    refs: Iterable[Reference],
    *,
    upstream: _Upstream,
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
                    f"no such input (declared: {_declared(input_names)})",
                )
        elif ref.root == "tasks":
            if ref.name not in plan.tasks:
                report.add(task.id, field, f"references unknown task {ref.name!r}")
            elif not upstream.has(task.id, ref.name):
                report.add(
                    task.id,
                    field,
                    f"references task {ref.name!r}, which is not upstream "
                    f"of {task.id!r}: add it to `needs`",
                )
            elif (problem := schema_problem(ref, plan.tasks[ref.name].output_schema)) is not None:
                report.add(task.id, field, problem)
        elif ref.root == "item" and task.map is None and task.parent is None:
            report.add(task.id, field, "uses {{ item }} but the task has no `map`")


def _template_refs(report: _Report, task: Task, template: str) -> list[Reference]:
    """The references of an instruction, once its unbalanced braces are reported."""
    for problem in brace_problems(template):
        report.add(task.id, "instruction", problem)
    return references(template)


def _declared(names: Collection[str]) -> str:
    if not names:
        return "none"
    if len(names) <= _SHOWN:
        return repr(sorted(names))
    return f"[{', '.join(map(repr, sorted(names)[:_SHOWN]))}, … ({len(names)} in all)]"


def _check_backups(report: _Report, task: Task, agents: _Agents) -> None:
    for backup in task.backups:
        if backup not in agents.capabilities:
            message = f"unknown backup agent {backup!r} (known: {agents.known})"
            report.add(task.id, "backups", message)


def _check_judges(report: _Report, task: Task, agents: _Agents) -> None:
    for check in task.checks:
        if check.judge is not None and check.judge not in agents.capabilities:
            message = f"check {check.label!r}: unknown judge agent {check.judge!r}"
            report.add(task.id, "checks", f"{message} (known: {agents.known})")


def _check_task(
    report: _Report,
    task: Task,
    *,
    plan: Plan,
    upstream: _Upstream,
    agents: _Agents,
    input_names: Collection[str] | None,
) -> None:
    if not _ID.match(task.id) and task.parent is None:
        report.add(task.id, "id", f"invalid task id {task.id!r}: use letters, digits, _ and -")
    if task.agent is None and task.capability is None:
        report.add(task.id, "agent", "names neither an `agent` nor a `capability`")
    elif task.agent is not None and task.agent not in agents.capabilities:
        report.add(task.id, "agent", f"unknown agent {task.agent!r} (known: {agents.known})")
    elif task.agent is None and task.capability not in agents.offered:
        report.add(task.id, "capability", f"no agent has capability {task.capability!r}")
    for dep in task.needs:
        if dep not in plan.tasks:
            report.add(task.id, "needs", f"needs unknown task {dep!r}")
    _check_backups(report, task, agents)
    _check_judges(report, task, agents)
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
        _template_refs(report, task, task.instruction),
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
    max_tasks: int | None = DEFAULT_MAX_TASKS,
) -> list[Problem]:
    """Every problem of `plan`, in a stable order.

    Args:
        plan: the plan to check.
        agents: agent name → its capabilities.
        input_names: the declared run inputs, or ``None`` to accept any.
        locate: maps (task id, field) to (file, line) for messages.
        max_tasks: the tasks the plan may have (``None``: any number); past them, that is the
            one problem reported.
    """
    report = _Report(locate or _nowhere)
    count = len(plan.all_tasks())
    if max_tasks is not None and count > max_tasks:
        report.add(
            None,
            "tasks",
            f"the plan has {count:,} tasks, more than the limit of {max_tasks:,}"
            " (Limits.max_tasks)",
        )
        return report.problems
    seen: set[str] = set()
    for task in plan.all_tasks():
        if task.id in seen:
            report.add(task.id, "id", f"duplicate task id {task.id!r}")
        seen.add(task.id)
    if not plan.tasks:
        report.add(None, "tasks", "the plan has no tasks")
    for cycle in itertools.islice(_cycles(plan), _MAX_CYCLES):
        report.add(cycle[0], "needs", "dependency cycle: " + _path(cycle))
    upstream = _Upstream(plan)
    team = _Agents(agents)
    for task in plan.tasks.values():
        _check_task(
            report, task, plan=plan, upstream=upstream, agents=team, input_names=input_names
        )
    _check_output(report, plan, input_names)
    return report.problems


def _path(cycle: list[str]) -> str:
    """``a → b → a``; a long cycle with its middle left out."""
    if len(cycle) <= 2 * _SHOWN:
        return " → ".join(cycle)
    left_out = len(cycle) - 2 * _SHOWN
    return " → ".join([*cycle[:_SHOWN], f"… ({left_out} more)", *cycle[-_SHOWN:]])


def _check_output(report: _Report, plan: Plan, input_names: Collection[str] | None) -> None:
    for field, template in _output_templates(plan.output, "output"):
        for problem in brace_problems(template):
            report.add(None, field, problem)
        out_refs = references(template)
        if field == "output" and not out_refs and template:
            out_refs = [Reference(template, "tasks", template, ())]  # a bare task id
        for ref in out_refs:
            if ref.error is None and ref.root == "tasks" and ref.name not in plan.tasks:
                report.add(None, field, f"references unknown task {ref.name!r}")
            elif (
                ref.error is None
                and ref.root == "inputs"
                and input_names is not None
                and ref.name not in input_names
            ):
                report.add(None, field, f"unbound input {ref.name!r}")
            elif ref.error is None and ref.root == "item":
                report.add(None, field, "uses {{ item }}, which only a mapped task has")
            elif ref.error is not None:
                report.add(None, field, ref.error)


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
    max_tasks: int | None = DEFAULT_MAX_TASKS,
) -> None:
    """Raise `PlanValidationError` listing every problem of `validate_plan`, if there is any."""
    problems = validate_plan(
        plan, agents=agents, input_names=input_names, locate=locate, max_tasks=max_tasks
    )
    if problems:
        raise PlanValidationError(problems)
