"""The ``tasks`` of a workflow file compiled, with where each one is.

`TaskSection` compiles the tasks (and, for the ``planner`` section, a default plan's) and keeps
each task's place in the file, for the `_Locator` that gives plan problems their lines. `Echoes`
remembers the structure problems already reported, so that the plan's validation does not report
them a second time in other words.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from podium.exceptions import Problem
from podium.plan._task import Compensation, Task
from podium.plan._yaml_check import Checker
from podium.plan._yaml_nodes import JSON, Loc, _Locator
from podium.plan._yaml_schema import _TaskBody
from podium.reliability._budget import Budget
from podium.verify import check_schema


@dataclass(slots=True)
class Echoes:
    """Which plan problems would only echo a structure problem already reported.

    Attributes:
        tasks: the fields of a task whose problems are echoes (``None``: all of its fields).
        everywhere: the fields whose problems are echoes in every task.
        whole_plan: the ``tasks`` section itself is wrong: the plan's own problems are echoes.
    """

    tasks: dict[str, set[str] | None] = field(default_factory=dict)
    everywhere: set[str] = field(default_factory=set)
    whole_plan: bool = False

    def __call__(self, problem: Problem) -> bool:
        """Whether `problem` (found by `validate_plan`) only repeats one already reported."""
        if problem.where == "tasks":
            return self.whole_plan
        if not problem.where.startswith("tasks."):
            return False
        tid, _, name = problem.where.removeprefix("tasks.").rpartition(".")
        if name in self.everywhere:
            return True
        if tid not in self.tasks:
            return False
        fields = self.tasks[tid]
        return fields is None or name in fields


class TaskSection:
    """Compiles task bodies into `Task` objects; problems go to `check`, echoes to `echoes`."""

    def __init__(self, check: Checker, echoes: Echoes) -> None:
        self.check = check
        self.echoes = echoes
        self.locs: dict[str, Loc] = {}
        self.repeats: dict[str, Loc] = {}  # the last place of a task id given more than once

    def compile(self, raw: JSON) -> list[Task]:
        """The ``tasks`` section: a list of tasks with ids, or a mapping of ids to tasks."""
        items: list[tuple[Loc, JSON, str | None]]
        if isinstance(raw, list):
            items = [(("tasks", i), body, None) for i, body in enumerate(raw)]
        else:
            entries = self.check.entries(raw, ("tasks",), "task ids to tasks")
            if entries is None:
                self.echoes.whole_plan = True
                return []
            items = [(("tasks", key), body, key) for key, body in entries]
        tasks = []
        for loc, body, key in items:
            task = self.task(loc, body, key)
            if task is not None:
                tasks.append(task)
                if task.id in self.locs:
                    self.repeats[task.id] = loc
                self.locs.setdefault(task.id, loc)
        return tasks

    def locator(self) -> _Locator:
        """`Locate` for the plan of the tasks compiled so far."""
        return _Locator(self.check.file, self.check.lines, self.locs, self.repeats)

    def task(self, loc: Loc, body: JSON, key: str | None) -> Task | None:
        """One task at `loc` (`key`: its id, when the tasks are a mapping); ``None`` if it has
        no usable form (reported)."""
        m, bad = self.check.checked(_TaskBody, body, loc)
        if m is None or (key is None and m.id is None):
            if m is not None and "id" not in bad:
                self.check.add(loc, "missing required key 'id'")
            return None
        tid = key if key is not None else m.id or ""
        self._quiet(tid, bad)
        self._conflicts(m, loc, key)
        schema = m.output_schema
        if schema is not None and (error := check_schema(schema)) is not None:
            self.check.add((*loc, "output_schema"), f"not a valid JSON Schema: {error}")
            schema = None
        return Task(
            id=tid,
            instruction=m.instruction,
            agent=m.agent,
            capability=m.capability,
            needs=tuple(m.needs),
            reads=tuple(m.reads),
            writes=None if m.writes is None else tuple(m.writes),
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
            checks=tuple(c.check() for c in m.checks),
            compensate=(
                Compensation(**m.compensate.model_dump()) if m.compensate is not None else None
            ),
            confidence=m.confidence.confidence() if m.confidence is not None else None,
            context_budget=m.context_budget,
            on_drift=m.on_drift,
        )

    def _quiet(self, tid: str, bad: set[str]) -> None:
        """Keep the plan's checks quiet about the fields of `tid` that were reported already."""
        if bad - set(_TaskBody.model_fields):
            self.echoes.tasks[tid] = None  # a misspelt key: what it meant is anyone's guess
        elif bad:
            # a task with a faulty `agent` or `capability` names neither
            self.echoes.tasks[tid] = bad | (
                {"agent", "capability"} if bad & {"agent", "capability"} else set()
            )

    def _conflicts(self, m: _TaskBody, loc: Loc, key: str | None) -> None:
        """Keys of one task that contradict each other."""
        if key is not None and m.id is not None and m.id != key:
            self.check.add(
                (*loc, "id"),
                f"id {m.id!r} differs from the task's key {key!r}; drop `id` or make them equal",
            )
        if m.retries and m.retry is not None:
            self.check.add((*loc, "retry"), "give `retries: N` or `retry: {...}`, not both")
