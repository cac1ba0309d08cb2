"""Side effects: stable idempotency keys, action hashes, and the gate every tool call passes.

A task attempt can run more than once: after a crash (the attempt in flight is run again), after a
retry, after an approval. A model's call ids differ between those runs, so they cannot name an
effect. What stays the same is *which* side-effecting call it is within the task and *what* it
does, so the key of a tool call is::

    {run_id}/{task_id}/{n}:{digest}

where ``n`` is the call's ordinal among the side-effecting (``write`` / ``irreversible``) calls of
the attempt, from 1, and ``digest`` the first 16 hex digits of `action_hash` (a SHA-256 of the
canonical JSON of the tool name and arguments). Read-only calls get ``r{n}`` ordinals of their
own, so adding a lookup does not renumber the writes. A Python agent names its effects itself:
`TaskCall.idempotency_key(name)` is ``{run_id}/{task_id}/{name}``. Neither depends on the attempt
number, so a retry that repeats an effect repeats its key too.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import msgspec

if TYPE_CHECKING:
    from podium.tools._tool import Tool

JSON = Any

_canonical = msgspec.json.Encoder(order="sorted")


def canonical_json(value: JSON) -> bytes:
    """JSON with sorted keys and no spaces: equal values give equal bytes."""
    return _canonical.encode(value)


def action_hash(tool: str, arguments: Mapping[str, JSON]) -> str:
    """SHA-256 (hex) of a tool call: what an approval of the call is bound to."""
    return hashlib.sha256(canonical_json({"tool": tool, "arguments": arguments})).hexdigest()


def task_hash(task_id: str, instruction: str) -> str:
    """SHA-256 (hex) of a task about to run: its id and its rendered instruction."""
    return hashlib.sha256(canonical_json({"task": task_id, "instruction": instruction})).hexdigest()


def effect_key(run_id: str, task_id: str, name: str) -> str:
    """The idempotency key of a named effect of a task (what `TaskCall.idempotency_key` gives)."""
    return f"{run_id}/{task_id}/{name}"


@dataclass(frozen=True, slots=True)
class Admission:
    """A tool call that may go ahead: its idempotency key, the action hash of a side-effecting
    call (`ToolCalled.action_hash`), and, when the same call already took effect (in an earlier
    attempt, or under an approval that was used), its recorded result (`replayed`)."""

    key: str
    replayed: bool = False
    result: JSON = None
    action_hash: str = ""


class ToolGate(Protocol):
    """Asked before each tool call of one attempt.

    Returns the call's `Admission`, or raises a control signal (e.g. the call needs a human's
    approval first: `podium.policy.ApprovalNeeded`) that ends the attempt without failing it.
    """

    def admit(self, tool: Tool, arguments: Mapping[str, JSON]) -> Admission: ...


class KeyedGate:
    """The plain gate: numbers the calls of one attempt and gives each its idempotency key."""

    __slots__ = ("_reads", "_writes", "run_id", "task_id")

    def __init__(self, run_id: str, task_id: str) -> None:
        self.run_id = run_id
        self.task_id = task_id
        self._writes = 0
        self._reads = 0

    def key(self, tool: Tool, digest: str) -> str:
        """The key of the next call of `tool` (advances the ordinal)."""
        if tool.effect == "read":
            self._reads += 1
            ordinal = f"r{self._reads}"
        else:
            self._writes += 1
            ordinal = str(self._writes)
        return effect_key(self.run_id, self.task_id, f"{ordinal}:{digest[:16]}")

    def admit(self, tool: Tool, arguments: Mapping[str, JSON]) -> Admission:
        digest = action_hash(tool.name, arguments)
        return Admission(self.key(tool, digest), action_hash=_effect_hash(tool, digest))


def _effect_hash(tool: Tool, digest: str) -> str:
    """The action hash a `ToolCalled` records: only for side-effecting calls."""
    return "" if tool.effect == "read" else digest


__all__ = [
    "Admission",
    "KeyedGate",
    "ToolGate",
    "action_hash",
    "canonical_json",
    "effect_key",
    "task_hash",
]
