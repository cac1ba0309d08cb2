"""Leases: one driver per run.

Only the holder of a run's lease may append to its journal. A lease names its owner
(``host/pid/nonce``), carries a *fencing token* that grows by one every time the lease changes
hands, and expires unless its holder renews it. Every append of a driver carries its token and
the store rejects a stale one (`LeaseLost`), so a driver that was paused past its expiry and
replaced cannot write after its successor, even if it never noticed.

A store grants the lease atomically: to the first asker when nobody holds it, when the holder's
lease has expired, or when the asker names the holder's current token (a takeover of a holder
known to be dead: `holder_is_dead`). A terminal or parked run holds no lease: the append that
ends or parks it releases the lease in the same transaction.
"""

from __future__ import annotations

import itertools
import os
import socket
import time
import uuid

import msgspec

DEFAULT_LEASE_S = 15.0
"""How long a lease lasts unless renewed; its holder renews it every third of that."""

_HOST = socket.gethostname()


class Lease(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """The right to drive one run.

    Attributes:
        run_id: the run.
        owner: who holds it (``host/pid/nonce``).
        token: the fencing token: every append of the holder carries it.
        expires_at: when it runs out unless renewed (seconds since the epoch, by the store's
            clock).
        cancel: set when someone asked the holder to cancel the run (`Store.request_cancel`);
            the reason they gave.
    """

    run_id: str
    owner: str
    token: int
    expires_at: float
    cancel: str | None = None


_PREFIX: tuple[int, str] | None = None
_SERIAL = itertools.count(1)


def new_owner() -> str:
    """A new lease owner id of this process: ``host/pid/nonce``, the nonce unique within the
    process (a random part, drawn once per process, and a counter)."""
    global _PREFIX  # noqa: PLW0603 - the per-process prefix, drawn once
    pid = os.getpid()
    if _PREFIX is None or _PREFIX[0] != pid:  # first call, or a forked child
        _PREFIX = (pid, f"{_HOST}/{pid}/{uuid.uuid4().hex[:6]}")
    return f"{_PREFIX[1]}.{next(_SERIAL)}"


def describe_owner(owner: str) -> str:
    """``pid 123 on host web-1`` for an owner id (the id itself if it is not one of ours)."""
    host, _, rest = owner.partition("/")
    pid, _, _nonce = rest.partition("/")
    if not host or not pid.isdigit():
        return repr(owner)
    return f"pid {pid} on host {host}"


def holder_is_dead(owner: str) -> bool:
    """Whether `owner` is a process of this host that no longer runs (killed, crashed).

    Its lease can then be taken over at once instead of after it expires. Anything uncertain
    (another host, a pid that exists, possibly reused) counts as alive: waiting for the expiry
    is always safe.
    """
    host, _, rest = owner.partition("/")
    pid_text, _, _nonce = rest.partition("/")
    if host != _HOST or not pid_text.isdigit():
        return False
    pid = int(pid_text)
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:  # EPERM: it exists, under another user
        return False
    return _is_zombie(pid)


def _is_zombie(pid: int) -> bool:
    """A process that exited but was not reaped yet still answers `kill(pid, 0)`."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except OSError:
        return False
    # the state follows the command name, which is in parentheses and may contain spaces
    return stat[stat.rfind(b")") + 2 : stat.rfind(b")") + 3] == b"Z"


def lease_message(run_id: str, owner: str, expires_at: float) -> str:
    """Why a second driver is refused: who drives the run and until when."""
    left = expires_at - time.time()
    when = time.strftime("%H:%M:%S", time.localtime(expires_at))
    return (
        f"run {run_id!r} is being driven by {describe_owner(owner)}: its lease runs until"
        f" {when} ({max(0.0, left):.0f}s from now) and is renewed while it is alive; wait for it"
        f" to finish, or `podium cancel {run_id}`"
    )


__all__ = [
    "DEFAULT_LEASE_S",
    "Lease",
    "describe_owner",
    "holder_is_dead",
    "lease_message",
    "new_owner",
]
