"""The escape corpus (``tests/tools/escapes``): every attempt is contained with a clear result."""

from __future__ import annotations

import asyncio
import secrets
import socket
import sys
from pathlib import Path

import pytest

from tests.tools.escapes._harness import ATTEMPTS, Attempt, Listener, leftovers, run_attempt

pytestmark = [pytest.mark.anyio, pytest.mark.slow]


def test_the_corpus_covers_the_attempts_the_issue_lists() -> None:
    names = {p.stem for p in ATTEMPTS}
    assert len(names) >= 19
    assert {"read_etc_shadow", "network_localhost", "fork_bomb", "setsid_escape"} <= names


@pytest.mark.parametrize("path", ATTEMPTS, ids=lambda p: p.stem)
async def test_an_escape_attempt_is_contained(path: Path) -> None:
    outcome = await run_attempt(Attempt.load(path))
    assert outcome.problems == (), outcome.result
    if outcome.attempt.expect == "blocked":
        assert outcome.result.limit is None
        assert outcome.result.exit_code == 0
    if path.stem == "report_flood":
        assert outcome.result.files_truncated


async def test_the_probes_see_an_escape_when_there_is_one() -> None:
    """The checks can fail: host-side probes notice what an escape would leave behind."""
    listener = Listener()
    try:
        socket.create_connection(("127.0.0.1", listener.port)).close()
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as unix:
            unix.connect("\0" + listener.abstract)
        for _ in range(100):
            if listener.accepted == 2:
                break
            await asyncio.sleep(0.01)
    finally:
        listener.close()
    assert listener.accepted == 2
    marker = "podium-probe-" + secrets.token_hex(6)
    sleep = f"import time; time.sleep(30)  # {marker}"
    sleeper = await asyncio.create_subprocess_exec(sys.executable, "-c", sleep)
    try:
        for _ in range(500):  # until it has exec'd
            if leftovers(marker):
                break
            await asyncio.sleep(0.01)
        assert leftovers(marker) == [sleeper.pid]
    finally:
        sleeper.kill()
        await sleeper.wait()
    fake = Attempt("fake", "claims to escape", "blocked", "print('ESCAPED: pretend')")
    outcome = await run_attempt(fake)
    assert outcome.verdict.startswith("ESCAPED: ")
    wrong = Attempt("wrong", "expects another limit", "limit:memory", "while True: pass")
    assert (await run_attempt(wrong)).problems == ("ended with limit 'cpu_time' (exit None)",)
