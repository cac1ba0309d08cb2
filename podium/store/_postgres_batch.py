"""Writes to the Postgres store in batches: the appends, or the new runs, of many runs in one
statement.

Every append keeps its own contract in the batch: it lands whole or not at all, it is fenced by
its own token, and its own error (`JournalConflict`, `LeaseLost`, `LeaseHeld`, `RunNotFound`)
goes to its caller only. The statement (`APPEND_BATCH`) lands exactly the appends that may land
and says which were refused for a taken seq; one more query says why the others were refused.
A seq taken by a concurrent writer that the statement's snapshot did not see makes the statement
fail as a whole: the batch is then appended one append at a time. A batch of one, the case of a
run driven alone, is sent as the cheaper single-append statement (`APPEND`).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import psycopg

from podium.events import Event, RunSubmitted, encode
from podium.exceptions import JournalConflict, LeaseHeld, LeaseLost, RunNotFound
from podium.store._group import Write
from podium.store._postgres_sql import (
    APPEND,
    APPEND_BATCH,
    CREATE_RUN,
    CREATE_RUNS,
    LANDED,
    LEASES,
)
from podium.store._protocol import FINAL, UNLEASED, check_fence, status_after

Conn = psycopg.AsyncConnection[Any]


class PendingAppend:
    """One caller's append, encoded and ready for a batch."""

    __slots__ = ("datas", "dup", "fence", "final", "release", "run_id", "seqs", "status")

    def __init__(self, run_id: str, events: Sequence[Event], fence: int | None) -> None:
        self.run_id = run_id
        self.fence = fence
        self.seqs = [ev.seq for ev in events]
        self.datas = [encode(ev) for ev in events]
        self.dup = len(set(self.seqs)) != len(self.seqs)
        status = self.status = status_after(events)
        self.release = status in UNLEASED
        self.final = status in FINAL


class PendingCreate:
    """One caller's new run, encoded and ready for a batch."""

    __slots__ = ("data", "lease_s", "name", "owner", "run_id", "seq", "ts")

    def __init__(
        self, run_id: str, submitted: RunSubmitted, name: str, owner: str | None, lease_s: float
    ) -> None:
        self.run_id = run_id
        self.name = name
        self.ts = submitted.ts
        self.seq = submitted.seq
        self.data = encode(submitted)
        self.owner = owner
        self.lease_s = lease_s


def run_of(pending: PendingAppend | PendingCreate) -> str:
    """The group key: a batch holds at most one write per run."""
    return pending.run_id


async def create_batch(conn: Conn, writes: Sequence[Write[PendingCreate]]) -> None:
    """Create the runs of `writes`; each one's result says whether it was new."""
    if len(writes) == 1:
        new = writes[0].item
        params: dict[str, Any] = {
            "run_id": new.run_id,
            "name": new.name,
            "ts": new.ts,
            "seq": new.seq,
            "data": new.data,
            "owner": new.owner,
            "lease_s": new.lease_s,
        }
        cur = await conn.execute(CREATE_RUN, params)
        writes[0].done(cur.rowcount > 0)
        return
    creates = [w.item for w in writes]
    params = {
        name: [getattr(c, name) for c in creates]
        for name in ("run_id", "name", "ts", "owner", "lease_s", "seq", "data")
    }
    cur = await conn.execute(CREATE_RUNS, params)
    created = {row[0] for row in await cur.fetchall()}
    for w in writes:
        w.done(w.item.run_id in created)


async def append_batch(conn: Conn, writes: Sequence[Write[PendingAppend]], where: str) -> int:
    """Append the unsettled `writes` and settle each; the number of transactions committed.

    A psycopg error that is not a conflict propagates (the caller retries a transient one, with
    every write then marked `retried`).
    """
    todo = [w for w in writes if not w.settled]
    retried = [w for w in todo if w.retried]
    if retried:
        await _settle_landed(conn, retried)
        todo = [w for w in todo if not w.settled]
    if not todo:
        return 0
    for w in todo:
        w.retried = True  # from here on, a failure may hide a commit
    try:
        await _append(conn, todo, where)
    except psycopg.errors.UniqueViolation as exc:
        if len(todo) == 1:
            todo[0].fail(_conflict(todo[0].item, where, exc))
            return 0
        return await _one_by_one(conn, todo, where)
    return 1


