"""Which URLs the web tools may reach: a host allow-list checked before every request.

An entry is an exact host (``docs.python.org``, ``127.0.0.1``, ``localhost``), a pattern
``*.example.com`` (any subdomain of example.com, not example.com itself), or ``*`` (any host
name). An IP address or a ``localhost`` name is reached only when listed exactly: a pattern never
matches one. A host that only a pattern admits must also resolve to public addresses, so a
name under an allowed domain that points at 127.0.0.1 or 10.0.0.0/8 is refused too.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

import httpx

from podium.exceptions import AccessRefused, ConfigError, ToolError

SCHEMES = ("http", "https")
Resolve = Callable[[str, int], Awaitable[list[str]]]
"""Gives the addresses of a host name (tests inject one; the system's resolver otherwise)."""


def _ascii_host(host: str) -> str:
    """`host` lower-cased, without a trailing dot, as IDNA ASCII (so ``bücher.de`` matches
    ``xn--bcher-kva.de``)."""
    host = host.strip().lower().rstrip(".")
    try:
        return host.encode("idna").decode("ascii")
    except UnicodeError:
        return host


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


def _is_local_name(host: str) -> bool:
    return host == "localhost" or host.endswith(".localhost")


@dataclass(frozen=True, slots=True)
class HostPolicy:
    """An allow-list of hosts (see the module docstring).

    Attributes:
        exact: hosts listed by name or address.
        suffixes: the domains of ``*.domain`` entries, each with its leading dot.
        any_name: ``*`` was listed: any host name (never an IP address) that resolves publicly.
    """

    exact: frozenset[str]
    suffixes: tuple[str, ...]
    any_name: bool = False

    @classmethod
    def parse(cls, entries: Sequence[str], *, what: str = "allow_hosts") -> HostPolicy:
        """The policy of `entries`; `ConfigError` for an empty list or a malformed entry."""
        if not entries:
            raise ConfigError(f"{what}: list at least one host (or '*' for any public host)")
        exact: set[str] = set()
        suffixes: list[str] = []
        any_name = False
        for raw in entries:
            bare = raw.strip().lower()
            entry = _ascii_host(raw)
            if bare == "*":
                any_name = True
            elif bare.startswith("*"):
                domain = _ascii_host(bare[2:]) if bare.startswith("*.") else ""
                if not domain or "*" in domain or "/" in domain or ":" in domain:
                    raise ConfigError(f"{what}: {raw!r} is not a host pattern (use '*.domain')")
                suffixes.append("." + domain)
            elif not entry or "*" in entry or "/" in entry or ":" in entry.strip("[]"):
                if not _is_ip(entry):
                    raise ConfigError(
                        f"{what}: {raw!r} is not a host (give a name like 'example.com', an IP"
                        " address, '*.example.com' or '*'; no scheme, path or port)"
                    )
                exact.add(entry.strip("[]"))
            else:
                exact.add(entry)
        return cls(frozenset(exact), tuple(suffixes), any_name)

    def admits(self, host: str) -> str | None:
        """``"exact"`` or ``"pattern"`` (how `host` is allowed), or None when it is not."""
        host = _ascii_host(host).strip("[]")
        if host in self.exact:
            return "exact"
        if _is_ip(host) or _is_local_name(host):
            return None
        if self.any_name or any(host.endswith(s) for s in self.suffixes):
            return "pattern"
        return None

    async def check(self, url: httpx.URL, resolve: Resolve | None = None) -> None:
        """Raise `ToolError` unless `url` may be requested (scheme, host, and the addresses
        `resolve` gives for a host a pattern admits; the system's resolver by default); a host
        the list does not admit is `AccessRefused`, which the run journals."""
        if url.scheme not in SCHEMES:
            raise ToolError(f"only http and https URLs can be fetched, not {str(url)[:200]!r}")
        if url.userinfo:
            raise ToolError("URLs with a user name or password are refused")
        host = url.raw_host.decode("ascii", "replace")
        if not host:
            raise ToolError("the URL has no host")
        how = self.admits(host)
        if how is None:
            raise AccessRefused(
                f"host {host!r} is not in the tool's allow-list; it may fetch only from the"
                " hosts its configuration lists",
                access="host",
                target=host,
            )
        if how == "pattern":
            port = url.port or (443 if url.scheme == "https" else 80)
            await _check_public(host, await (resolve or system_resolve)(host, port))


async def system_resolve(host: str, port: int) -> list[str]:
    """The addresses the system's resolver gives for `host`; `ToolError` when it gives none."""
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise ToolError(f"cannot resolve host {host!r}: {exc}") from None
    return [str(info[4][0]) for info in infos]


async def _check_public(host: str, addresses: list[str]) -> None:
    """Refuse a host whose name resolves to a private, loopback or otherwise non-public address.

    The check and the connection resolve separately, so a name that changes its answer in
    between (DNS rebinding) can slip through; list exact hosts where that matters.
    """
    for text in addresses:
        address = ipaddress.ip_address(text.split("%")[0])
        if not address.is_global:
            raise AccessRefused(
                f"host {host!r} resolves to the non-public address {str(address)!r}; list it"
                " exactly in the allow-list to reach it",
                access="host",
                target=host,
            )


__all__ = ["SCHEMES", "HostPolicy", "Resolve", "system_resolve"]
