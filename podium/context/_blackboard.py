"""The blackboard: a run's shared, versioned context.

Entries are written through `ContextWritten` events, so the board is a fold over the journal like
everything else. A task writes through its `ContextView`; the writes are buffered and committed
with the task's success, so a failed attempt leaves the board unchanged.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import msgspec

from podium.exceptions import ContextConflict, ContextScopeError, TaskError

JSON = Any
Reducer = Callable[[JSON, JSON], JSON]
MergeMode = Literal["error", "last", "append"]
DriftAction = Literal["retry", "accept", "fail"]


_NOTHING: frozenset[str] = frozenset()
_SUMMARY = "~summary"  # podium.context._summarise.SUMMARY_SUFFIX (which imports this module)


class Entry(msgspec.Struct, frozen=True, kw_only=True):
    """One version of one key."""

    key: str
    value: JSON
    version: int
    task: str
    agent: str | None = None
    sources: tuple[str, ...] = ()
    confidence: float | None = None
    ts: float = 0.0


@dataclass(frozen=True, slots=True)
class MergePolicy:
    """How writes to one key by tasks not ordered by their dependencies combine.

    `mode` is ``"error"`` (the default: such writes are a conflict), ``"last"`` (the last writer
    wins), ``"append"`` (the value is a list and each write appends) or ``"reduce"`` with `reducer`
    called as ``reducer(current, written)``. `on_drift` says what happens when the key changes
    while a task that read it runs (see `podium.context._drift`; ``None``: the task's setting,
    else ``"retry"``).
    """

    mode: Literal["error", "last", "append", "reduce"] = "error"
    reducer: Reducer | None = None
    on_drift: DriftAction | None = None


@dataclass(frozen=True, slots=True)
class ContextPolicy:
    """Merge policies by key (keys not listed use `default`)."""

    merge: Mapping[str, MergePolicy] = field(default_factory=dict)
    default: MergePolicy = MergePolicy()

    def for_key(self, key: str) -> MergePolicy:
        return self.merge.get(key, self.default)


class Blackboard:
    """Every version of every key in a run."""

    __slots__ = ("_entries",)

    def __init__(self) -> None:
        self._entries: dict[str, list[Entry]] = {}

    def add(self, entry: Entry) -> None:
        self._entries.setdefault(entry.key, []).append(entry)

    def latest(self, key: str) -> Entry | None:
        versions = self._entries.get(key)
        return versions[-1] if versions else None

    def history(self, key: str) -> list[Entry]:
        """Every version of `key`, oldest first."""
        return list(self._entries.get(key, ()))

    def keys(self) -> list[str]:
        return sorted(self._entries)

    def snapshot(self) -> dict[str, JSON]:
        """The latest value of every key."""
        return {k: v[-1].value for k, v in sorted(self._entries.items())}

    def check(self, key: str, *, task: str, upstream: Collection[str], policy: MergePolicy) -> None:
        """Raise `ContextConflict` if `task` may not write `key` under the ``error`` policy.

        A write conflicts when the key's latest version came from a task that is neither this
        one nor upstream of it: the two writers are not ordered by their dependencies.
        """
        current = self.latest(key)
        if policy.mode != "error" or current is None:
            return
        if current.task != task and current.task not in upstream:
            raise ContextConflict(
                f"task {task!r} and task {current.task!r} both write context key {key!r} "
                "but neither depends on the other; declare a merge policy for the key "
                "(last, append or a reducer) or order the tasks with `needs`"
            )

    def merge(self, key: str, value: JSON, *, policy: MergePolicy) -> tuple[JSON, int]:
        """The value and version a (checked) write of `value` to `key` produces."""
        current = self.latest(key)
        if current is None:
            return ([value] if policy.mode == "append" else value), 1
        version = current.version + 1
        if policy.mode == "append":
            base = current.value if isinstance(current.value, list) else [current.value]
            return [*base, value], version
        if policy.mode == "reduce" and policy.reducer is not None:
            return policy.reducer(current.value, value), version
        return value, version


@dataclass(frozen=True, slots=True, kw_only=True)
class PendingWrite:
    key: str
    value: JSON
    sources: tuple[str, ...]
    confidence: float | None
    agent: str | None = None
    """Who wrote it, when not the agent that commits it (a summariser)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class KeyScope:
    """The blackboard keys an agent may read and write, whatever task it is given (``None``:
    it declares no bound). A task's own `reads` and `writes` are checked within it."""

    agent: str
    reads: frozenset[str] | None = None
    writes: frozenset[str] | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Denial:
    """A refused access to one key: ``context_read`` or ``context_write``, and why."""

    access: Literal["context_read", "context_write"]
    key: str
    reason: str


