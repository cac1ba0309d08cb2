"""Which store a command uses: ``--store``, else ``$PODIUM_STORE``, else one per user.

The per-user store is a SQLite file in the user's data directory (``~/.local/share/podium`` on
Linux, as ``$XDG_DATA_HOME`` says; ``~/Library/Application Support/podium`` on macOS), so
`podium runs` lists the same runs whichever folder it is typed in.
"""

from __future__ import annotations

import os
import shlex
from pathlib import Path

import platformdirs

from podium.exceptions import ConfigError

ENV_VAR = "PODIUM_STORE"
FILE_NAME = "podium.db"


def user_store_path() -> Path:
    """The per-user store file (not created)."""
    return platformdirs.user_data_path("podium") / FILE_NAME


def default_store_url() -> str:
    """The store of a command given no ``--store``: ``$PODIUM_STORE``, else the per-user file,
    whose folder is created."""
    from_env = os.environ.get(ENV_VAR)
    if from_env:
        return from_env
    path = user_store_path()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(
            f"cannot create the folder of the default store {str(path)!r} ({exc.strerror});"
            f" give a store with --store URL or ${ENV_VAR}"
        ) from exc
    return str(path)


def store_url(given: str | None) -> str:
    """The store a command uses: `given` (``--store``), else `default_store_url`."""
    return given or default_store_url()


def _canonical(url: str) -> str:
    """A SQLite store as its file's absolute path (so a command line repeats it from any
    folder); any other URL as given."""
    if url in {"memory://", "memory"}:
        return url
    if url.startswith("sqlite://"):
        path = url.removeprefix("sqlite://")
        url = (path[1:] if path.startswith("/") else path) or FILE_NAME
    elif "://" in url:
        return url
    return str(Path(url).absolute())


def store_flag(given: str | None) -> str:
    """`` --store URL`` for a command line to repeat, unless the command would use that store
    without it; else empty."""
    if not given:
        return ""
    canonical = _canonical(given)
    if canonical == _canonical(os.environ.get(ENV_VAR) or str(user_store_path())):
        return ""
    return f" --store {shlex.quote(_without_password(canonical))}"


def _without_password(url: str) -> str:
    """`url` without the password of its user (libpq still finds it in ``PGPASSWORD`` or
    ``~/.pgpass``): a command line to copy is printed, and terminals are recorded."""
    scheme, sep, rest = url.partition("://")
    user, at, host = rest.rpartition("@")
    if not sep or not at or ":" not in user:
        return url
    return f"{scheme}://{user.partition(':')[0]}@{host}"


def where(url: str) -> str:
    """Where a store keeps its runs, for a person: a file's absolute path, a server's URL
    without its password."""
    if url in {"memory://", "memory"}:
        return "memory (gone when this command ends)"
    canonical = _canonical(url)
    if "://" not in canonical:
        return canonical
    scheme, _, rest = canonical.partition("://")
    return f"{scheme}://{rest.rpartition('@')[2]}"


__all__ = ["default_store_url", "store_flag", "store_url", "user_store_path", "where"]
