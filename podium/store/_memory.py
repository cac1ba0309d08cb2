"""An in-memory store: for tests and for runs that need no durability."""

from __future__ import annotations

import time
from collections.abc import Sequence

from podium.events import AnyEvent, Event, RunSubmitted
from podium.exceptions import JournalConflict, RunNotFound
from podium.store._protocol import RunInfo, status_after


class MemoryStore:
    """Keeps journals in process memory. Events are kept as objects, never encoded."""

    def __init__(self) -> None:
        self._journals: dict[str, list[AnyEvent]] = {}
        self._runs: dict[str, RunInfo] = {}

    async def open(self) -> None:
        return None

    async def close(self) -> None:
        return None

    async def create_run(self, run_id: str, submitted: RunSubmitted, *, name: str = "") -> bool:
        if run_id in self._journals:
            return False
        self._journals[run_id] = [submitted]
        self._runs[run_id] = RunInfo(
            run_id=run_id,
            status="running",
            created_at=submitted.ts,
            updated_at=submitted.ts,
            name=name,
            events=1,
        )
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
        info = self._runs[run_id]
        status = status_after(events)
        self._runs[run_id] = RunInfo(
            run_id=run_id,
            status=status or info.status,
            created_at=info.created_at,
            updated_at=time.time(),
            name=info.name,
            events=len(journal),
        )

    async def load(self, run_id: str, *, after_seq: int = -1) -> list[AnyEvent]:
        journal = self._journals.get(run_id)
        if journal is None:
            raise RunNotFound(f"no run {run_id!r} in this store")
        if after_seq < 0:
            return list(journal)
        return [ev for ev in journal if ev.seq > after_seq]

    async def get_run(self, run_id: str) -> RunInfo | None:
        return self._runs.get(run_id)

    async def list_runs(self, *, limit: int = 100) -> list[RunInfo]:
        runs = sorted(self._runs.values(), key=lambda r: r.created_at, reverse=True)
        return runs[:limit]
