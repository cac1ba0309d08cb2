"""Secrets by reference: ``env:NAME``, ``file:PATH#key`` or ``keyring:SERVICE#USER``,
resolved where they are used.

A workflow file names where a secret is, never its value. Resolving a reference reads the value
at that moment (an environment variable, a key of a YAML, JSON or dotenv file, or an entry of
the OS keyring through the `keyring` package, ``pip install 'podium[keyring]'``) and registers
it, so that every sink redacts it from then on (`podium.secrets.redact`).
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml

from podium.exceptions import ConfigError
from podium.secrets._registry import register

_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_KEY = re.compile(r"[A-Za-z0-9_.-]+")
MAX_FILE_BYTES = 1_000_000


@dataclass(frozen=True, slots=True)
class Secret:
    """Where a secret's value is: ``Secret.parse("env:SHOP_TOKEN")``.

    Attributes:
        scheme: ``env`` (an environment variable), ``file`` (a key of a secrets file) or
            ``keyring`` (a password of the OS keyring: macOS Keychain, Windows Credential
            Locker, the Secret Service on Linux, or any backend `keyring` is configured with).
        name: the variable's name, the file's path, or the keyring service.
        key: the key in the file (dotted for nested YAML/JSON), or the keyring user name.
    """

    scheme: Literal["env", "file", "keyring"]
    name: str
    key: str = ""

    @classmethod
    def parse(cls, text: str, *, field: str = "secret") -> Secret:
        """The reference `text` names: ``env:NAME``, ``file:PATH#key``,
        ``keyring:SERVICE#USER``, or a bare ``NAME`` (an environment variable, as the older
        ``*_env`` options take).

        Raises:
            ConfigError: `text` is not a reference (a value pasted in by mistake, say).
        """
        scheme, sep, rest = text.partition(":")
        if not sep and _ENV_NAME.fullmatch(text):
            return cls("env", text)
        if scheme == "env" and _ENV_NAME.fullmatch(rest):
            return cls("env", rest)
        path, hashed, key = rest.partition("#")
        if scheme == "file" and path and hashed and _KEY.fullmatch(key):
            return cls("file", path, key)
        if scheme == "keyring" and path.strip() and hashed and key.strip():
            return cls("keyring", path.strip(), key.strip())
        raise ConfigError(
            f"{field}: not a secret reference (write env:VARIABLE, file:PATH#key or"
            " keyring:SERVICE#USER; a secret's value is never written in a workflow file)"
        )

    @property
    def label(self) -> str:
        """What the value is replaced by in ``[secret:LABEL]``: never the value."""
        if self.scheme == "env":
            return self.name
        if self.scheme == "keyring":
            return f"keyring:{self.name}#{self.key}"
        return f"{Path(self.name).name}#{self.key}"

    def __str__(self) -> str:
        if self.scheme == "env":
            return f"env:{self.name}"
        return f"{self.scheme}:{self.name}#{self.key}"

    def resolve(self) -> str:
        """The value now, registered for redaction.

        Raises:
            ConfigError: the variable is unset or empty, the file or the key is missing.
        """
        if self.scheme == "env":
            value = _from_env(self.name)
        elif self.scheme == "keyring":
            value = _from_keyring(self.name, self.key)
        else:
            value = _from_file(self.name, self.key)
        register(value, self.label)
        return value

    def register(self) -> bool:
        """Resolve and register the value if it is there now; ``False`` if it is not (yet).

        Called where a tool is built, so that the value is redacted even before its first use.
        """
        try:
            self.resolve()
        except ConfigError:
            return False
        return True


def _from_env(name: str) -> str:
    value = os.environ.get(name, "")
    if not value:
        raise ConfigError(f"secret env:{name}: the environment variable {name!r} is not set")
    return value


def _from_keyring(service: str, user: str) -> str:
    where = f"secret keyring:{service}#{user}"
    try:
        import keyring
        from keyring.errors import KeyringError
    except ImportError:
        raise ConfigError(
            f"{where}: the OS keyring needs the keyring package: pip install 'podium[keyring]'"
        ) from None
    try:
        value = keyring.get_password(service, user)
    except KeyringError as exc:  # no usable backend (a server without a Secret Service), locked
        raise ConfigError(f"{where}: the keyring cannot be read: {exc}") from None
    if not value:
        raise ConfigError(f"{where}: the keyring has no password for that service and user")
    return value


def _from_file(path: str, key: str) -> str:
    where = f"secret file:{path}#{key}"
    try:
        with Path(path).open("rb") as f:
            data = f.read(MAX_FILE_BYTES + 1)
    except OSError as e:
        raise ConfigError(f"{where}: cannot read the file ({e.strerror})") from None
    if len(data) > MAX_FILE_BYTES:
        raise ConfigError(f"{where}: the file is over {MAX_FILE_BYTES} bytes")
    text = data.decode("utf-8", errors="replace")
    value = _lookup(_parse(text, path, where), key)
    if not isinstance(value, str | int) or isinstance(value, bool) or value == "":
        raise ConfigError(f"{where}: no key {key!r} with a text value in the file")
    return str(value)


def _parse(text: str, path: str, where: str) -> Any:
    suffix = Path(path).suffix.lower()
    try:
        if suffix == ".json":
            return json.loads(text)
        if suffix in (".yaml", ".yml"):
            return yaml.safe_load(text)
    except (ValueError, yaml.YAMLError):
        # the parser's message may quote the file's text, that is the secrets themselves
        raise ConfigError(f"{where}: the file is not valid {suffix[1:].upper()}") from None
    return _dotenv(text)


def _dotenv(text: str) -> dict[str, str]:
    """``KEY=VALUE`` lines (``export`` and quotes allowed, ``#`` comments skipped)."""
    found: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        name, _, value = line.removeprefix("export ").partition("=")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        found[name.strip()] = value
    return found


def _lookup(data: Any, key: str) -> Any:
    if isinstance(data, dict) and key in data:
        return data[key]
    for part in key.split("."):
        if not isinstance(data, dict) or part not in data:
            return None
        data = data[part]
    return data


__all__ = ["Secret"]
