"""A run's journal indexed for the detectors: its tasks, their outputs and attempts, and a
lexical measure of how much two texts share."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from podium.events import (
    AnyEvent,
    PlanAccepted,
    PlanExtended,
    PlanRevised,
    RunCancelled,
    RunFailed,
    RunInterrupted,
    RunPartiallySucceeded,
    RunResumed,
    RunSucceeded,
    RunWaiting,
    TaskStarted,
    TaskSucceeded,
)

JSON = Any
Similarity = Callable[[str, str], float]
"""How related two texts are, from 0 (nothing in common) to 1; `lexical_similarity` by default,
an embedding cosine where one is at hand."""

_WORD = re.compile(r"[^\W\d_]{3,}", re.UNICODE)
_TEMPLATE = re.compile(r"\{\{.*?\}\}|\{%.*?%\}", re.DOTALL)
_STOP = frozenset(
    re.findall(
        r"\S+",
        """the and for with that this from into onto over under about above below what which who
        whom whose when where why how are was were been being has have had does did done not but
        all any each few more most other some such only own same than too very can will just
        should could would may might must shall its you your yours our ours their theirs they them
        his her hers him she he we us me my mine there here then these those also one two out off
        again further once both nor yet via per use using used please give make made let get""",
    )
)
_CAP = 20_000
"""Characters of a value read for words: enough to judge, bounded for huge outputs."""


def words(value: JSON) -> set[str]:
    """The content words of a value: its text, or a structure's keys and string leaves."""
    text = _TEMPLATE.sub(" ", flatten(value)[:_CAP]).lower()
    return {_stem(w) for w in _WORD.findall(text) if w not in _STOP}


def _stem(word: str) -> str:
    # plural and verb -s only: "reefs" meets "reef", and "facts" meets "fact"
    return word[:-1] if len(word) > 4 and word.endswith("s") and not word.endswith("ss") else word


def flatten(value: JSON) -> str:
    """A value's text: strings as they are; keys and leaves of a structure, space separated."""
    parts: list[str] = []
    size = 0
    stack: list[JSON] = [value]
    while stack and size < _CAP:
        item = stack.pop()
        if isinstance(item, dict):
            parts.extend(str(k) for k in item)
            stack.extend(reversed(list(item.values())))
        elif isinstance(item, list | tuple):
            stack.extend(reversed(item))
        elif item is not None and not isinstance(item, bool):
            parts.append(item if isinstance(item, str) else str(item))
        size += len(parts[-1]) if parts else 0
    return " ".join(parts)


def lexical_similarity(a: str, b: str) -> float:
    """Share of the smaller text's content words that the other text has (0 to 1)."""
    wa, wb = words(a), words(b)
    if not wa or not wb:
        return 0.0
    return len(wa & wb) / min(len(wa), len(wb))


@dataclass(slots=True)
class TaskView:
    """One task as the journal shows it."""

    id: str
    spec: dict[str, JSON]
    started: list[TaskStarted] = field(default_factory=list)
    succeeded: TaskSucceeded | None = None

    @property
    def instruction(self) -> str:
        return str(self.spec.get("instruction") or "")

    @property
    def needs(self) -> tuple[str, ...]:
        return tuple(str(n) for n in self.spec.get("needs") or ())

    @property
    def checked(self) -> bool:
        """Whether anything checks its output (a schema or declared checks)."""
        return self.spec.get("output_schema") is not None or bool(self.spec.get("checks"))


_ENDINGS: dict[type, str] = {
    RunSucceeded: "succeeded",
    RunPartiallySucceeded: "partially_succeeded",
    RunFailed: "failed",
    RunCancelled: "cancelled",
}


class Journal:
    """A run's events, indexed once for the detectors."""

    def __init__(self, events: Sequence[AnyEvent]) -> None:
        self.events = list(events)
        self.run_id = self.events[0].run_id if self.events else ""
        self.tasks: dict[str, TaskView] = {}
        for ev in self.events:
            self._index(ev)

    def _index(self, ev: AnyEvent) -> None:
        if isinstance(ev, PlanAccepted | PlanExtended | PlanRevised):
            for spec in ev.tasks:
                tid = str(spec.get("id", ""))
                self.tasks[tid] = TaskView(tid, dict(spec))
        elif isinstance(ev, TaskStarted):
            self.task(ev.task).started.append(ev)
        elif isinstance(ev, TaskSucceeded):
            self.task(ev.task).succeeded = ev

    def task(self, tid: str) -> TaskView:
        if tid not in self.tasks:  # a task the plan events did not list (an old journal)
            self.tasks[tid] = TaskView(tid, {"id": tid})
        return self.tasks[tid]

    def of(self, *kinds: type) -> Iterable[Any]:
        return (ev for ev in self.events if isinstance(ev, kinds))

    @property
    def status(self) -> str:
        """Where the run stands, from its last ending or pause."""
        for ev in reversed(self.events):
            ending = _ENDINGS.get(type(ev))
            if ending is not None:
                return ending
            if isinstance(ev, RunWaiting):
                return "waiting"
            if isinstance(ev, RunInterrupted):
                return "interrupted"
            if isinstance(ev, RunResumed):
                return "running"
        return "running"

    @property
    def finished(self) -> bool:
        return self.status in _ENDINGS.values()

    def used_by(self, tid: str) -> list[TaskView]:
        """Tasks that need `tid` and started."""
        return [t for t in self.tasks.values() if tid in t.needs and t.started]


__all__ = ["Journal", "Similarity", "TaskView", "flatten", "lexical_similarity", "words"]
