"""The host side of one sandbox: start bwrap, talk to it over pipes, and kill it for certain.

Four pipes come back from a sandbox: the program's stdout and stderr, the launcher's report, and
bwrap's ``--info-fd`` (the host pid of the sandbox's PID 1). Killing goes to that PID 1 through a
pidfd, so a recycled pid is never hit: when it dies the kernel kills everything else in its PID
namespace before it can be reaped, so once the pidfd says it exited, nothing of the sandbox is
left, whatever sessions or process groups the program made.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
from dataclasses import dataclass, field
from typing import Any

from podium.tools._sandbox_bwrap import Layout, bwrap_argv
from podium.tools._sandbox_result import SandboxUnavailable

log = logging.getLogger(__name__)

Pipe = tuple[asyncio.BaseTransport, asyncio.StreamReader]
Read = tuple[bytes, bool]  # the bytes kept, and whether more were cut
_REPORT_MAX = 4 * 1024 * 1024
_INFO_MAX = 64 * 1024
_KILL_WAIT = 10.0  # seconds for the kernel to tear a killed sandbox down


@dataclass(slots=True)
class Spawned:
    """A running sandbox: bwrap's process, the read ends of its pipes, its PID 1's pidfd."""

    proc: asyncio.subprocess.Process
    pipes: list[Pipe]  # stdout, stderr, report, info
    pidfd: int | None = field(default=None)


async def spawn(layout: Layout, launcher: str) -> Spawned:
    """Start bwrap with the launcher.

    Raises:
        SandboxUnavailable: bwrap could not be executed.
    """
    fds = [os.pipe() for _ in range(4)]
    reads, writes = [r for r, _ in fds], [w for _, w in fds]
    argv = bwrap_argv(layout, launcher, report_fd=writes[2], info_fd=writes[3])
    user: dict[str, Any] = {}
    if layout.run_as is not None:
        user = {"user": layout.run_as, "group": layout.run_as, "extra_groups": []}
    try:
        proc = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.PIPE,
            stdout=writes[0],
            stderr=writes[1],
            pass_fds=writes[2:],
            env={},
            cwd="/",
            start_new_session=True,
            **user,
        )
    except OSError as exc:
        for fd in reads:
            os.close(fd)
        raise SandboxUnavailable(f"the sandbox could not start: {exc}") from None
    finally:
        for fd in writes:
            os.close(fd)
    return Spawned(proc, [await _open_pipe(fd) for fd in reads])


async def exchange(sandbox: Spawned, job: bytes, cap: int) -> tuple[Read, Read, Read]:
    """Send the job; read stdout and stderr (each cut at `cap`) and the report to their end."""
    await _find_pid1(sandbox)
    async with asyncio.TaskGroup() as tg:
        tg.create_task(_feed(sandbox.proc, job))
        out = tg.create_task(_drain(sandbox.pipes[0], cap))
        err = tg.create_task(_drain(sandbox.pipes[1], cap))
        rep = tg.create_task(_drain(sandbox.pipes[2], _REPORT_MAX))
        await sandbox.proc.wait()
    return out.result(), err.result(), rep.result()


async def close(sandbox: Spawned) -> None:
    """Make sure the sandbox is gone (kill it if it still runs) and release its pipes."""
    for transport, _ in sandbox.pipes:
        transport.close()
    if sandbox.proc.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            if sandbox.pidfd is not None:
                signal.pidfd_send_signal(sandbox.pidfd, signal.SIGKILL)
            os.killpg(sandbox.proc.pid, signal.SIGKILL)
        await sandbox.proc.wait()
    if sandbox.pidfd is not None:
        await _until_exited(sandbox.pidfd)
        os.close(sandbox.pidfd)
        sandbox.pidfd = None


async def _find_pid1(sandbox: Spawned) -> None:
    """Read bwrap's info (written once the sandbox exists) and open a pidfd on its PID 1."""
    raw, _ = await _drain(sandbox.pipes[3], _INFO_MAX)
    try:
        pid = int(json.loads(raw)["child-pid"])
    except (ValueError, KeyError, TypeError):
        return  # bwrap failed before it made a sandbox: its stderr says why
    try:
        pidfd = os.pidfd_open(pid)
    except ProcessLookupError:
        return  # already over
    if _parent_of(pid) != sandbox.proc.pid:  # the pid was recycled: not ours
        os.close(pidfd)
        return
    sandbox.pidfd = pidfd


def _parent_of(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as f:
            return int(f.read().rpartition(")")[2].split()[1])
    except (OSError, ValueError, IndexError):
        return None


async def _until_exited(pidfd: int) -> None:
    """Wait until the process behind `pidfd` has exited (its pidfd turns readable)."""
    loop = asyncio.get_running_loop()
    exited: asyncio.Future[None] = loop.create_future()

    def readable() -> None:
        if not exited.done():
            exited.set_result(None)

    loop.add_reader(pidfd, readable)
    try:
        async with asyncio.timeout(_KILL_WAIT):
            await exited
    except TimeoutError:  # pragma: no cover - the kernel did not tear it down in time
        log.error(  # noqa: TRY400 - no traceback to show
            "a killed sandbox (pidfd %d) is still running after %s s", pidfd, _KILL_WAIT
        )
    finally:
        loop.remove_reader(pidfd)


async def _feed(proc: asyncio.subprocess.Process, job: bytes) -> None:
    if proc.stdin is None:  # pragma: no cover - stdin=PIPE
        return
    with contextlib.suppress(BrokenPipeError, ConnectionResetError):
        proc.stdin.write(job)
        await proc.stdin.drain()
    proc.stdin.close()


async def _open_pipe(fd: int) -> Pipe:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=2**20)
    transport, _ = await loop.connect_read_pipe(
        lambda: asyncio.StreamReaderProtocol(reader), os.fdopen(fd, "rb", buffering=0)
    )
    return transport, reader


async def _drain(pipe: Pipe, cap: int) -> Read:
    """Read a pipe to its end, keeping at most `cap` bytes; past that, close it (the writer gets
    a broken pipe) and say it was cut."""
    transport, reader = pipe
    data = bytearray()
    try:
        while len(data) <= cap:
            chunk = await reader.read(65536)
            if not chunk:
                return bytes(data), False
            data += chunk
        return bytes(data[:cap]), True
    finally:
        transport.close()


__all__ = ["Read", "Spawned", "close", "exchange", "spawn"]
