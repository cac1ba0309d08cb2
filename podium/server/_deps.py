"""What every route depends on: the server's context and the caller, checked against a role."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from podium.server._auth import AuthConfig, Permission, Principal
from podium.server._errors import ApiError
from podium.server._service import Service
from podium.server._stream import Notifier


@dataclass(slots=True)
class Context:
    """What the routes reach through ``request.app.state.podium``."""

    service: Service
    notifier: Notifier
    auth: AuthConfig | None
    local: Principal
    poll_s: float


def context(request: Request) -> Context:
    ctx: Context | None = getattr(request.app.state, "podium", None)
    if ctx is None:  # a request before the lifespan started (never with uvicorn)
        raise ApiError(503, "starting", "the server is starting")
    return ctx


def _token(request: Request) -> str:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    if request.url.path.endswith("/stream"):  # EventSource cannot send headers
        return request.query_params.get("access_token", "")
    return ""


def principal(request: Request, ctx: Annotated[Context, Depends(context)]) -> Principal:
    """The caller (401 without a known token when auth is configured)."""
    if ctx.auth is None:
        return ctx.local
    token = _token(request)
    found = ctx.auth.verify(token) if token else None
    if found is None:
        raise ApiError(
            401,
            "unauthorized",
            "a valid bearer token is required",
            **{"WWW-Authenticate": "Bearer"},
        )
    return found


def requires(permission: Permission) -> Callable[..., Principal]:
    """A dependency: the caller, if a role of theirs allows `permission` (else 403)."""

    def check(who: Annotated[Principal, Depends(principal)]) -> Principal:
        if not who.may(permission):
            raise ApiError(
                403,
                "forbidden",
                f"{who.user!r} (roles: {', '.join(who.roles)}) may not {permission} here",
            )
        return who

    return check


__all__ = ["Context", "context", "principal", "requires"]
