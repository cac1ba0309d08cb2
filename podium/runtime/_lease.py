"""Holding a run's lease while a process drives it, and taking it.

`LeaseKeeper` holds the lease of one drive: it renews it every third of its term, says whether
it is still safely held (`valid`), and stops the run when the lease is lost or when another
process left a cancel request. `Leases` takes a run's lease for an orchestrator — over from a
holder known to be dead — and gives it back (see `podium.store.Lease` for the rules).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable
from types import TracebackType

from podium.exceptions import LeaseHeld, LeaseLost, StoreError
from podium.store import Store
from podium.store._lease import Lease, describe_owner, holder_is_dead, new_owner

log = logging.getLogger(__name__)


class LeaseKeeper:
    """Keeps a driver's lease while it drives: an async context manager.

    The lease is renewed every third of `lease_s`, from a timer (no task exists between
    renewals). A renewal that fails on a store error is retried at the next tick; once the
    lease's term has passed without a successful renewal, or the store says another driver
    holds it, it is lost: `valid` turns false and `on_lost` is called. A cancel request left by
    another process (`Store.request_cancel`) comes with a renewal and goes to `on_cancel`.

    Args:
        store: the run's store.
        lease: the lease, just acquired.
        lease_s: its term.
        stop: how it stops the run: ``stop("lost", "lease", why, "")`` once when the lease is
            lost, ``stop("cancelled", reason, "", by)`` on a cancel request.
    """

    def __init__(
        self,
        store: Store,
        lease: Lease,
        *,
        lease_s: float,
        stop: Callable[[str, str, str, str], None] | None = None,
    ) -> None:
        self.store = store
        self.lease = lease
        self.lease_s = lease_s
        self.stop = stop
        self.lost: str | None = None
        """Why the lease was lost, once it was."""
        self._deadline = time.monotonic() + lease_s
        self._timer: asyncio.TimerHandle | None = None
        self._renewal: asyncio.Task[None] | None = None
        self._cancel_seen = False

    def valid(self) -> bool:
        """Whether the lease is surely still ours (not lost, and renewed within its term)."""
        if self.lost is not None:
            return False
        if time.monotonic() < self._deadline:
            return True
        self._lose(f"the lease was not renewed within its {self.lease_s:g}s term")
        return False

    async def __aenter__(self) -> LeaseKeeper:
        if self.lease.cancel is not None:
            self._cancelled(self.lease.cancel)
        self._schedule()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        renewal, self._renewal = self._renewal, None
        if renewal is not None and not renewal.done():
            renewal.cancel()
            await asyncio.gather(renewal, return_exceptions=True)

    def _schedule(self) -> None:
        loop = asyncio.get_running_loop()
        self._timer = loop.call_later(self.lease_s / 3, self._tick)

    def _tick(self) -> None:
        self._timer = None
        if self.lost is None:
            self._renewal = asyncio.get_running_loop().create_task(self._renew())

    async def _renew(self) -> None:
        asked = time.monotonic()
        try:
            self.lease = await self.store.renew(self.lease, lease_s=self.lease_s)
        except LeaseLost as exc:
            self._lose(str(exc))
            return
        except StoreError as exc:
            log.warning("run %s: cannot renew its lease: %s", self.lease.run_id, exc)
            if self.valid():
                self._schedule()
            return
        self._deadline = asked + self.lease_s
        if self.lease.cancel is not None:
            self._cancelled(self.lease.cancel)
        self._schedule()

    def _cancelled(self, request: str) -> None:
        if not self._cancel_seen and self.stop is not None:
            self._cancel_seen = True
            reason, by = read_cancel_request(request)
            self.stop("cancelled", reason, "", by)

    def _lose(self, why: str) -> None:
        if self.lost is None:
            self.lost = why
            log.error("run %s: lease lost: %s", self.lease.run_id, why)
            if self.stop is not None:
                self.stop("lost", "lease", why, "")


def cancel_request(reason: str, by: str) -> str:
    """What `Store.request_cancel` keeps of a cancel `by` someone: a store keeps one text, so
    the reason and who go in it as a JSON object (`read_cancel_request` reads it back)."""
    return json.dumps({"reason": reason, "by": by}, ensure_ascii=False)


def read_cancel_request(text: str) -> tuple[str, str]:
    """``(reason, by)`` of a cancel request; a plain-text one (an older Podium's) is all reason."""
    try:
        data = json.loads(text)
    except ValueError:
        return text, ""
    if isinstance(data, dict) and isinstance(data.get("reason"), str):
        by = data.get("by")
        return data["reason"], by if isinstance(by, str) else ""
    return text, ""


class Leases:
    """Takes and gives back the leases of one orchestrator's runs.

    A holder known to be dead — a killed process on this host, or a lease this orchestrator had
    to abandon because its store failed — is taken over at once instead of after its expiry.
    """

    def __init__(self, store: Store, lease_s: float) -> None:
        self.store = store
        self.lease_s = lease_s
        self.abandoned: dict[str, int] = {}
        """Runs whose lease could not be given back (the store failed): the token, so that this
        orchestrator can take it back without waiting for it to expire."""

    async def acquire(self, run_id: str) -> Lease:
        """The run's lease.

        Raises:
            LeaseHeld: a live driver holds it.
            RunNotFound: no such run.
        """
        owner = new_owner()
        try:
            return await self.store.acquire(run_id, owner, lease_s=self.lease_s)
        except LeaseHeld as held:
            ours = self.abandoned.get(run_id) == held.token
            if not ours and not holder_is_dead(held.owner):
                raise
            log.warning(
                "run %s: taking its lease over from %s, which no longer drives it",
                run_id,
                describe_owner(held.owner),
            )
            return await self.store.acquire(
                run_id, owner, lease_s=self.lease_s, takeover=held.token
            )

    async def release(self, lease: Lease) -> None:
        """Give a lease back; if the store cannot be reached, remember it was ours."""
        try:
            await self.store.release(lease)
        except StoreError as exc:
            self.abandoned[lease.run_id] = lease.token
            log.warning("run %s: could not release its lease: %s", lease.run_id, exc)
        else:
            self.abandoned.pop(lease.run_id, None)

    def abandon(self, lease: Lease) -> None:
        """The store failed under a drive: the lease may still be held, by this orchestrator."""
        self.abandoned[lease.run_id] = lease.token


__all__ = ["LeaseKeeper", "Leases", "cancel_request", "read_cancel_request"]
