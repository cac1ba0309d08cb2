"""An in-memory store: for tests and for runs that need no durability."""

from __future__ import annotations

import time
from collections.abc import Collection, Sequence

from podium.events import AnyEvent, ApprovalRequested, Event, RunSubmitted
from podium.exceptions import JournalConflict, RunNotFound
from podium.store._outcomes import Outcome, OutcomeStats, aggregate
from podium.store._protocol import RunInfo, pending_requests, status_after


class _Row:
    """The run index entry, updated in place on every append."""

    __slots__ = ("created_at", "name", "status", "updated_at")

    def __init__(self, name: str, created_at: float) -> None:
        self.name = name
        self.status = "running"
        self.created_at = created_at
        self.updated_at = created_at


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

    async def create_run(self, run_id: str, submitted: RunSubmitted, *, name: str = "") -> bool:
        if run_id in self._journals:
            return False
        self._journals[run_id] = [submitted]
        self._runs[run_id] = _Row(name, submitted.ts)
        return True

    async def append(self, run_id: str, events: Sequence[Event]) -> None:
        journal = self._journals.get(run_id)
        if journal is None:
            raise RunNotFound(f"no run {run_id!r} in this store")
        last = journal[-1].seq
        expected = last + 1
        for ev in events:
            if ev.seq < expected:
                raise JournalConflict(
                    f"run {run_id!r}: event seq {ev.seq} is already taken (last is {last})"
                )
            expected = ev.seq + 1
        journal.extend(events)  # type: ignore[arg-type]
        row = self._runs[run_id]
        row.status = status_after(events) or row.status
        row.updated_at = time.time()

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
        )

    async def get_run(self, run_id: str) -> RunInfo | None:
        row = self._runs.get(run_id)
        return None if row is None else self._info(run_id, row)

    async def list_runs(self, *, limit: int = 100) -> list[RunInfo]:
        runs = sorted(self._runs.items(), key=lambda r: r[1].created_at, reverse=True)
        return [self._info(run_id, row) for run_id, row in runs[:limit]]

    async def record_outcomes(self, outcomes: Sequence[Outcome]) -> None:
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
