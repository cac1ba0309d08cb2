"""`GroupCommit`, the group commit both SQL stores use: batching, order, cancellation."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from podium.exceptions import StoreError
from podium.store._group import GroupCommit, Write, fail_all

pytestmark = pytest.mark.anyio


class Backend:
    """A commit that records its batches; while `gate` is set, each commit waits for it."""

    def __init__(self, *, hold: bool = False, refuse: frozenset[str] = frozenset()) -> None:
        self.batches: list[list[str]] = []
        self.retried: list[list[bool]] = []
        self.gate: asyncio.Event | None = asyncio.Event() if hold else None
        self.entered = asyncio.Event()
        self.refuse = refuse

    async def commit(self, batch: Sequence[Write[str]]) -> None:
        self.batches.append([w.item for w in batch])
        self.retried.append([w.retried for w in batch])
        self.entered.set()
        if self.gate is not None:
            await self.gate.wait()
        for w in batch:
            if w.item in self.refuse:
                w.fail(StoreError(f"refused {w.item}"))
            else:
                w.done(f"ok {w.item}")


def key(item: str) -> str:
    return item.split(":", maxsplit=1)[0]


async def test_a_lone_write_commits_at_once_without_yielding() -> None:
    backend = Backend()
    group = GroupCommit(backend.commit)
    ran: list[str] = []
    asyncio.get_running_loop().call_soon(ran.append, "the loop ran")
    assert await group.submit("a") == "ok a"
    assert ran == []  # the event loop never got control: no waiting for company
    assert backend.batches == [["a"]]
    assert group.idle


async def test_writes_arriving_during_a_commit_form_the_next_batch_in_order() -> None:
    backend = Backend(hold=True)
    group = GroupCommit(backend.commit)
    first = asyncio.create_task(group.submit("a"))
    await backend.entered.wait()  # "a" is being committed alone
    rest = [asyncio.create_task(group.submit(x)) for x in "bcde"]
    await asyncio.sleep(0)
    assert backend.gate is not None
    backend.gate.set()
    assert await first == "ok a"
    assert await asyncio.gather(*rest) == ["ok b", "ok c", "ok d", "ok e"]
    assert backend.batches == [["a"], ["b", "c", "d", "e"]]
    assert group.batches == 2
    assert group.idle


async def test_gather_lets_the_turns_other_writers_join_the_first_batch() -> None:
    backend = Backend()
    group = GroupCommit(backend.commit)
    results = await asyncio.gather(*(group.submit(x, gather=True) for x in "abc"))
    assert results == ["ok a", "ok b", "ok c"]
    assert backend.batches == [["a", "b", "c"]]


async def test_writes_with_one_key_never_share_a_batch_and_keep_their_order() -> None:
    backend = Backend(hold=True)
    group = GroupCommit(backend.commit, key=key)
    first = asyncio.create_task(group.submit("run-0:1"))
    await backend.entered.wait()
    items = ["run-1:1", "run-1:2", "run-2:1", "run-1:3", "run-2:2"]
    rest = [asyncio.create_task(group.submit(x)) for x in items]
    await asyncio.sleep(0)
    assert backend.gate is not None
    backend.gate.set()
    await asyncio.gather(first, *rest)
    assert backend.batches == [
        ["run-0:1"],
        ["run-1:1", "run-2:1"],
        ["run-1:2", "run-2:2"],
        ["run-1:3"],
    ]


async def test_max_batch_bounds_a_batch() -> None:
    backend = Backend()
    group = GroupCommit(backend.commit, max_batch=2)
    await asyncio.gather(*(group.submit(x, gather=True) for x in "abcde"))
    assert backend.batches == [["a", "b"], ["c", "d"], ["e"]]


async def test_each_write_gets_its_own_outcome() -> None:
    backend = Backend(refuse=frozenset({"b"}))
    group = GroupCommit(backend.commit)
    results = await asyncio.gather(
        *(group.submit(x, gather=True) for x in "abc"), return_exceptions=True
    )
    assert results[0] == "ok a"
    assert isinstance(results[1], StoreError)
    assert str(results[1]) == "refused b"
    assert results[2] == "ok c"
    assert backend.batches == [["a", "b", "c"]]


async def test_a_waiter_cancelled_before_its_batch_is_never_written() -> None:
    backend = Backend(hold=True)
    group = GroupCommit(backend.commit)
    first = asyncio.create_task(group.submit("a"))
    await backend.entered.wait()
    b = asyncio.create_task(group.submit("b"))
    c = asyncio.create_task(group.submit("c"))
    await asyncio.sleep(0)
    b.cancel()
    await asyncio.sleep(0)
    assert backend.gate is not None
    backend.gate.set()
    assert await first == "ok a"
    assert await c == "ok c"
    with pytest.raises(asyncio.CancelledError):
        await b
    assert backend.batches == [["a"], ["c"]]
    assert group.idle


async def test_a_next_leader_cancelled_before_it_leads_passes_the_lead_on() -> None:
    backend = Backend(hold=True)
    group = GroupCommit(backend.commit, key=key)
    first = asyncio.create_task(group.submit("r:1"))
    await backend.entered.wait()
    second = asyncio.create_task(group.submit("r:2"))  # same key: the batch after next
    third = asyncio.create_task(group.submit("r:3"))
    await asyncio.sleep(0)
    assert backend.gate is not None
    backend.gate.set()
    await asyncio.sleep(0)  # "r:1" committed; "r:2" is woken to lead but has not run yet
    second.cancel()
    assert await first == "ok r:1"
    assert await third == "ok r:3"
    with pytest.raises(asyncio.CancelledError):
        await second
    assert backend.batches == [["r:1"], ["r:3"]]
    assert group.idle


async def test_a_leader_cancelled_mid_commit_hands_its_batch_to_the_next_leader() -> None:
    backend = Backend(hold=True)
    group = GroupCommit(backend.commit)
    first = asyncio.create_task(group.submit("a"))
    await backend.entered.wait()
    b = asyncio.create_task(group.submit("b"))
    c = asyncio.create_task(group.submit("c"))
    await asyncio.sleep(0)
    assert backend.gate is not None
    backend.gate.set()
    backend.entered.clear()
    backend.gate.clear()
    # "b" leads the batch ["b", "c"]; cancel it while that commit is in flight
    await backend.entered.wait()
    b.cancel()
    with pytest.raises(asyncio.CancelledError):
        await b
    backend.gate.set()
    assert await first == "ok a"
    assert await c == "ok c"
    # "c" committed again, marked retried: the cancelled commit may have landed it
    assert backend.batches == [["a"], ["b", "c"], ["c"]]
    assert backend.retried[-1] == [True]
    assert group.idle


async def test_a_commit_that_raises_leaves_nobody_waiting() -> None:
    async def broken(batch: Sequence[Write[str]]) -> None:
        raise ValueError("bug")

    group = GroupCommit(broken)
    results = await asyncio.gather(
        *(group.submit(x, gather=True) for x in "ab"), return_exceptions=True
    )
    assert all(isinstance(r, RuntimeError) and "bug" in str(r) for r in results)
    assert group.idle


async def test_fail_all_gives_each_caller_its_own_error() -> None:
    loop = asyncio.get_running_loop()
    writes = [Write(x, loop.create_future()) for x in "abc"]
    writes[1].done("landed")
    cause = OSError("disk")
    error = StoreError("cannot write")
    error.__cause__ = cause
    fail_all(writes, error)
    assert writes[1].error is None
    assert writes[0].error is not writes[2].error
    assert [str(writes[i].error) for i in (0, 2)] == ["cannot write"] * 2
    assert writes[0].error is not None
    assert writes[0].error.__cause__ is cause
