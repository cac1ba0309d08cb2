"""The store protocol: where journals live.

A store keeps, per run, the append-only list of its events, and a small index of runs (status,
timestamps) so runs can be listed without reading every journal. Every backend passes the same
contract suite (`tests/store/test_contract.py`).

Rules every backend keeps:
- `append` is atomic: all of its events land, or none.
- Sequence numbers are unique per run; appending an event whose `seq` is already taken raises
  `JournalConflict` (two processes driving one run), and nothing of that append lands.
- One driver per run (see `podium.store.Lease`): `acquire` grants a run's lease atomically to
  one owner at a time, with a fencing token that grows each time the lease changes hands. An
  append that carries a `fence` lands only while that token is the run's current, held lease
  (else `LeaseLost`); an append without one lands only while no live lease is held by anyone
  (else `LeaseHeld`). An append that ends, parks or interrupts the run releases its lease in the
  same transaction.
- Transient failures (a lock held too long, a dropped connection, a server restarting) are
  retried with backoff, reconnecting where needed, for a bounded time; what still fails raises
  `StoreError`. A retried append whose first try did land is not written twice.
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
    ModelCalled,
    PlanProposed,
    RunCancelled,
    RunFailed,
    RunInterrupted,
    RunPartiallySucceeded,
    RunResumed,
    RunSubmitted,
    RunSucceeded,
    RunWaiting,
    Usage,
)
from podium.exceptions import LeaseHeld, LeaseLost
from podium.store._lease import DEFAULT_LEASE_S, Lease, describe_owner, lease_message
from podium.store._outcomes import Outcome, OutcomeStats


class RunInfo(msgspec.Struct, frozen=True, kw_only=True):
    """One row of the run index."""

    run_id: str
    status: str
    created_at: float
    updated_at: float
    name: str = ""
    events: int = 0
    lease_owner: str | None = None
    """Who drives the run now (``host/pid/nonce``), if a live or expired lease is held."""
    lease_expires_at: float | None = None


@runtime_checkable
class Store(Protocol):
    """Where journals, and the index of runs, live."""

    async def open(self) -> None:
        """Connect and create the schema if needed. Idempotent."""
        ...

    async def close(self) -> None: ...

    async def create_run(
        self,
        run_id: str,
        submitted: RunSubmitted,
        *,
        name: str = "",
        owner: str | None = None,
        lease_s: float = DEFAULT_LEASE_S,
    ) -> bool:
        """Start a journal with its `RunSubmitted` event; ``False`` if the run already exists.

        With an `owner`, the new run starts leased to it, with fencing token 1, for `lease_s`.
        """
        ...

    async def append(
        self, run_id: str, events: Sequence[Event], *, fence: int | None = None
    ) -> None:
        """Append events atomically (see the module docstring for the rules).

        Raises:
            JournalConflict: a `seq` is taken already.
            LeaseLost: `fence` is not the run's current lease token.
            LeaseHeld: no `fence`, and another owner holds a live lease.
            RunNotFound: no such run.
        """
        ...

    async def acquire(
        self,
        run_id: str,
        owner: str,
        *,
        lease_s: float = DEFAULT_LEASE_S,
        takeover: int | None = None,
    ) -> Lease:
        """Take the run's lease for `lease_s`: granted when nobody holds it, when the holder's
        lease has expired, when `owner` holds it already (then it is renewed, same token), or
        when `takeover` is the holder's current token (its holder is known to be dead).

        Raises:
            LeaseHeld: someone else holds a live lease (its owner and expiry are attached).
            RunNotFound: no such run.
        """
        ...

    async def renew(self, lease: Lease, *, lease_s: float = DEFAULT_LEASE_S) -> Lease:
        """Extend a held lease; the result carries a pending cancel request, if any.

        Raises:
            LeaseLost: the lease is no longer this one (taken over, or released).
        """
        ...

    async def release(self, lease: Lease) -> None:
        """Give the lease up, if it is still this one (else nothing happens)."""
        ...

    async def request_cancel(self, run_id: str, reason: str) -> None:
        """Ask whoever drives the run to cancel it: the holder sees `reason` when it next renews
        its lease (and a driver that acquires it later, at once).

        Raises:
            RunNotFound: no such run.
        """
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

    async def record_outcomes(self, outcomes: Sequence[Outcome | OutcomeStats]) -> None:
        """Add task outcomes (or sums of them) to the statistics of their (kind, agent) pairs,
        atomically.

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

    async def run_usage(self, run_ids: Sequence[str]) -> dict[str, Usage]:
        """The tokens and cost of each of `run_ids` so far, as `RunState.usage` counts them
        (its model calls and planner calls), in one read, without decoding the journals.

        A run without such events, or unknown, is left out.
        """
        ...