class ContextView:
    """A task's scoped view of the blackboard.

    It reads only the keys the task declares in `reads` (plus what it writes itself) and writes
    only those in `writes` (any key when the task declares none); an agent's own bound
    (`KeyScope`) narrows both. Writes are buffered until the task succeeds. Every refusal raises
    `ContextScopeError` and is kept in `denied`, which the runtime journals (`AccessDenied`)
    even when the agent catches the error.
    """

    __slots__ = ("_board", "_bound", "_readable", "_task", "_writable", "denied", "pending")

    def __init__(
        self,
        board: Blackboard,
        *,
        task: str,
        reads: Collection[str],
        writes: Collection[str] | None = None,
        bound: KeyScope | None = None,
    ) -> None:
        self._board = board
        self._task = task
        self._readable = frozenset(reads) if reads else _NOTHING
        self._writable = None if writes is None else frozenset(writes)
        self._bound = bound
        self.pending: list[PendingWrite] = []
        self.denied: list[Denial] = []

    def _refuse(self, access: Literal["context_read", "context_write"], key: str, why: str) -> None:
        if not any(d.access == access and d.key == key for d in self.denied):
            self.denied.append(Denial(access=access, key=key, reason=why))
        raise ContextScopeError(why, key=key, access=access)

    def _outside_bound(self, key: str, *, write: bool) -> str | None:
        """Why the agent's bound refuses `key`, or ``None``."""
        bound = self._bound
        keys = None if bound is None else (bound.writes if write else bound.reads)
        if keys is None or key in keys:
            return None
        assert bound is not None
        field = "writes" if write else "reads"
        verb = "write" if write else "read"
        return (
            f"agent {bound.agent!r} may not {verb} context key {key!r} (task {self._task!r}):"
            f" it is not among the agent's `{field}` {sorted(keys)}"
        )

    def _check(self, key: str) -> None:
        base = key[: -len(_SUMMARY)] if key.endswith(_SUMMARY) else key
        own = any(w.key == key for w in self.pending)
        if key not in self._readable and base not in self._readable and not own:
            self._refuse(
                "context_read",
                key,
                f"task {self._task!r} reads context key {key!r} without declaring it;"
                " add it to the task's `reads`",
            )
        why = None if own else self._outside_bound(base, write=False)
        if why is not None:  # the summaries of a readable key are readable
            self._refuse("context_read", key, why)

    def get(self, key: str, default: JSON = None) -> JSON:
        """The latest value of a declared key (this task's own pending write first)."""
        self._check(key)
        for w in reversed(self.pending):
            if w.key == key:
                return w.value
        entry = self._board.latest(key)
        return default if entry is None else entry.value

    def entry(self, key: str) -> Entry | None:
        """The latest committed entry of a declared key, with its provenance."""
        self._check(key)
        return self._board.latest(key)

    def history(self, key: str) -> list[Entry]:
        self._check(key)
        return self._board.history(key)

    def visible(self) -> dict[str, JSON]:
        """Latest values of the declared keys that exist (a key the agent's bound withholds
        is left out, and kept in `denied`)."""
        out: dict[str, JSON] = {}
        for key in sorted(self._readable):
            entry = self._board.latest(key)
            if entry is None:
                continue
            why = self._outside_bound(key, write=False)
            if why is None:
                out[key] = entry.value
            elif not any(d.key == key and d.access == "context_read" for d in self.denied):
                self.denied.append(Denial(access="context_read", key=key, reason=why))
        return out

    def write(
        self,
        key: str,
        value: JSON,
        *,
        sources: Collection[str] = (),
        confidence: float | None = None,
    ) -> None:
        """Write `key`; committed as a new version when the task succeeds.

        Raises:
            ContextScopeError: `key` is not among the task's `writes` (when it declares them)
                or its agent's.
        """
        if self._writable is not None and key not in self._writable:
            self._refuse(
                "context_write",
                key,
                f"task {self._task!r} writes context key {key!r}, which is not among its"
                f" `writes` {sorted(self._writable)}; add it there",
            )
        why = self._outside_bound(key, write=True)
        if why is not None:
            self._refuse("context_write", key, why)
        if confidence is not None and not 0.0 <= confidence <= 1.0:
            raise TaskError(
                f"confidence must be within [0, 1], got {confidence!r}",
                kind="context_value",
                retryable=False,
            )
        try:
            msgspec.json.encode(value)
        except (TypeError, msgspec.EncodeError) as exc:
            raise TaskError(
                f"context key {key!r}: value is not JSON-serialisable: {exc}",
                kind="context_value",
                retryable=False,
            ) from None
        self.pending.append(
            PendingWrite(key=key, value=value, sources=tuple(sources), confidence=confidence)
        )
