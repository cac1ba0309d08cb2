"""Context drift: an entry a task read changed before the task committed.

An attempt reads the latest version of each key in its `reads` when it starts. Tasks that run
at the same time may write those keys meanwhile; when the attempt commits, each key it read is
compared with the board. A key whose latest version is no longer the one read (and was not
written by the task itself) has drifted, and its policy (`on_drift` of the key's
`MergePolicy`, else of the task, else ``retry``) says what happens:

- ``retry``: the attempt commits nothing and the task runs again, reading the new version;
  once — when the retry drifts too (a key that concurrent writers keep changing, say an
  ``append`` key), it commits as ``accept`` would, rather than chase the key;
- ``accept``: the attempt commits as it is (its output rests on the version it read);
- ``fail``: the attempt commits nothing and the task fails.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from podium.context._blackboard import Blackboard, Entry
from podium.context._summarise import is_summary_key

DriftAction = Literal["retry", "accept", "fail"]
DRIFT_ACTIONS: tuple[DriftAction, ...] = ("retry", "accept", "fail")
DRIFT_ERROR = "context_drift"
"""The error type of an attempt refused for drift."""


@dataclass(frozen=True, slots=True)
class Drift:
    """One key that changed under a task: the version it read and the one on the board now."""

    key: str
    read_version: int
    version: int
    by_task: str


def read_versions(context: Mapping[str, Sequence[Entry]], reads: Collection[str]) -> dict[str, int]:
    """The version of each key in `reads` an attempt saw (0: the key did not exist yet)."""
    out = {}
    for key in reads:
        versions = context.get(key)
        out[key] = versions[-1].version if versions else 0
    return out


def drifted(board: Blackboard, read: Mapping[str, int], *, task: str) -> list[Drift]:
    """The keys of `read` whose latest version on `board` differs from the one read (writes of
    `task` itself and summaries do not count)."""
    out = []
    for key, version in sorted(read.items()):
        latest = board.latest(key)
        if latest is None or latest.version == version or is_summary_key(key):
            continue
        if latest.task == task:
            continue
        out.append(Drift(key, version, latest.version, latest.task))
    return out


def worst(actions: Collection[DriftAction]) -> DriftAction:
    """The action for several drifted keys: ``fail`` over ``retry`` over ``accept``."""
    for action in ("fail", "retry"):
        if action in actions:
            return action
    return "accept"


__all__ = [
    "DRIFT_ACTIONS",
    "DRIFT_ERROR",
    "Drift",
    "DriftAction",
    "drifted",
    "read_versions",
    "worst",
]