async def _append(conn: Conn, writes: Sequence[Write[PendingAppend]], where: str) -> None:
    if len(writes) == 1:
        await _append_one(conn, writes[0], where)
        return
    cur = await conn.execute(APPEND_BATCH, _params(writes))
    outcome = dict(await cur.fetchall())  # index -> landed (True) or a seq taken (False)
    refused: list[tuple[Write[PendingAppend], bool]] = []
    for i, w in enumerate(writes):
        landed = outcome.get(i)
        if landed:
            w.done()
        else:
            refused.append((w, landed is not None))
    if refused:
        await _settle_refused(conn, refused, where)


async def _one_by_one(conn: Conn, writes: Sequence[Write[PendingAppend]], where: str) -> int:
    """Append each write alone (the batch failed on a seq a concurrent writer took)."""
    commits = 0
    for w in writes:
        try:
            await _append(conn, [w], where)
        except psycopg.errors.UniqueViolation as exc:
            w.fail(_conflict(w.item, where, exc))
        else:
            commits += 1
    return commits


async def _append_one(conn: Conn, write: Write[PendingAppend], where: str) -> None:
    pending = write.item
    params = {
        "status": pending.status,
        "now": time.time(),
        "n": len(pending.seqs),
        "run_id": pending.run_id,
        "seqs": pending.seqs,
        "datas": pending.datas,
        "fence": pending.fence,
        "release": pending.release,
        "final": pending.final,
    }
    cur = await conn.execute(APPEND, params)
    if cur.rowcount > 0:
        write.done()
    else:
        await _settle_refused(conn, [(write, False)], where)


def _params(writes: Sequence[Write[PendingAppend]]) -> dict[str, Any]:
    appends = [w.item for w in writes]
    return {
        "i": list(range(len(appends))),
        "run_id": [a.run_id for a in appends],
        "fence": [a.fence for a in appends],
        "status": [a.status for a in appends],
        "n": [len(a.seqs) for a in appends],
        "release": [a.release for a in appends],
        "final": [a.final for a in appends],
        "dup": [a.dup for a in appends],
        "e_i": [i for i, a in enumerate(appends) for _ in a.seqs],
        "e_run": [a.run_id for a in appends for _ in a.seqs],
        "e_seq": [seq for a in appends for seq in a.seqs],
        "e_data": [data for a in appends for data in a.datas],
        "now": time.time(),
    }


async def _settle_refused(
    conn: Conn, refused: list[tuple[Write[PendingAppend], bool]], where: str
) -> None:
    """Fail each refused append with why: no such run, its lease, or a taken seq."""
    cur = await conn.execute(LEASES, ([w.item.run_id for w, _ in refused],))
    leases = {row[0]: row[1:] for row in await cur.fetchall()}
    for w, taken in refused:
        pending = w.item
        lease = leases.get(pending.run_id)
        if lease is None:
            w.fail(RunNotFound(f"no run {pending.run_id!r} in {where}"))
            continue
        owner, token, expires, now = lease
        try:
            check_fence(pending.run_id, pending.fence, (owner, token, expires), float(now))
        except (LeaseLost, LeaseHeld) as exc:
            w.fail(exc)
            continue
        if taken:
            w.fail(_conflict(pending, where))
        else:
            w.fail(
                JournalConflict(
                    f"run {pending.run_id!r}: its lease changed during the append; try again"
                )
            )


async def _settle_landed(conn: Conn, writes: list[Write[PendingAppend]]) -> None:
    """Settle the writes that an earlier try did commit (only its reply was lost): all their
    events are there, as sent."""
    keys = [(w.item.run_id, seq) for w in writes for seq in w.item.seqs]
    cur = await conn.execute(LANDED, ([k[0] for k in keys], [k[1] for k in keys]), binary=True)
    stored = {(run_id, seq): bytes(data) for run_id, seq, data in await cur.fetchall()}
    for w in writes:
        pending = w.item
        if all(
            stored.get((pending.run_id, seq)) == data
            for seq, data in zip(pending.seqs, pending.datas, strict=True)
        ):
            w.done()


def _conflict(
    pending: PendingAppend, where: str, cause: BaseException | None = None
) -> JournalConflict:
    error = JournalConflict(
        f"run {pending.run_id!r}: one of the event seqs {pending.seqs} is already taken"
        f" in {where} (another writer drives this run)"
    )
    error.__cause__ = cause
    return error


__all__ = ["PendingAppend", "PendingCreate", "append_batch", "create_batch", "run_of"]
