"""What a server is started with: the store, the workflows it offers, who may call it."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from podium.exceptions import ConfigError
from podium.server._auth import AuthConfig

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8700


@dataclass(frozen=True, slots=True, kw_only=True)
class ServerSettings:
    """How `create_app` builds a server.

    Attributes:
        store: the store URL (``None``: ``PODIUM_STORE``, else the default store).
        workflows: workflow files, or folders of them (``*.yaml``, ``*.yml``), offered by name.
        auth: bearer tokens and roles (``None``: everyone is the local user; localhost only).
        poll_s: how often a live stream re-reads the store for runs driven by other processes.
        allowed_modules: the only modules the workflow files may load code from, for the
            offered files and the runs the server resumes (``None``: ``PODIUM_ALLOWED_MODULES``;
            empty: no Python code). See `podium.plan.load_workflow`.
    """

    store: str | None = None
    workflows: Sequence[Path] = field(default_factory=tuple)
    auth: AuthConfig | None = None
    poll_s: float = 0.5
    allowed_modules: Sequence[str] | None = None


def is_loopback(host: str) -> bool:
    """Whether `host` only accepts connections from this machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_bind(host: str, auth: AuthConfig | None) -> None:
    """Refuse to listen beyond this machine without auth.

    Raises:
        ConfigError: `host` is not a loopback address and no auth is configured.
    """
    if auth is None and not is_loopback(host):
        raise ConfigError(
            f"refusing to listen on {host!r} without auth: anyone who can reach it could run"
            " and approve work; give --auth FILE (bearer tokens with roles), or bind to"
            f" {DEFAULT_HOST}"
        )


__all__ = ["DEFAULT_HOST", "DEFAULT_PORT", "ServerSettings", "check_bind", "is_loopback"]
