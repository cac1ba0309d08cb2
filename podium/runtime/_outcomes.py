"""Task outcomes on their way to the store's statistics, written in batches.

Every finished run adds the outcomes of its tasks to what the router learns from. They are
advice, not the journal: losing the last second of them in a crash costs a little routing
knowledge, while writing them with every run would cost a store write per run. So they wait in a
buffer, written at most `delay_s` after the first of a batch arrives, at once past `batch`
outcomes, and when the orchestrator closes.
"""

from __future__ import annotations

import asyncio
import logging

from podium.exceptions import StoreError
from podium.routing import LearningRouter
from podium.store import Outcome, OutcomeStats, Store

log = logging.getLogger(__name__)

DELAY_S = 1.0
BATCH = 512
KEPT = 20_000
"""Outcomes kept for a store that cannot be written; the oldest go first past it."""


class OutcomeWriter:
    """Buffers outcomes and writes them in batches (see the module docstring).

    Args:
        store: where the statistics are kept.
        learner: the router that learns from outcomes, if one does (it writes them itself, so
            it knows which of those it has seen are in the store).
    """

    def __init__(
        self,
        store: Store,
        learner: LearningRouter | None,
        *,
        delay_s: float = DELAY_S,
        batch: int = BATCH,
    ) -> None:
        self.store = store
        self.learner = learner
        self.delay_s = delay_s
        self.batch = batch
        self._buffer: list[Outcome | OutcomeStats] = []
        self._timer: asyncio.TimerHandle | None = None
        self._writing: asyncio.Task[None] | None = None

    def add(self, outcomes: list[Outcome | OutcomeStats]) -> None:
        """Queue a run's outcomes."""
        if not outcomes:
            return
        self._buffer.extend(outcomes)
        if len(self._buffer) > KEPT:
            del self._buffer[: len(self._buffer) - KEPT]
        if len(self._buffer) >= self.batch:
            self._start()
        elif self._timer is None and self._writing is None:
            self._timer = asyncio.get_running_loop().call_later(self.delay_s, self._start)

    def _start(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._writing is None:
            self._writing = asyncio.get_running_loop().create_task(self._write_soon())

    async def _write_soon(self) -> None:
        try:
            await self.write()
        finally:
            self._writing = None
            if self._buffer and self._timer is None:  # more came, or the write failed
                self._timer = asyncio.get_running_loop().call_later(self.delay_s, self._start)

    async def write(self) -> None:
        """Write what is buffered now (kept for the next write if the store refuses it)."""
        batch, self._buffer = self._buffer, []
        if not batch:
            return
        try:
            if self.learner is not None:
                await self.learner.save(self.store, batch)
            else:
                await self.store.record_outcomes(batch)
        except StoreError as exc:
            log.warning("routing statistics not written yet (%d outcomes): %s", len(batch), exc)
            self._buffer[:0] = batch

    async def close(self) -> None:
        """Write what is left (once; what still cannot be written is dropped, with a warning)."""
        if self._writing is not None:
            await asyncio.shield(self._writing)
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        await self.write()
        if self._buffer:
            log.warning("%d routing outcomes were not written", len(self._buffer))
            self._buffer.clear()


__all__ = ["OutcomeWriter"]