_STATUS = {
    RunSucceeded: "succeeded",
    RunPartiallySucceeded: "partially_succeeded",
    RunFailed: "failed",
    RunCancelled: "cancelled",
    RunWaiting: "waiting",
    RunInterrupted: "interrupted",
    RunResumed: "running",
}

UNLEASED = frozenset(
    {"succeeded", "partially_succeeded", "failed", "cancelled", "waiting", "interrupted"}
)
"""Statuses in which nobody drives a run: the append that sets one releases the lease."""
FINAL = frozenset({"succeeded", "partially_succeeded", "failed", "cancelled"})
"""Statuses of finished runs (a pending cancel request is dropped with the lease)."""


def run_info_from_row(row: tuple[Any, ...]) -> RunInfo:
    """A `RunInfo` from a run-index row ``(run_id, status, name, created_at, updated_at,
    events, lease_owner, lease_expires)``, as the SQL stores select it."""
    run_id, status, name, created_at, updated_at, events, owner, expires = row
    return RunInfo(
        run_id=run_id,
        status=status,
        name=name,
        created_at=created_at,
        updated_at=updated_at,
        events=events,
        lease_owner=owner,
        lease_expires_at=expires if owner is not None else None,
    )


def check_fence(
    run_id: str,
    fence: int | None,
    row: tuple[str | None, int, float | None],
    now: float,
) -> None:
    """Whether an append with `fence` may land on a run whose lease is `row` = ``(owner, token,
    expires_at)``; raises `LeaseLost` or `LeaseHeld` when not (the rule of the module docstring).
    """
    owner, token, expires = row
    if fence is not None:
        if owner is None or token != fence:
            raise LeaseLost(
                f"run {run_id!r}: this driver's lease (token {fence}) is no longer held"
                + ("" if owner is None else f"; {describe_owner(owner)} holds it now")
            )
        return
    if owner is not None and expires is not None and expires >= now:
        raise lease_held(run_id, row)


def grantable(
    owner: str,
    row: tuple[str | None, int, float | None],
    now: float,
    takeover: int | None,
) -> bool:
    """Whether `acquire` may grant the lease `row` = ``(owner, token, expires_at)`` to `owner`."""
    holder, token, expires = row
    return (
        holder is None
        or holder == owner
        or expires is None
        or expires < now
        or (takeover is not None and takeover == token)
    )


def lease_held(run_id: str, row: tuple[str | None, int, float | None]) -> LeaseHeld:
    """The refusal of a second driver, naming the holder of the lease `row`."""
    holder, token, expires = row
    assert holder is not None
    until = expires if expires is not None else 0.0
    return LeaseHeld(
        lease_message(run_id, holder, until),
        run_id=run_id,
        owner=holder,
        expires_at=until,
        token=token,
    )


def lease_lost(lease: Lease, holder: str | None) -> LeaseLost:
    who = "" if holder is None else f"; {describe_owner(holder)} holds it now"
    return LeaseLost(f"run {lease.run_id!r}: the lease (token {lease.token}) is lost{who}")


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


USAGE_PREFIXES = (b'{"kind":"ModelCalled"', b'{"kind":"PlanProposed"')
"""How the encoded events that count in a run's usage start (see `Store.run_usage`)."""


def usage_of_events(events: Iterable[AnyEvent]) -> Usage | None:
    """The usage `RunState` folds from `events` (``None`` if none counts)."""
    used: Usage | None = None
    for ev in events:
        if isinstance(ev, ModelCalled | PlanProposed):
            used = used or Usage()
            cost = ev.cost_usd if isinstance(ev, ModelCalled) else 0.0
            used.add(
                Usage(input_tokens=ev.input_tokens, output_tokens=ev.output_tokens, cost_usd=cost)
            )
    return used


def usage_from_rows(rows: Iterable[tuple[Any, ...]]) -> dict[str, Usage]:
    """`Store.run_usage` from ``(run_id, input_tokens, output_tokens, cost_usd)`` sums."""
    return {
        run_id: Usage(input_tokens=int(i or 0), output_tokens=int(o or 0), cost_usd=float(c or 0))
        for run_id, i, o, c in rows
    }


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
