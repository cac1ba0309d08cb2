"""Small pieces of the scheduler: the attempt inbox and critical-path priorities."""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Generic, TypeVar

from podium.plan import Plan

T = TypeVar("T")


class Inbox(Generic[T]):
    """What attempts report to the driver: an unbounded FIFO with one waiter.

    An `asyncio.Queue` would do, but costs ~3 KiB per run (three deques and an Event); with
    thousands of runs in flight that is most of a run's memory.
    """

    __slots__ = ("_items", "_waiter")

    def __init__(self) -> None:
        self._items: deque[T] = deque()
        self._waiter: asyncio.Future[None] | None = None

    def put_nowait(self, item: T) -> None:
        self._items.append(item)
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    def empty(self) -> bool:
        return not self._items

    def get_nowait(self) -> T:
        return self._items.popleft()

    async def get(self) -> T:
        while not self._items:
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        return self._items.popleft()


def critical_paths(plan: Plan) -> dict[str, int]:
    """For each task, the number of tasks on the longest path from it to the end of the plan."""
    dependants: dict[str, list[str]] = {tid: [] for tid in plan.tasks}
    for t in plan:
        for dep in t.needs:
            if dep in dependants:
                dependants[dep].append(t.id)
    memo: dict[str, int] = {}
    for tid in plan.tasks:  # iterative DFS: plans can be deeper than the recursion limit
        stack = [(tid, False)]
        while stack:
            node, expanded = stack.pop()
            if node in memo:
                continue
            if expanded:
                memo[node] = 1 + max((memo[d] for d in dependants[node]), default=0)
                continue
            stack.append((node, True))
            stack.extend((d, False) for d in dependants[node] if d not in memo)
    return memo
