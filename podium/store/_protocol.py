"""The store protocol: where journals live.

A store keeps, per run, the append-only list of its events, and a small index of runs (status,
timestamps) so runs can be listed without reading every journal. Every backend passes the same
contract suite (`tests/store/test_contract.py`).

Rules every backend keeps:
- `append` is atomic: all of its events land, or none.
- Sequence numbers are unique per run; appending an event whose `seq` is already taken raises
  `JournalConflict` (two processes driving one run), and nothing of that append lands.
- `load` returns events in `seq` order, decoded with `podium.events.decode`.
- The run index's `status` follows the journal: a terminal event sets it in the same transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import msgspec

from podium.events import (
    AnyEvent,
    Event,
    RunCancelled,
    RunFailed,
    RunPartiallySucceeded,
    RunSubmitted,
    RunSucceeded,
)


class RunInfo(msgspec.Struct, frozen=True, kw_only=True):
    """One row of the run index."""

    run_id: str
    status: str
    created_at: float
    updated_at: float
    name: str = ""
    events: int = 0


@runtime_checkable
class Store(Protocol):
    """Where journals, and the index of runs, live."""

    async def open(self) -> None:
        """Connect and create the schema if needed. Idempotent."""
        ...

    async def close(self) -> None: ...

    async def create_run(self, run_id: str, submitted: RunSubmitted, *, name: str = "") -> bool:
        """Start a journal with its `RunSubmitted` event; ``False`` if the run already exists."""
        ...

    async def append(self, run_id: str, events: Sequence[Event]) -> None:
        """Append events atomically (see the module docstring for the rules)."""
        ...

    async def load(self, run_id: str, *, after_seq: int = -1) -> list[AnyEvent]:
        """The run's events with `seq` greater than `after_seq`, in order.

        Raises `RunNotFound` when the store has no such run.
        """
        ...

    async def get_run(self, run_id: str) -> RunInfo | None: ...

    async def list_runs(self, *, limit: int = 100) -> list[RunInfo]:
        """Most recently created first."""
        ...


_STATUS = {
    RunSucceeded: "succeeded",
    RunPartiallySucceeded: "partially_succeeded",
    RunFailed: "failed",
    RunCancelled: "cancelled",
}


def status_after(events: Sequence[Event]) -> str | None:
    """The run status a batch of events sets, if it sets one (for the run index)."""
    for ev in reversed(events):
        status = _STATUS.get(type(ev))
        if status is not None:
            return status
    return None
