"""`podium show RUN --follow`: a run's events as they are journaled, by whichever process.

The store is polled, which works the same for SQLite and Postgres and for a run driven
anywhere: every poll is one read after the last sequence number seen; an idle run is polled
less and less often (up to `MAX_POLL_S`), a busy one at once again.
"""

from __future__ import annotations

import asyncio
import time

import msgspec
import typer
from rich.console import Console
from rich.text import Text

from podium.cli._hints import command, decide_lines
from podium.cli._render import details, event_kind, inert, status_text
from podium.cli._store import store_flag, store_url
from podium.events import AnyEvent, RunInterrupted, RunWaiting
from podium.runtime import RunState
from podium.store import Store, open_store

MIN_POLL_S = 0.05
MAX_POLL_S = 1.0


def event_line(event: AnyEvent, start: float) -> Text:
    """One event on one (wrapped, never cut) line: seq, offset, kind, task, agent, details."""
    task = getattr(event, "task", "") or ""
    agent = getattr(event, "agent", "") or ""
    line = Text.assemble(
        (f"{event.seq:>4} ", "dim"),
        (f"+{event.ts - start:.3f}s ", "dim"),
        (event_kind(event), "bold"),
    )
    for part in (task, agent, details(event)):
        if part:
            line.append(" " + inert(str(part)))
    return line


class Follower:
    """Prints a run's events as they come, and says what a reader can do when it stops."""

    def __init__(
        self,
        run_id: str,
        store: Store,
        console: Console,
        given_store: str | None,
        *,
        json_lines: bool = False,
    ) -> None:
        self.run_id = run_id
        self.store = store
        self.console = console
        self.given_store = given_store
        self.json_lines = json_lines
        self.state = RunState(run_id)
        self.start: float | None = None
        self.noted_idle = False

    def show(self, events: list[AnyEvent]) -> None:
        for ev in events:
            if ev.seq <= self.state.seq:
                continue  # already shown: a read may overlap the previous one
            self.start = ev.ts if self.start is None else self.start
            self.state.apply(ev)
            if self.json_lines:  # one event a line, nothing else: for scripts
                typer.echo(msgspec.json.encode(ev).decode())
                continue
            self.console.print(event_line(ev, self.start))
            if isinstance(ev, RunWaiting):
                self.console.print(Text("parked, waiting for a decision:", style="cyan"))
                for approval in self.state.approvals.pending():
                    for line in decide_lines(approval, self.given_store):
                        self.console.print(line, soft_wrap=True)
            elif isinstance(ev, RunInterrupted):
                resume = command("resume", self.run_id, flag=store_flag(self.given_store))
                note = Text(f"interrupted: continue it with `{resume}`", style="dim")
                self.console.print(note, soft_wrap=True)

    async def note_if_orphaned(self) -> None:
        """Say once that a running run has no live driver (it crashed): nothing will come
        until someone resumes it."""
        if self.noted_idle or self.json_lines or self.state.status != "running":
            return
        info = await self.store.get_run(self.run_id)
        if info is None or info.status != "running":
            return
        if info.lease_owner is None or (info.lease_expires_at or 0.0) < time.time():
            self.noted_idle = True
            resume = command("resume", self.run_id, flag=store_flag(self.given_store))
            note = f"nobody drives run {self.run_id} now: `{resume}` continues it; still following"
            self.console.print(Text(note, style="yellow"), soft_wrap=True)

    async def run(self) -> RunState:
        self.show(await self.store.load(self.run_id))  # RunNotFound for an unknown id
        if not self.state.finished and not self.json_lines:
            note = Text.assemble(
                ("following run ", "dim"),
                (self.run_id, "bold"),
                (" (Ctrl-C stops following, not the run)", "dim"),
            )
            self.console.print(note)
        delay = MIN_POLL_S
        while not self.state.finished:
            await asyncio.sleep(delay)
            new = await self.store.load(self.run_id, after_seq=self.state.seq)
            if new:
                self.show(new)
                delay = MIN_POLL_S
            else:
                delay = min(MAX_POLL_S, delay * 2)
                if delay == MAX_POLL_S:
                    await self.note_if_orphaned()
        if self.json_lines:
            return self.state
        end = Text.assemble("run ", (self.run_id, "bold"), " ", status_text(self.state.status))
        self.console.print(end)
        return self.state


async def follow(
    run_id: str, *, store: str | None, console: Console, json_lines: bool = False
) -> RunState:
    """Print `run_id`'s journal, then its new events until it ends (as JSON Lines with
    `json_lines`); its final state."""
    st = open_store(store_url(store))
    await st.open()
    try:
        return await Follower(run_id, st, console, store, json_lines=json_lines).run()
    finally:
        await st.close()


__all__ = ["event_line", "follow"]
