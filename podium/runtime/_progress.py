"""Progress of a run: which tasks are ready, and what a task that settles makes of the rest.

`Progress` keeps the ready queue (most critical first) and, when a task reaches an end, looks at
everything waiting on it: a task whose needs all succeeded becomes ready; one whose required
need failed is skipped; a map parent is expanded into its sub-tasks once its list is known, and
joined once they have all settled; a failed task may have its branch re-planned; in a planned
run, a task identical to one already answered takes that answer. It journals what it decides
(through the run's journal, like everything else); the scheduler (`_driver.py`) starts what it
makes ready.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable

from podium.events import ErrorInfo, TaskFailed, TaskReady, TaskSkipped, TaskSucceeded
from podium.plan import Task
from podium.runtime._graph import Readiness
from podium.runtime._journal import Journal
from podium.runtime._mapping import Mapping as MapTasks
from podium.runtime._replan import Replanner, Replans
from podium.runtime._reuse import AnswerCache
from podium.runtime._state import RunState
from podium.runtime._task_state import FAILED, PENDING, READY, RUNNING, SUCCEEDED, TERMINAL
from podium.runtime._verdict import required_failures


class Progress:
    """The ready queue of a run and the rules of what settles (see the module docstring).

    Args:
        state: the run.
        journal: its journal writer.
        on_limit: called with a message when the plan would grow past `max_tasks` (the run
            fails with reason ``limit``).
        replanner, max_replans: re-plans failed branches.
        max_tasks: the most tasks the plan may grow to.
        reuse_answers: take the answer of an identical task already answered (planned runs).
    """

    def __init__(
        self,
        state: RunState,
        journal: Journal,
        *,
        on_limit: Callable[[str], None],
        replanner: Replanner | None = None,
        max_replans: int = 0,
        max_tasks: int | None = None,
        reuse_answers: bool = False,
    ) -> None:
        self.state = state
        self.journal = journal
        self.emit = journal.emit
        self.on_limit = on_limit
        self.replans = Replans(replanner, max_replans)
        self.answers = AnswerCache(state) if reuse_answers else None
        self.graph = Readiness(state)
        self.maps = MapTasks(state, journal, max_tasks)
        self.ready: list[tuple[int, int, str]] = []
        """(-priority, order, task): a heap, most critical first."""
        self._order = itertools.count()
        self.queued: set[str] = set()
        self.unannounced: list[str] = []
        """Tasks queued this turn, journaled as ready only if they wait past it."""
        self.fatal = False
        """A required task failed for good: no attempt starts any more."""

    def resume(self) -> None:
        """Queue what a drive starts with: tasks in flight at a crash (or ready), and pending
        tasks whose needs have settled; re-plans a crash left undone are asked for again."""
        state = self.state
        self.replans.on_resume(state, self.graph.dependants)
        self.fatal = any(t not in self.replans.wanted for t in required_failures(state))
        tasks = state.tasks
        for tid, st in tasks.items():
            if st.status in (RUNNING, READY):
                self.enqueue(tid)  # in flight at a crash (or ready): run it again

    def consider_pending(self) -> None:
        """Look at every pending task whose needs have settled."""
        tasks = self.state.tasks
        for tid in list(tasks):  # considering may add map sub-tasks
            st = tasks[tid]
            if st.status != PENDING:
                continue
            needs = st.task.needs
            if needs and tasks[needs[0]].status not in TERMINAL:
                continue  # it waits: it is looked at when its needs settle
            self.consider(tid)

    def announce(self) -> None:
        """Journal as ready the tasks queued this turn that wait for room."""
        tasks = self.state.tasks
        for tid in self.unannounced:
            if tid in self.queued and tasks[tid].status == PENDING:
                self.emit(TaskReady, task=tid)
        self.unannounced.clear()

    def push_back(self, entries: list[tuple[int, int, str]]) -> None:
        for entry in entries:
            heapq.heappush(self.ready, entry)

    def consider(self, tid: str) -> None:
        """Mark a pending task ready, skipped or (for a map parent) expanded, as its needs allow."""
        st = self.state.tasks[tid]
        if st.status != PENDING or tid in self.queued:
            return
        task = st.task
        if tid in self.state.revised:
            self._join_revision(tid)
            return
        mapped = task.map is not None and task.parent is None
        if mapped and tid in self.state.expanded:
            self._maybe_join(tid)
            return
        settled, failed_dep = self.graph.needs_settled(task, self.replans.wanted)
        if failed_dep is not None:
            self.emit(TaskSkipped, task=tid, reason=f"needs {failed_dep!r}, which did not succeed")
            self.settled(tid)
        elif settled and mapped:
            self._expand(task)
        elif settled:  # journaled as ready only if it does not start in this turn
            self.enqueue(tid)
            self.unannounced.append(tid)

    def enqueue(self, tid: str) -> None:
        self.queued.add(tid)
        priority = self.graph.priority.get(tid, 1)
        heapq.heappush(self.ready, (-priority, next(self._order), tid))

    def settled(self, tid: str) -> None:
        """A task reached an end: reconsider everything that waits on it."""
        st = self.state.tasks[tid]
        if st.status == FAILED and self.replans.request(self.state, tid):
            return  # `_loop` re-plans its branch; what waits on it keeps waiting
        failed_required = st.status != SUCCEEDED and not st.task.optional
        if failed_required and st.task.parent is None:
            self.fatal = True
        for dependant in self.graph.settled(tid, failed_required):
            self.consider(dependant)

    def fail_now(self, tid: str, error: ErrorInfo) -> None:
        self.emit(TaskFailed, task=tid, attempt=self.state.tasks[tid].attempts, error=error)
        self.settled(tid)

    # -- map, re-planning, reuse (the rules are in _mapping.py, _replan.py, _reuse.py) -------

    def _expand(self, task: Task) -> None:
        outcome = self.maps.expand(task)
        if isinstance(outcome, ErrorInfo):
            self.fail_now(task.id, outcome)
        elif isinstance(outcome, str):
            self.on_limit(outcome)
        else:
            self.graph.reindex()
            for child in outcome:
                self.consider(child)
            self._maybe_join(task.id)

    def _maybe_join(self, parent: str) -> None:
        """Join a map parent once every sub-task has settled."""
        unsettled, bad = self.graph.unsettled_children(parent)
        if unsettled:
            return
        if bad:
            message = f"mapped items failed: {', '.join(bad)}"
            self.fail_now(parent, ErrorInfo(type="map_item_failed", message=message))
            return
        self.emit(TaskSucceeded, task=parent)  # the fold joins the items' outputs, stored once
        self.settled(parent)

    async def replan(self, *, halted: bool) -> None:
        """Replace the branch of a task that failed for good, or let its failure stand (as it
        does when the run is `halted`)."""
        tid = self.replans.wanted.pop(0)
        replanner = self.replans.replanner
        tasks = None
        if replanner is not None and not halted:
            tasks = await replanner.replan(tid, self.state, self.journal.emit_now)
        over = None if tasks is None else self.maps.over_limit(len(tasks), f"re-planning {tid!r}")
        if tasks is None or over is not None:
            if over is not None:
                self.on_limit(over)
            self.replans.declined.add(tid)
            self.settled(tid)
            return
        self.maps.revise(tid, tasks)
        self.graph.reindex()
        for t in tasks:
            self.consider(t.id)

    def _join_revision(self, tid: str) -> None:
        """A re-planned task ends as the task that replaces it does."""
        new = self.state.tasks[self.state.revised[tid]]
        if new.status == SUCCEEDED:
            self.emit(TaskSucceeded, task=tid, reused_from=new.task.id)
            self.settled(tid)
        elif new.status in (FAILED, "skipped"):
            why = new.error.message if new.error is not None else new.status
            message = f"its replacement {new.task.id!r} did not succeed: {why}"
            self.fail_now(tid, ErrorInfo(type="replan_failed", message=message))

    def reuse_answer(self, tid: str) -> bool | None:
        """Whether an identical task already answered `tid` (then its output is taken);
        ``None`` when one in flight is asking the same (`tid` waits for its answer)."""
        if self.answers is None:
            return False
        source, asker = self.answers.find(self.state.tasks[tid].task)
        if source is None:
            return None if asker is not None else False
        self.queued.discard(tid)
        self.emit(TaskSucceeded, task=tid, reused_from=source)
        self.settled(tid)
        return True


__all__ = ["Progress"]
