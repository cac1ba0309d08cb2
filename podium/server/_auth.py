"""Who is calling: bearer tokens with roles, from a tokens file.

The file never needs a secret in it: each token is given by its SHA-256 (``token_sha256``) or by
the name of an environment variable that holds it (``token_env``)::

    tokens:
      - {user: alice, roles: [operator, approver], token_sha256: 9f86d08...}
      - {user: ci-bot, roles: [operator], token_env: PODIUM_CI_TOKEN}
      - {user: wall-screen, roles: [viewer]}        # needs a token_sha256 or token_env

Roles: ``viewer`` reads; ``operator`` also submits, cancels, resumes, forks and rates runs;
``approver`` also approves and rejects (and reads). Tokens are compared by their digests, in
constant time.
"""

from __future__ import annotations

import getpass
import hashlib
import hmac
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, get_args

import yaml

from podium.exceptions import ConfigError

Role = Literal["viewer", "operator", "approver"]
ROLES: tuple[str, ...] = get_args(Role)

Permission = Literal["read", "operate", "approve"]
_GRANTS: dict[str, frozenset[str]] = {
    "viewer": frozenset({"read"}),
    "operator": frozenset({"read", "operate"}),
    "approver": frozenset({"read", "approve"}),
}


@dataclass(frozen=True, slots=True)
class Principal:
    """A caller: who, with which roles."""

    user: str
    roles: tuple[str, ...]

    def may(self, permission: Permission) -> bool:
        return any(permission in _GRANTS[role] for role in self.roles)


def local_principal() -> Principal:
    """Who a server without auth (bound to localhost) treats every caller as."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (some containers)
        user = "local"
    return Principal(user=user, roles=("operator", "approver"))


def token_digest(token: str) -> str:
    """The hex SHA-256 of a token, as ``token_sha256`` holds it."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class _Entry:
    digest: bytes
    principal: Principal


class AuthConfig:
    """Bearer tokens and whom they stand for (see the module docstring for the file format)."""

    def __init__(self, entries: Iterable[tuple[str, Principal]]) -> None:
        self._entries = [_Entry(bytes.fromhex(d), p) for d, p in entries]
        if not self._entries:
            raise ConfigError("the auth configuration has no tokens")

    def verify(self, token: str) -> Principal | None:
        """Whom `token` stands for, or ``None``; every entry is compared, in constant time."""
        presented = hashlib.sha256(token.encode("utf-8", "surrogatepass")).digest()
        found: Principal | None = None
        for entry in self._entries:
            if hmac.compare_digest(presented, entry.digest):
                found = entry.principal
        return found


def load_auth(path: str | os.PathLike[str]) -> AuthConfig:
    """Read a tokens file.

    Raises:
        ConfigError: the file is missing or malformed, a role is unknown, a token is given in
            plain text, or a ``token_env`` variable is unset.
    """
    file = Path(path)
    try:
        data = yaml.safe_load(file.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read the auth file {str(file)!r}: {exc}") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{file}: not valid YAML: {exc}") from exc
    tokens = data.get("tokens") if isinstance(data, dict) else None
    if not isinstance(tokens, list) or not tokens:
        raise ConfigError(f"{file}: expected `tokens:` with a list of {{user, roles, token_…}}")
    return AuthConfig(_entry(file, i, item) for i, item in enumerate(tokens))


def _entry(file: Path, index: int, item: Any) -> tuple[str, Principal]:
    where = f"{file}: tokens[{index}]"
    if not isinstance(item, dict):
        raise ConfigError(f"{where}: expected a mapping with user, roles and token_sha256")
    if "token" in item:
        raise ConfigError(
            f"{where}: `token` would keep the secret in the file in plain text; give its"
            ' `token_sha256` (python -c "import hashlib,sys;'
            ' print(hashlib.sha256(sys.argv[1].encode()).hexdigest())" TOKEN) or `token_env`'
        )
    user = item.get("user")
    if not isinstance(user, str) or not user.strip():
        raise ConfigError(f"{where}.user: a non-empty name is required")
    roles = item.get("roles")
    if not isinstance(roles, list) or not roles or not all(r in ROLES for r in roles):
        raise ConfigError(f"{where}.roles: a list of {', '.join(ROLES)}; got {roles!r}")
    return _digest(where, item), Principal(user=user.strip(), roles=tuple(roles))


def _digest(where: str, item: dict[str, Any]) -> str:
    digest, env = item.get("token_sha256"), item.get("token_env")
    if (digest is None) == (env is None):
        raise ConfigError(f"{where}: give exactly one of token_sha256 and token_env")
    if env is not None:
        value = os.environ.get(str(env), "")
        if not value:
            raise ConfigError(f"{where}.token_env: the variable {env!r} is not set")
        return token_digest(value)
    text = str(digest).strip().lower()
    if len(text) != 64 or any(c not in "0123456789abcdef" for c in text):
        raise ConfigError(f"{where}.token_sha256: expected 64 hex digits")
    return text


__all__ = [
    "ROLES",
    "AuthConfig",
    "Permission",
    "Principal",
    "Role",
    "load_auth",
    "local_principal",
    "token_digest",
]
