"""What the commands say last: where a run is stored, how to see it again, how to decide
what it waits for — command lines to copy, exact to the store and the task.

Print them with ``soft_wrap=True``: a command line stays one line, to be copied whole.
"""

from __future__ import annotations

import shlex
import time
from collections.abc import Iterable

from rich.console import Group, RenderableType
from rich.text import Text

from podium.cli._render import inert, output_renderable, plain
from podium.cli._store import store_flag, where
from podium.cli._who import local_user
from podium.policy import Approval


def me() -> str:
    """The name ``--as`` records in the commands this suggests: the login name."""
    return local_user()


def command(*words: str, flag: str = "") -> str:
    """A shell command line: `words` quoted, then `flag` (`store_flag`, already quoted)."""
    return shlex.join(["podium", *words]) + flag


def _line(label: str, cmd: str) -> Text:
    return Text.assemble((f"{label + ':':<8} ", "dim"), inert(cmd))


def decide_lines(approval: Approval, given_store: str | None) -> list[Text]:
    """The two command lines that approve and reject `approval`."""
    flag = store_flag(given_store)
    who = me()
    target = (approval.run_id, approval.task, "--as", who)
    return [
        _line("approve", command("approve", *target, flag=flag)),
        _line("reject", command("reject", *target, flag=flag)),
    ]


def end_lines(
    run_id: str,
    url: str,
    given_store: str | None,
    *,
    status: str = "",
    pending: Iterable[Approval] = (),
) -> RenderableType:
    """The last lines of a run's report: where it is stored, how to see it again, how to
    continue it if it was interrupted, and, for a parked run, how to approve or reject each
    thing it waits for."""
    flag = store_flag(given_store)
    parts: list[RenderableType] = [_line("stored in", where(url))]
    if url in {"memory://", "memory"}:
        return Group(*parts)  # nothing to see again
    if status in ("interrupted", "running"):
        parts.append(_line("continue it", command("resume", run_id, flag=flag)))
    parts.append(_line("see it again", command("show", run_id, flag=flag)))
    for approval in pending:
        parts.append(plain(f"waits for approval to {approval.describe()}", "cyan"))
        parts.extend(decide_lines(approval, given_store))
    return Group(*parts)


def _when(ts: float | None) -> str:
    return "never" if ts is None else time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ts))


def approval_block(approval: Approval) -> RenderableType:
    """One pending approval in full: where, why, the exact action (the tool and its arguments,
    the instruction, or the draft result); `decide_lines` follow it."""
    head = Text.assemble(
        "run ", (inert(approval.run_id), "bold"), " task ", (inert(approval.task), "bold")
    )
    head.append(
        f"  requested {_when(approval.requested_at)}, expires {_when(approval.expires_at)}",
        style="dim",
    )
    parts: list[RenderableType] = [head]
    if approval.reason:
        parts.append(Text.assemble(("why: ", "dim"), inert(approval.reason)))
    if approval.action == "tool":
        parts += [
            Text.assemble(("call tool: ", "dim"), (inert(approval.tool or "?"), "bold")),
            Text("arguments:", style="dim"),
            output_renderable(approval.arguments),
        ]
    elif approval.action == "result":
        parts += [plain(f"commit the result of task {approval.task!r}:"), _draft(approval.result)]
    else:
        parts.append(plain(f"run task {approval.task!r}"))
        if approval.instruction:
            parts += [Text("instruction:", style="dim"), plain(approval.instruction)]
    return Group(*parts)


def _draft(result: object) -> RenderableType:
    return Text("(no output)", style="dim") if result is None else output_renderable(result)


__all__ = ["approval_block", "command", "decide_lines", "end_lines", "me"]
