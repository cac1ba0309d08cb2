"""Who is at the keyboard: the name the CLI records for what a person does with it.

One answer for every command that journals an action — a submit, a resume, a fork, a cancel, a
rollback, a rating — and the same one a `podium serve` without tokens gives its local callers
(`podium.server.local_principal`), so a run's audit names one person however they reached it.
"""

from __future__ import annotations

from podium.server._auth import local_principal


def local_user() -> str:
    """The login name of this process's user (``local`` where the system has none)."""
    return local_principal().user


__all__ = ["local_user"]
