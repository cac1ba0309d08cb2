"""`podium serve`: the HTTP API (REST and Server-Sent Events) and the dashboard.

Importing this package is light; FastAPI and uvicorn (the ``server`` extra) are imported when an
app is built or served.

Example:
    ```python
    from podium.server import ServerSettings, create_app

    app = create_app(ServerSettings(store="sqlite:///runs.db", workflows=[Path("flows")]))
    ```
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from podium.runtime import Orchestrator
from podium.secrets import install as install_redaction
from podium.server._auth import AuthConfig, Principal, load_auth, token_digest
from podium.server._settings import DEFAULT_HOST, DEFAULT_PORT, ServerSettings, check_bind

if TYPE_CHECKING:
    from types import FrameType

    from fastapi import FastAPI

GRACE_S = 3
"""Seconds open connections (live streams) get to end when the server stops."""


def create_app(
    target: Orchestrator | ServerSettings | None = None,
    settings: ServerSettings | None = None,
) -> FastAPI:
    """The FastAPI app of a Podium server.

    Args:
        target: the orchestrator whose store and agents the server uses (it is opened by the
            app's lifespan and left open), or the settings to make one from (the app then
            owns and closes it).
        settings: with an orchestrator: the workflows offered and the auth (its `store` is
            ignored).

    Raises:
        ConfigError: a workflow location does not exist.
    """
    from podium.server._app import build_app

    if isinstance(target, ServerSettings):
        return build_app(None, target)
    return build_app(target, settings or ServerSettings())


def serve(settings: ServerSettings, *, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT) -> None:
    """Serve until interrupted (Ctrl-C stops it cleanly: runs it drives are left resumable).

    Raises:
        ConfigError: a non-loopback `host` without auth, or a bad setting.
    """
    import uvicorn

    from podium.server._app import stop_streams

    check_bind(host, settings.auth)
    app = create_app(settings)

    class Server(uvicorn.Server):
        def handle_exit(self, sig: int, frame: FrameType | None) -> None:
            stop_streams(app)  # open streams would hold the shutdown: they end now
            super().handle_exit(sig, frame)

    config = uvicorn.Config(
        app, host=host, port=port, lifespan="on", timeout_graceful_shutdown=GRACE_S
    )
    # uvicorn set up its loggers' handlers just now: no secret reaches one of them
    install_redaction(
        *(logging.getLogger(n) for n in ("uvicorn", "uvicorn.error", "uvicorn.access"))
    )
    Server(config).run()


__all__ = [
    "DEFAULT_HOST",
    "DEFAULT_PORT",
    "AuthConfig",
    "Principal",
    "ServerSettings",
    "check_bind",
    "create_app",
    "load_auth",
    "serve",
    "token_digest",
]
