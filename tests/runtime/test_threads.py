"""The bounded pool synchronous agents run on."""

from __future__ import annotations

import threading

from podium.runtime._threads import AgentThreads


def test_calls_submitted_together_all_get_a_thread() -> None:
    # a thread about to take an earlier call was counted as idle, so a call submitted right
    # after it waited for a thread that never came (one time in ten, here)
    for _ in range(200):
        pool = AgentThreads(4)
        meet = threading.Barrier(3, timeout=5)  # returns only when three run at once
        calls = [pool.submit(meet.wait) for _ in range(3)]
        try:
            assert sorted(c.result(timeout=10) for c in calls) == [0, 1, 2]
        finally:
            pool.shutdown()


def test_no_more_threads_than_allowed() -> None:
    pool = AgentThreads(2)
    release = threading.Event()
    running: list[str] = []

    def hold() -> None:
        running.append(threading.current_thread().name)
        release.wait(5)

    calls = [pool.submit(hold) for _ in range(5)]
    try:
        while len(running) < 2:
            threading.Event().wait(0.01)
        threading.Event().wait(0.05)
        assert len(running) == 2  # the other three wait for a thread
    finally:
        release.set()
    for call in calls:
        call.result(timeout=5)
    assert len(set(running)) == 2
    pool.shutdown()
