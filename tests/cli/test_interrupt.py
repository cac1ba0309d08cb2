"""Ctrl-C: the first stops the run cleanly and resumably, a second one gives up at once."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Callable

import pytest

from podium.cli._session import Outcome, _Interrupt, run_workflow
from podium.plan import load_workflow
from podium.runtime import Limits, Orchestrator
from tests.cli.helpers import DATA, invoke


def test_sigint_interrupts_the_run_and_the_journal_says_so(
    store: str, ledger: Callable[[], list[str]]
) -> None:
    workflow = load_workflow(DATA / "sleepy.yaml")

    async def press_ctrl_c_once_the_agent_runs() -> None:
        deadline = time.monotonic() + 10
        while not ledger():
            assert time.monotonic() < deadline
            await asyncio.sleep(0.01)
        os.kill(os.getpid(), signal.SIGINT)

    async def main() -> Outcome:
        async with asyncio.TaskGroup() as tg:
            tg.create_task(press_ctrl_c_once_the_agent_runs())
            run = tg.create_task(
                run_workflow(
                    workflow,
                    inputs={"seconds": 0.5},
                    store=store,
                    run_id="ctrl-c",
                    limits=Limits(),
                    console=None,
                )
            )
        return run.result()

    outcome = asyncio.run(main())
    assert outcome.interrupted
    assert outcome.result.status == "interrupted"
    assert outcome.state.status == "interrupted"
    assert not outcome.state.finished
    assert outcome.state.tasks["nap"].status == "ready"  # cut short; it runs again on resume
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_a_cancel_requested_before_the_run_is_driven_waits_for_it() -> None:
    async def main() -> None:
        async with Orchestrator(store="memory://") as orch:
            interrupt = _Interrupt(orch, "not-yet")
            interrupt.request()  # nothing drives the run yet: remembered, not delivered
            assert (interrupt.requested, interrupt.delivered) == (True, False)
            interrupt.deliver()
            assert not interrupt.delivered

    asyncio.run(main())


def test_a_second_interrupt_exits_130(monkeypatch: pytest.MonkeyPatch) -> None:
    async def interrupted(**_: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr("podium.cli._app.list_runs", interrupted)
    result = invoke("runs")
    assert result.exit_code == 130
    assert result.stderr == "interrupted\n"
