"""An in-memory store: for tests and for runs that need no durability."""

from __future__ import annotations

import time
from collections.abc import Collection, Sequence

from podium.events import AnyEvent, ApprovalRequested, Event, RunSubmitted, Usage
from podium.exceptions import JournalConflict, RunNotFound
from podium.store._lease import DEFAULT_LEASE_S, Lease
from podium.store._outcomes import Outcome, OutcomeStats, aggregate
from podium.store._protocol import (
    FINAL,
    UNLEASED,
    RunInfo,
    check_fence,
    grantable,
    lease_held,
    lease_lost,
    pending_requests,
    status_after,
    usage_of_events,
)


class _Row:
    """The run index entry, updated in place on every append."""

    __slots__ = (
        "cancel",
        "created_at",
        "lease_expires",
        "lease_owner",
        "lease_token",
        "name",
        "status",
        "updated_at",
    )

    def __init__(self, name: str, created_at: float) -> None:
        self.name = name
        self.status = "running"
        self.created_at = created_at
        self.updated_at = created_at
        self.lease_owner: str | None = None
        self.lease_token = 0
        self.lease_expires: float | None = None
        self.cancel: str | None = None

    def lease(self) -> tuple[str | None, int, float | None]:
        return self.lease_owner, self.lease_token, self.lease_expires


class MemoryStore:
    """Keeps journals in process memory. Events are kept as objects, never encoded."""

    def __init__(self) -> None:
        self._journals: dict[str, list[AnyEvent]] = {}
        self._runs: dict[str, _Row] = {}
        self._outcomes: dict[tuple[str, str], OutcomeStats] = {}

    async def open(self) -> None:
        return None

    async def close(self) -> None:
        return None

    async def create_run(
        self,
        run_id: str,
        submitted: RunSubmitted,
        *,
        name: str = "",
        owner: str | None = None,
        lease_s: float = DEFAULT_LEASE_S,
    ) -> bool:
        if run_id in self._journals:
            return False
        self._journals[run_id] = [submitted]
        row = self._runs[run_id] = _Row(name, submitted.ts)
        if owner is not None:
            row.lease_owner, row.lease_token = owner, 1
            row.lease_expires = time.time() + lease_s
        return True

    async def append(
        self, run_id: str, events: Sequence[Event], *, fence: int | None = None
    ) -> None:
        journal = self._journals.get(run_id)
        if journal is None:
            raise RunNotFound(f"no run {run_id!r} in this store")
        row = self._runs[run_id]
        held = fence is not None and fence == row.lease_token and row.lease_owner is not None
        if not held and (fence is not None or row.lease_owner is not None):
            check_fence(run_id, fence, row.lease(), time.time())  # refuses, or an unleased run
        last = journal[-1].seq
        expected = last + 1
        for ev in events:
            if ev.seq < expected:
                raise JournalConflict(
                    f"run {run_id!r}: event seq {ev.seq} is already taken (last is {last})"
                )
            expected = ev.seq + 1
        journal.extend(events)  # type: ignore[arg-type]
        status = status_after(events)
        if status is not None:
            row.status = status
            if status in UNLEASED:
                row.lease_owner = row.lease_expires = None
            if status in FINAL:
                row.cancel = None
        row.updated_at = time.time()

    def _row(self, run_id: str) -> _Row:
        row = self._runs.get(run_id)
        if row is None:
            raise RunNotFound(f"no run {run_id!r} in this store")
        return row

    async def acquire(
        self,
        run_id: str,
        owner: str,
        *,
        lease_s: float = DEFAULT_LEASE_S,
        takeover: int | None = None,
    ) -> Lease:
        row = self._row(run_id)
        now = time.time()
        if not grantable(owner, row.lease(), now, takeover):
            raise lease_held(run_id, row.lease())
        if row.lease_owner != owner:
            row.lease_token += 1
        row.lease_owner, row.lease_expires = owner, now + lease_s
        return Lease(
            run_id=run_id,
            owner=owner,
            token=row.lease_token,
            expires_at=row.lease_expires,
            cancel=row.cancel,
        )

    async def renew(self, lease: Lease, *, lease_s: float = DEFAULT_LEASE_S) -> Lease:
        row = self._row(lease.run_id)
        if row.lease_owner is None or row.lease_token != lease.token:
            raise lease_lost(lease, row.lease_owner)
        row.lease_expires = time.time() + lease_s
        return Lease(
            run_id=lease.run_id,
            owner=lease.owner,
            token=lease.token,
            expires_at=row.lease_expires,
            cancel=row.cancel,
        )

    async def release(self, lease: Lease) -> None:
        row = self._runs.get(lease.run_id)
        if row is not None and row.lease_token == lease.token:
            row.lease_owner = row.lease_expires = None

    async def request_cancel(self, run_id: str, reason: str) -> None:
        self._row(run_id).cancel = reason

    async def load(self, run_id: str, *, after_seq: int = -1) -> list[AnyEvent]:
        journal = self._journals.get(run_id)
        if journal is None:
            raise RunNotFound(f"no run {run_id!r} in this store")
        if after_seq < 0:
            return list(journal)
        return [ev for ev in journal if ev.seq > after_seq]

    def _info(self, run_id: str, row: _Row) -> RunInfo:
        return RunInfo(
            run_id=run_id,
            status=row.status,
            created_at=row.created_at,
            updated_at=row.updated_at,
            name=row.name,
            events=len(self._journals[run_id]),
            lease_owner=row.lease_owner,
            lease_expires_at=row.lease_expires,
        )

    async def get_run(self, run_id: str) -> RunInfo | None:
        row = self._runs.get(run_id)
        return None if row is None else self._info(run_id, row)

    async def list_runs(self, *, limit: int = 100) -> list[RunInfo]:
        runs = sorted(self._runs.items(), key=lambda r: r[1].created_at, reverse=True)
        return [self._info(run_id, row) for run_id, row in runs[:limit]]

    async def run_usage(self, run_ids: Sequence[str]) -> dict[str, Usage]:
        found = {r: usage_of_events(self._journals.get(r, ())) for r in set(run_ids)}
        return {r: used for r, used in found.items() if used is not None}

    async def record_outcomes(self, outcomes: Sequence[Outcome | OutcomeStats]) -> None:
        for key, stats in aggregate(outcomes).items():
            before = self._outcomes.get(key)
            self._outcomes[key] = stats if before is None else before.plus(stats)

    async def outcome_stats(self, *, kinds: Collection[str] | None = None) -> list[OutcomeStats]:
        wanted = None if kinds is None else set(kinds)
        return [
            stats
            for key, stats in sorted(self._outcomes.items())
            if wanted is None or key[0] in wanted
        ]

    async def pending_approvals(self, *, limit: int = 1000) -> list[ApprovalRequested]:
        waiting = [run_id for run_id, row in self._runs.items() if row.status == "waiting"]
        return pending_requests(
            (ev for run_id in waiting for ev in self._journals[run_id]), limit=limit
        )
