"""The lease contract: one driver per run, fenced appends, on every backend."""

from __future__ import annotations

import asyncio
import time

import pytest

from podium.events import RunCancelled, RunInterrupted, RunResumed, RunSucceeded, RunWaiting
from podium.exceptions import JournalConflict, LeaseHeld, LeaseLost, RunNotFound
from podium.store import Store
from tests.store.conftest import Backend
from tests.store.helpers import ready, submitted

pytestmark = pytest.mark.anyio

A, B = "host-a/100/aa.1", "host-b/200/bb.1"


async def test_a_run_created_with_an_owner_is_leased_to_it(store: Store) -> None:
    assert await store.create_run("run-1", submitted(), owner=A, lease_s=30)
    info = await store.get_run("run-1")
    assert info is not None
    assert info.lease_owner == A
    assert info.lease_expires_at is not None
    with pytest.raises(LeaseHeld) as held:
        await store.acquire("run-1", B)
    assert (held.value.owner, held.value.token, held.value.run_id) == (A, 1, "run-1")
    assert held.value.expires_at > time.time() + 20
    assert "pid 100 on host host-a" in str(held.value)
    await store.append("run-1", [ready(1)], fence=1)  # the owner's token lands


async def test_acquire_is_atomic_exclusive_and_reentrant(store: Store) -> None:
    await store.create_run("run-1", submitted())
    lease = await store.acquire("run-1", A)
    assert (lease.owner, lease.token, lease.cancel) == (A, 1, None)
    again = await store.acquire("run-1", A)  # the holder asks again: renewed, same token
    assert again.token == 1
    with pytest.raises(LeaseHeld):
        await store.acquire("run-1", B)
    with pytest.raises(RunNotFound):
        await store.acquire("nope", A)


async def test_a_stale_token_is_fenced_off(store: Store) -> None:
    await store.create_run("run-1", submitted())
    old = await store.acquire("run-1", A, lease_s=30)
    new = await store.acquire("run-1", B, takeover=old.token)  # A was found dead
    assert new.token == old.token + 1
    with pytest.raises(LeaseLost, match="host-b"):
        await store.append("run-1", [ready(1)], fence=old.token)
    with pytest.raises(LeaseLost):
        await store.renew(old)
    await store.release(old)  # a stale release changes nothing
    with pytest.raises(LeaseHeld):
        await store.append("run-1", [ready(1)])  # nor may anyone write without the lease
    await store.append("run-1", [ready(1)], fence=new.token)
    assert [ev.seq for ev in await store.load("run-1")] == [0, 1]


async def test_an_expired_lease_can_be_taken(store: Store) -> None:
    await store.create_run("run-1", submitted())
    old = await store.acquire("run-1", A, lease_s=0.05)
    await asyncio.sleep(0.2)
    new = await store.acquire("run-1", B)
    assert new.token == old.token + 1
    with pytest.raises(LeaseLost):
        await store.append("run-1", [ready(1)], fence=old.token)


async def test_a_takeover_needs_the_current_token(store: Store) -> None:
    await store.create_run("run-1", submitted())
    lease = await store.acquire("run-1", A, lease_s=30)
    with pytest.raises(LeaseHeld):
        await store.acquire("run-1", B, takeover=lease.token + 5)


async def test_unfenced_appends_wait_for_no_lease(store: Store) -> None:
    await store.create_run("run-1", submitted())
    await store.append("run-1", [ready(1)])  # nobody holds it: allowed
    lease = await store.acquire("run-1", A)
    with pytest.raises(LeaseHeld):
        await store.append("run-1", [ready(2)])
    await store.release(lease)
    await store.append("run-1", [ready(2)])
    info = await store.get_run("run-1")
    assert info is not None
    assert info.lease_owner is None


@pytest.mark.parametrize(
    "ending",
    [
        RunSucceeded(run_id="run-1", seq=2, ts=1.0),
        RunCancelled(run_id="run-1", seq=2, ts=1.0),
        RunWaiting(run_id="run-1", seq=2, ts=1.0),
        RunInterrupted(run_id="run-1", seq=2, ts=1.0, tasks=["t"]),
    ],
    ids=lambda e: type(e).__name__,
)
async def test_ending_parking_or_interrupting_releases_the_lease(
    store: Store, ending: RunSucceeded
) -> None:
    await store.create_run("run-1", submitted())
    lease = await store.acquire("run-1", A)
    await store.append("run-1", [ready(1), ending], fence=lease.token)
    info = await store.get_run("run-1")
    assert info is not None
    assert info.lease_owner is None
    with pytest.raises(LeaseLost):  # the driver that ended it holds nothing any more
        await store.append("run-1", [ready(3)], fence=lease.token)
    other = await store.acquire("run-1", B)  # free for the next driver at once
    assert other.token == lease.token + 1


async def test_interrupted_is_a_status_and_resumed_runs_again(store: Store) -> None:
    await store.create_run("run-1", submitted())
    lease = await store.acquire("run-1", A)
    await store.append("run-1", [RunInterrupted(run_id="run-1", seq=1, ts=1.0)], fence=1)
    info = await store.get_run("run-1")
    assert info is not None
    assert info.status == "interrupted"
    lease = await store.acquire("run-1", B)
    await store.append("run-1", [RunResumed(run_id="run-1", seq=2, ts=2.0)], fence=lease.token)
    info = await store.get_run("run-1")
    assert info is not None
    assert (info.status, info.lease_owner) == ("running", B)


async def test_a_cancel_request_reaches_the_holder_and_ends_with_the_run(store: Store) -> None:
    await store.create_run("run-1", submitted())
    lease = await store.acquire("run-1", A)
    await store.request_cancel("run-1", "stop it (by ops)")
    renewed = await store.renew(lease)
    assert renewed.cancel == "stop it (by ops)"
    assert renewed.token == lease.token
    assert renewed.expires_at >= lease.expires_at
    await store.append("run-1", [RunCancelled(run_id="run-1", seq=1, ts=1.0)], fence=lease.token)
    later = await store.acquire("run-1", B)
    assert later.cancel is None  # the request ended with the run
    with pytest.raises(RunNotFound):
        await store.request_cancel("nope", "x")


async def test_a_conflicting_seq_under_the_lease_is_still_a_conflict(store: Store) -> None:
    await store.create_run("run-1", submitted())
    lease = await store.acquire("run-1", A)
    await store.append("run-1", [ready(1)], fence=lease.token)
    with pytest.raises(JournalConflict):
        await store.append("run-1", [ready(1)], fence=lease.token)


async def test_racing_drivers_get_one_lease(durable: Backend) -> None:
    """Ten stores on one storage (separate connections) race for a run's lease: one wins."""
    stores = [await durable.new_store() for _ in range(10)]
    await stores[0].create_run("run-1", submitted())

    async def take(i: int, store: Store) -> int | None:
        try:
            lease = await store.acquire("run-1", f"host/{i}/x.1")
        except LeaseHeld:
            return None
        return lease.token

    won = [t for t in await asyncio.gather(*(take(i, s) for i, s in enumerate(stores))) if t]
    assert won == [1]


async def test_the_lease_survives_reopening(durable: Backend) -> None:
    first = await durable.new_store()
    await first.create_run("run-1", submitted(), owner=A, lease_s=30)
    await first.close()
    second = await durable.new_store()
    with pytest.raises(LeaseHeld):
        await second.acquire("run-1", B)
    await second.append("run-1", [ready(1)], fence=1)
