"""The store protocol: where journals live.

A store keeps, per run, the append-only list of its events, and a small index of runs (status,
timestamps) so runs can be listed without reading every journal. Every backend passes the same
contract suite (`tests/store/test_contract.py`).

Rules every backend keeps:
- `append` is atomic: all of its events land, or none.
- Sequence numbers are unique per run; appending an event whose `seq` is already taken raises
  `JournalConflict` (two processes driving one run), and nothing of that append lands.
- `load` returns events in `seq` order, decoded with `podium.events.decode`.
- The run index's `status` follows the journal: a terminal event sets it in the same transaction,
  `RunWaiting` sets ``waiting`` and `RunResumed` ``running`` again.
- `pending_approvals` answers from the index: the runs in status ``waiting`` and the approval
  events of their journals (nothing else is kept, so nothing can disagree with the journal).
- `record_outcomes` adds to the per (kind, agent) sums atomically; concurrent recorders on one
  storage never lose an outcome.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from typing import Any, Protocol, runtime_checkable

import msgspec

from podium.events import (
    AnyEvent,
    ApprovalGranted,
    ApprovalRejected,
    ApprovalRequested,
    Event,
    RunCancelled,
    RunFailed,
    RunPartiallySucceeded,
    RunResumed,
    RunSubmitted,
    RunSucceeded,
    RunWaiting,
)
from podium.store._outcomes import Outcome, OutcomeStats


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

    async def record_outcomes(self, outcomes: Sequence[Outcome]) -> None:
        """Add task outcomes to the statistics of their (kind, agent) pairs, atomically.

        Shared by every run on the store: what run N learns, run N+1 routes by.
        """
        ...

    async def outcome_stats(self, *, kinds: Collection[str] | None = None) -> list[OutcomeStats]:
        """Statistics per (kind, agent) pair, ordered by kind, then agent.

        Every pair, or only those whose kind is in `kinds`.
        """
        ...

    async def pending_approvals(self, *, limit: int = 1000) -> list[ApprovalRequested]:
        """Approval requests that parked runs wait on, oldest first, at most `limit`.

        The `ApprovalRequested` events, not yet answered by an `ApprovalGranted` or
        `ApprovalRejected`, of the runs whose status is ``waiting`` (see `pending_requests`).
        """
        ...


_STATUS = {
    RunSucceeded: "succeeded",
    RunPartiallySucceeded: "partially_succeeded",
    RunFailed: "failed",
    RunCancelled: "cancelled",
    RunWaiting: "waiting",
    RunResumed: "running",
}


def run_info_from_row(row: tuple[Any, ...]) -> RunInfo:
    """A `RunInfo` from a run-index row ``(run_id, status, name, created_at, updated_at,
    events)``, as the SQL stores select it."""
    run_id, status, name, created_at, updated_at, events = row
    return RunInfo(
        run_id=run_id,
        status=status,
        name=name,
        created_at=created_at,
        updated_at=updated_at,
        events=events,
    )


def status_after(events: Sequence[Event]) -> str | None:
    """The run status a batch of events sets, if it sets one (for the run index)."""
    for ev in reversed(events):
        status = _STATUS.get(type(ev))
        if status is not None:
            return status
    return None


APPROVAL_PREFIX = b'{"kind":"Approval'
"""How every encoded approval event starts (msgspec writes the tag first), so a store can pick
them out of a journal without decoding the rest."""


def pending_requests(events: Iterable[AnyEvent], *, limit: int) -> list[ApprovalRequested]:
    """The requests that no decision answered, oldest first: a decision answers the latest
    request of the same run, task and action hash."""
    open_: dict[tuple[str, str, str], ApprovalRequested] = {}
    for ev in events:
        if isinstance(ev, ApprovalRequested):
            open_[(ev.run_id, ev.task, ev.action_hash)] = ev
        elif isinstance(ev, ApprovalGranted | ApprovalRejected):
            open_.pop((ev.run_id, ev.task, ev.action_hash), None)
    return sorted(open_.values(), key=lambda ev: (ev.ts, ev.run_id, ev.seq))[:limit]
