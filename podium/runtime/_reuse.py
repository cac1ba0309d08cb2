"""Reusing answers: a task identical to one already answered in the run takes that answer.

Identical means the same agent (or capability), output schema and item, the same instruction once
rendered and normalised (case and spacing), and the same outputs of the tasks it needs. A planner
often proposes the same task twice; asking an agent again would cost a call for nothing. The
reusing task's `TaskSucceeded` names the task it took the answer from (`reused_from`), and it
writes nothing to the blackboard (the original's writes are there already).

Only runs planned from a goal reuse answers: in a workflow written by hand, two identical tasks may
be meant to run twice (sampling, side effects).
"""

from __future__ import annotations

from typing import Any

import msgspec

from podium.plan import Task, TemplateError, render
from podium.runtime._state import SUCCEEDED, RunState

JSON = Any


def normalised(text: str) -> str:
    """Case-folded, with runs of whitespace collapsed."""
    return " ".join(text.split()).casefold()


class AnswerCache:
    """The answered tasks of one run, by what they were asked."""

    def __init__(self, state: RunState) -> None:
        self.state = state
        self._answered: dict[bytes, str] = {}
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

    def remember(self, tid: str) -> None:
        """`tid` succeeded: later identical tasks may take its output."""
        key = self.key(self.state.tasks[tid].task)
        if key is not None:
            self._answered.setdefault(key, tid)

    def find(self, task: Task) -> str | None:
        """The task that already answered what `task` asks, if any."""
        key = self.key(task)
        source = None if key is None else self._answered.get(key)
        if source is None or source == task.id:
            return None
        return source if self.state.tasks[source].status == SUCCEEDED else None
