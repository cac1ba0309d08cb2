"""The plan as the scheduler reads it: who waits on whom, what is left to settle, what goes first.

`Readiness` keeps counts of the unsettled needs of each task and of the unsettled sub-tasks of
each mapped task, so "not yet" is answered without rescanning: a join over n branches, or an
n-item map, settles in O(n), not O(n²). The counts are rebuilt when the plan grows (a map's
sub-tasks, a re-plan's branch).
"""

from __future__ import annotations

import asyncio
from collections.abc import Collection
from typing import Generic, TypeVar

from podium.plan import Plan, Task
from podium.runtime._state import RunState
from podium.runtime._task_state import FAILED, SKIPPED, SUCCEEDED, TERMINAL

T = TypeVar("T")


class Inbox(Generic[T]):
    """What attempts report to the driver: an unbounded FIFO with one waiter.

    An `asyncio.Queue` would do, but costs ~3 KiB per run (three deques and an Event); with
    thousands of runs in flight that is most of a run's memory. A list, not a deque (600 bytes
    empty): what waits in it at once is a handful of results.
    """

    __slots__ = ("_items", "_waiter")

    def __init__(self) -> None:
        self._items: list[T] = []
        self._waiter: asyncio.Future[None] | None = None

    def put_nowait(self, item: T) -> None:
        self._items.append(item)
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    def empty(self) -> bool:
        return not self._items

    def get_nowait(self) -> T:
        return self._items.pop(0)

    async def get(self) -> T:
        while not self._items:
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        return self._items.pop(0)


def critical_paths(plan: Plan) -> dict[str, int]:
    """For each task, the number of tasks on the longest path from it to the end of the plan."""
    dependants: dict[str, list[str]] = {tid: [] for tid in plan.tasks}
    for t in plan:
        for dep in t.needs:
            if dep in dependants:
                dependants[dep].append(t.id)
    memo: dict[str, int] = {}
    for tid in reversed(list(plan.tasks)):  # dependants mostly come later: most known at once
        if tid in memo:
            continue
        stack = [(tid, False)]  # iterative DFS: plans can be deeper than the recursion limit
        while stack:
            node, expanded = stack.pop()
            if node in memo:
                continue
            longest = 0
            if expanded:
                for d in dependants[node]:
                    longest = max(longest, memo[d])
                memo[node] = 1 + longest
                continue
            stack.append((node, True))
            for d in dependants[node]:
                if d not in memo:
                    stack.append((d, False))
    return memo


class Readiness:
    """Indexes and counts over a run's plan (see the module docstring)."""

    __slots__ = ("children", "dependants", "priority", "state", "unjoined", "waiting")

    def __init__(self, state: RunState) -> None:
        self.state = state
        self.reindex()

    def reindex(self) -> None:
        """Rebuild after the plan grew."""
        plan = self.state.plan
        assert plan is not None
        self.waiting: dict[str, int] = {}
        """Unsettled needs of a task, once counted."""
        self.unjoined: dict[str, int] = {}
        """Unsettled sub-tasks of a mapped task, once counted."""
        self.dependants: dict[str, list[str]] = {tid: [] for tid in plan.tasks}
        self.children: dict[str, list[str]] = {}
        for t in plan:
            for dep in t.needs:
                self.dependants[dep].append(t.id)
            if t.parent is not None:
                self.dependants[t.id].append(t.parent)
                self.children.setdefault(t.parent, []).append(t.id)
        for ids in self.children.values():
            ids.sort(key=lambda c: plan.tasks[c].index or 0)
        for replaced, new in self.state.revised.items():  # a re-planned task waits on its branch
            self.dependants[new].append(replaced)
        self.priority = critical_paths(plan)
        for t in plan:
            if t.parent is not None:
                self.priority[t.id] = self.priority.get(t.parent, 1)

    def ancestors(self, tid: str) -> set[str]:
        """Every task `tid` transitively needs."""
        tasks = self.state.tasks
        seen: set[str] = set()
        stack = list(tasks[tid].task.needs)
        while stack:
            dep = stack.pop()
            if dep not in seen:
                seen.add(dep)
                stack.extend(tasks[dep].task.needs)
        return seen

    def needs_settled(self, task: Task, replanning: Collection[str]) -> tuple[bool, str | None]:
        """(every need has settled, the required need that failed, if one did).

        A failed need that is about to be re-planned (`replanning`) has not settled yet.
        """
        if self.waiting.get(task.id, 0) > 0:
            return False, None
        unsettled = 0
        for dep in task.needs:
            st = self.state.tasks[dep]
            if st.status == SUCCEEDED:
                continue
            if st.status in (FAILED, SKIPPED) and dep not in replanning:
                if not st.task.optional:
                    return True, dep
                continue
            unsettled += 1  # still to run, or failed and about to be re-planned
        self.waiting[task.id] = unsettled
        return unsettled == 0, None

    def settled(self, tid: str, failed_required: bool) -> list[str]:
        """Task `tid` reached an end: count it off; the tasks to look at again."""
        parent = self.state.tasks[tid].task.parent
        if parent in self.unjoined:
            self.unjoined[parent] -= 1
        waiting = self.waiting
        dependants = self.dependants.get(tid, [])
        for dependant in dependants:
            if failed_required:
                waiting.pop(dependant, None)  # look again now: it is to be skipped
            elif dependant in waiting:
                waiting[dependant] -= 1
        return dependants

    def unsettled_children(self, parent: str) -> tuple[int, list[str]]:
        """(how many sub-tasks of `parent` have not settled, those that settled badly)."""
        if self.unjoined.get(parent, 0) > 0:
            return self.unjoined[parent], []
        children = self.children.get(parent, [])
        tasks = self.state.tasks
        unsettled = sum(tasks[c].status not in TERMINAL for c in children)
        if unsettled:
            self.unjoined[parent] = unsettled
            return unsettled, []
        return 0, [c for c in children if tasks[c].status != SUCCEEDED]


__all__ = ["Inbox", "Readiness", "critical_paths"]
