"""Errors as responses: one JSON shape, ``{"error": {"type", "message", "field", "holder"}}``."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from podium.exceptions import (
    ConfigError,
    LeaseHeld,
    PodiumError,
    RunError,
    RunNotFound,
    StoreError,
)
from podium.secrets import redact_text
from podium.server._models import ErrorResponse
from podium.server._runner import AlreadyDriven, ServerStopping
from podium.server._service import Conflict

logger = logging.getLogger(__name__)

_HTTP_TYPES = {401: "unauthorized", 403: "forbidden", 404: "not_found", 405: "method_not_allowed"}


class ApiError(Exception):
    """An HTTP error with the API's shape (raised by the routes and the auth check)."""

    def __init__(self, status: int, type_: str, message: str, **headers: str) -> None:
        super().__init__(message)
        self.status = status
        self.type = type_
        self.message = message
        self.headers = headers


def error_response(
    status: int,
    type_: str,
    message: str,
    *,
    field: str | None = None,
    holder: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    message = redact_text(message)  # an error's text may quote a value a tool resolved
    body = {"error": {"type": type_, "message": message, "field": field, "holder": holder}}
    return JSONResponse(body, status_code=status, headers=dict(headers) if headers else None)


_STATUS: tuple[tuple[type[PodiumError], int, str], ...] = (
    (RunNotFound, 404, "not_found"),
    (AlreadyDriven, 409, "conflict"),
    (LeaseHeld, 409, "conflict"),
    (Conflict, 409, "conflict"),
    (RunError, 409, "conflict"),  # not parked, an expired approval, …
    (ConfigError, 422, "invalid"),
    (ServerStopping, 503, "stopping"),
    (StoreError, 503, "store_unavailable"),
)


def _podium(exc: PodiumError) -> JSONResponse:
    for kind, status, type_ in _STATUS:
        if isinstance(exc, kind):
            if status >= 500:
                logger.warning("%s: %s", type_, exc)
            holder = exc.owner if isinstance(exc, LeaseHeld) else None
            return error_response(status, type_, str(exc), holder=holder)
    logger.error("unexpected error: %r", exc)
    return error_response(500, "internal", str(exc))


def _field(loc: Iterable[Any]) -> str:
    return ".".join(str(part) for part in loc)


def install_error_handlers(app: FastAPI) -> None:
    async def on_api(_request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, ApiError)
        return error_response(exc.status, exc.type, exc.message, headers=exc.headers or None)

    async def on_podium(_request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, PodiumError)
        return _podium(exc)

    async def on_validation(_request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        errors = exc.errors()
        first = errors[0] if errors else {"loc": (), "msg": "invalid request"}
        field = _field(first.get("loc", ()))
        message = "; ".join(f"{_field(e.get('loc', ()))}: {e.get('msg', '')}" for e in errors)
        return error_response(422, "invalid", message or "invalid request", field=field or None)

    async def on_http(_request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        kind = _HTTP_TYPES.get(exc.status_code, "http_error")
        return error_response(exc.status_code, kind, str(exc.detail), headers=exc.headers)

    app.add_exception_handler(ApiError, on_api)
    app.add_exception_handler(PodiumError, on_podium)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(StarletteHTTPException, on_http)


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorResponse, "description": text}
    for code, text in (
        (401, "No or unknown bearer token"),
        (403, "The token's roles do not allow this"),
        (404, "No such run, workflow or approval"),
        (409, "Conflicts with the run's state (driven elsewhere: `holder`)"),
        (422, "Bad input (`field` says where)"),
        (503, "The store is unavailable"),
    )
}


__all__ = ["ERROR_RESPONSES", "ApiError", "error_response", "install_error_handlers"]
