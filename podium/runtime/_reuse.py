"""Reusing answers: a task identical to one already answered in the run takes that answer.

Identical means the same agent (or capability), output schema and item, the same instruction once
rendered and normalised (case and spacing), and the same outputs of the tasks it needs. A planner
often proposes the same task twice; asking an agent again would cost a call for nothing. The
reusing task's `TaskSucceeded` names the task it took the answer from (`reused_from`), and it
writes nothing to the blackboard (the original's writes are there already).

A task identical to one whose attempt is in flight waits for that answer rather than ask again
(if the attempt fails for good, the waiting task runs itself).

Only runs planned from a goal reuse answers: in a workflow written by hand, two identical tasks may
be meant to run twice (sampling, side effects).
"""

from __future__ import annotations

from typing import Any

import msgspec

from podium.plan import Task, TemplateError, render
from podium.runtime._state import RunState
from podium.runtime._task_state import SUCCEEDED

JSON = Any


def normalised(text: str) -> str:
    """Case-folded, with runs of whitespace collapsed."""
    return " ".join(text.split()).casefold()


class AnswerCache:
    """The answered tasks of one run, by what they were asked."""

    def __init__(self, state: RunState) -> None:
        self.state = state
        self._answered: dict[bytes, str] = {}
        self._asked: dict[bytes, str] = {}
        """What is being asked: by the task whose attempt is in flight."""
        for tid, st in state.tasks.items():  # a resumed run remembers what it answered
            if st.status == SUCCEEDED:
                self.remember(tid)

    def key(self, task: Task) -> bytes | None:
        """What makes `task` identical to another; ``None`` for a task that is never reused."""
        if task.map is not None and task.parent is None:
            return None  # a map parent only joins its children
        if not task.instruction.strip():
            return None  # nothing is asked, so nothing can be asked twice
        tasks = self.state.tasks
        refs = task.referenced_tasks() if "{{" in task.instruction else ()
        inputs = self.state.submitted.inputs if self.state.submitted else {}
        scope = {
            "inputs": inputs,
            "tasks": {tid: tasks[tid].output for tid in refs if tid in tasks},
            "item": task.item,
        }
        try:
            instruction = render(task.instruction, scope)
        except TemplateError:
            return None
        asked = [
            task.agent,
            task.capability,
            task.output_schema,
            task.item,
            normalised(instruction) if isinstance(instruction, str) else instruction,
            {dep: tasks[dep].output for dep in task.needs},
        ]
        try:
            return msgspec.json.encode(asked, order="sorted")
        except (TypeError, msgspec.EncodeError):
            return None

    def asking(self, tid: str) -> None:
        """`tid` started: an identical task waits for its answer rather than ask again."""
        key = self.key(self.state.tasks[tid].task)
        if key is not None:
            self._asked.setdefault(key, tid)

    def answered(self, tid: str) -> None:
        """An attempt of `tid` ended (its answer, if it has one, is remembered)."""
        st = self.state.tasks[tid]
        key = self.key(st.task)
        if key is None:
            return
        if self._asked.get(key) == tid:
            del self._asked[key]
        if st.status == SUCCEEDED:
            self._answered.setdefault(key, tid)

    def remember(self, tid: str) -> None:
        """`tid` succeeded: later identical tasks may take its output."""
        key = self.key(self.state.tasks[tid].task)
        if key is not None:
            self._answered.setdefault(key, tid)

    def find(self, task: Task) -> tuple[str | None, str | None]:
        """(the task that already answered what `task` asks, the one in flight that asks it):
        at most one of them, or neither."""
        key = self.key(task)
        if key is None:
            return None, None
        source = self._answered.get(key)
        tasks = self.state.tasks
        if source is not None and source != task.id and tasks[source].status == SUCCEEDED:
            return source, None
        asker = self._asked.get(key)
        return None, (asker if asker != task.id else None)
