"""A plan that grows while it runs: a `map` fanned out into sub-tasks, a failed branch re-planned.

Both are journaled before they are acted on (`PlanExtended`, `PlanRevised`) and bounded by
`Limits.max_tasks`: growth past it stops the run with reason ``limit``. A map's items are not
written again: they are the upstream output the journal already holds, and the fold renders them
from the parent's `map` (`PlanExtended.derived_items`).
"""

from __future__ import annotations

import msgspec

from podium.events import ErrorInfo, PlanExtended, PlanRevised
from podium.plan import Task, TemplateError
from podium.runtime._journal import Journal
from podium.runtime._output import map_items
from podium.runtime._state import RunState


class Mapping:
    """Fans mapped tasks out and grafts re-planned branches in, within the task limit."""

    __slots__ = ("journal", "max_tasks", "state")

    def __init__(self, state: RunState, journal: Journal, max_tasks: int | None) -> None:
        self.state = state
        self.journal = journal
        self.max_tasks = max_tasks

    def over_limit(self, new: int, what: str) -> str | None:
        """Why `new` more tasks would pass `max_tasks`, if they would."""
        total = len(self.state.tasks) + new
        if self.max_tasks is None or total <= self.max_tasks:
            return None
        return f"{what} would make {total} tasks, more than Limits.max_tasks={self.max_tasks}"

    def expand(self, task: Task) -> list[str] | ErrorInfo | str:
        """Journal the sub-tasks of a mapped task whose needs have settled: their ids; or the
        error that fails the task (``map_error``); or why the run must stop (the task limit)."""
        assert task.map is not None
        try:
            items = map_items(self.state, task)
        except TemplateError as exc:
            return ErrorInfo(type="map_error", message=str(exc))
        if not isinstance(items, list):
            message = f"`map: {task.map}` gave {type(items).__name__}, not a list"
            return ErrorInfo(type="map_error", message=message)
        # a sub-task is its parent for one item: no `map`, and no `budget` of its own (the
        # parent's budget covers the whole fan-out)
        children = [
            msgspec.structs.replace(
                task,
                id=f"{task.id}[{i}]",
                map=None,
                budget=None,
                item=item,
                parent=task.id,
                index=i,
            )
            for i, item in enumerate(items)
        ]
        over = self.over_limit(len(children), f"mapping {task.id!r} over {len(children)} items")
        if over is not None:
            return over
        # the items are the upstream output the journal holds already: not written again, and
        # folded from the sub-tasks as built
        data = [msgspec.to_builtins(msgspec.structs.replace(c, item=None)) for c in children]
        self.journal.record(
            PlanExtended,
            lambda: self.state.extend(task.id, children),
            parent=task.id,
            tasks=data,
            derived_items=True,
        )
        return [c.id for c in children]

    def revise(self, replaced: str, tasks: list[Task]) -> None:
        """Journal the branch that replaces a task that failed for good."""
        data = [msgspec.to_builtins(t) for t in tasks]
        self.journal.emit(PlanRevised, replaced=[replaced], tasks=data, output_task=tasks[-1].id)


__all__ = ["Mapping"]
