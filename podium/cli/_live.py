"""The live view of `podium run`: events folded into a `RunState`, drawn with rich's `Live`."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.text import Text

from podium.cli._render import duration, status_text, task_table
from podium.events import AnyEvent
from podium.runtime import RunState

T = TypeVar("T")
LoadAfter = Callable[[int], Awaitable[list[AnyEvent]]]
"""Loads a run's events after a sequence number (to fill a gap in what was reported)."""


class RunView:
    """What the display knows about a run: the fold of the events reported so far.

    The orchestrator reports only the events it journals itself, so a run that is continued
    (``--run-id`` of an existing run, ``resume``) starts with a gap; the first event after a gap
    reads the missing ones from the store.
    """

    def __init__(self, run_id: str, load_after: LoadAfter) -> None:
        self.state = RunState(run_id)
        self._load_after = load_after

    async def on_event(self, event: AnyEvent) -> None:
        state = self.state
        if event.seq <= state.seq:
            return
        if event.seq == state.seq + 1:
            state.apply(event)
            return
        for missed in await self._load_after(state.seq):
            if missed.seq > state.seq:
                state.apply(missed)

    def renderable(self, *, now: float | None = None) -> RenderableType:
        state = self.state
        now = time.time() if now is None else now
        name = state.submitted.workflow.get("name", "") if state.submitted else ""
        head = Text.assemble(
            "run ", (state.run_id, "bold"), f" {name} " if name else " ", status_text(state.status)
        )
        if state.submitted is not None:
            end = state.ended_ts if state.ended_ts is not None else now
            used = state.usage.input_tokens + state.usage.output_tokens
            head.append(f"  {duration(end - state.created_ts)} · {used:,} tokens", style="dim")
        if state.plan is None:
            return Group(head, Text("submitting…", style="dim"))
        return Group(head, task_table(state, now=now))


async def show_live(
    work: Awaitable[T], view: RunView, console: Console, *, interval_s: float = 0.1
) -> T:
    """Await `work` while drawing `view` (redrawn every `interval_s`, so elapsed times tick)."""
    with Live(view.renderable(), console=console, auto_refresh=False, transient=True) as live:

        async def tick() -> None:
            while True:
                await asyncio.sleep(interval_s)
                live.update(view.renderable(), refresh=True)

        try:
            async with asyncio.TaskGroup() as tg:
                ticker = tg.create_task(tick())
                try:
                    return await work
                finally:
                    ticker.cancel()
        except BaseExceptionGroup as group:  # the group wraps the error of `work`: unwrap it
            if len(group.exceptions) == 1:
                raise group.exceptions[0] from None
            raise
