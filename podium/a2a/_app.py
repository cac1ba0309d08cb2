"""The A2A server app: the card, JSON-RPC at ``/`` and HTTP+JSON (REST) below it, on Starlette.

Two things are decided here rather than left to the SDK's defaults:

- **Requests without ``A2A-Version``.** The spec (§3.6.2) says such a request is a 0.3 one. A
  0.3 request (a 0.3 method name such as ``message/send``, or a ``/v1/…`` REST path) is served
  by the SDK's 0.3 adapter. A request that can only be 1.0 (a 1.0 method such as
  ``SendMessage``, or a 1.0 REST path) has no 0.3 meaning: rather than refuse it, it is served
  as 1.0, as if it said ``A2A-Version: 1.0``. A header naming a version this server does not
  speak is refused with `VersionNotSupportedError`. An empty header counts as a missing one
  (§3.6.2); a 0.3 method under a 1.x header is an unknown method (-32601), not a 0.3 error.
- **Auth.** With tokens configured, every call but the card needs ``Authorization: Bearer``
  with a token of the tokens file (the same file and roles as ``podium serve``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

from a2a.server.context import ServerCallContext
from a2a.server.routes import create_agent_card_routes, create_jsonrpc_routes, create_rest_routes
from a2a.server.routes.common import DefaultServerCallContextBuilder
from a2a.server.routes.jsonrpc_dispatcher import JsonRpcDispatcher
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from podium.a2a._card import PROTOCOL_VERSION, agent_card
from podium.a2a._drives import Drives
from podium.a2a._handler import PRINCIPAL, PodiumRequestHandler
from podium.a2a._messages import Target
from podium.runtime import Orchestrator
from podium.server import AuthConfig
from podium.server._auth import local_principal

log = logging.getLogger(__name__)

CARD_PATH = "/.well-known/agent-card.json"
VERSION_HEADER = b"a2a-version"
MAX_BODY = 10 * 1024 * 1024
"""Bytes of a JSON-RPC body read to learn its method (a longer one is refused)."""
V1_METHODS = frozenset(JsonRpcDispatcher.METHOD_TO_MODEL)
V03_METHODS = frozenset(
    {
        "message/send",
        "message/stream",
        "tasks/get",
        "tasks/cancel",
        "tasks/resubscribe",
        "tasks/pushNotificationConfig/set",
        "tasks/pushNotificationConfig/get",
        "tasks/pushNotificationConfig/list",
        "tasks/pushNotificationConfig/delete",
        "agent/getAuthenticatedExtendedCard",
    }
)
"""The JSON-RPC methods of A2A 0.3 (a closed list: 0.3 is final)."""


class _ContextBuilder(DefaultServerCallContextBuilder):
    """Hands the caller the auth middleware found to the handler."""

    def build(self, request: Request) -> ServerCallContext:
        context = super().build(request)
        context.state[PRINCIPAL] = request.scope.get(PRINCIPAL)
        return context


class _Gate:
    """ASGI middleware: the caller from the bearer token; 1.0 implied where only 1.0 fits."""

    def __init__(self, app: ASGIApp, auth: AuthConfig | None) -> None:
        self.app = app
        self.auth = auth
        self.local = local_principal()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] == CARD_PATH:
            await self.app(scope, receive, send)
            return
        principal = self.local if self.auth is None else self._verify(scope)
        if principal is None:
            await _reply(send, 401, {"error": "unauthorized: send Authorization: Bearer <token>"})
            return
        scope[PRINCIPAL] = principal
        # the spec (3.6.2) reads an empty A2A-Version as a missing one: both mean 0.3
        headers = [(n, v) for n, v in scope["headers"] if n != VERSION_HEADER or v.strip()]
        scope["headers"] = headers
        stated = any(name == VERSION_HEADER for name, _ in headers)
        if scope["path"] == "/" and scope["method"] == "POST":
            await self._jsonrpc(scope, receive, send, stated=stated)
        else:
            if not stated:
                _imply(scope, not scope["path"].startswith("/v1/"))
            await self.app(scope, receive, _rest_statuses(send))

    def _verify(self, scope: Scope) -> Any:
        assert self.auth is not None
        for name, value in scope["headers"]:
            if name == b"authorization":
                kind, _, token = value.decode("latin-1").partition(" ")
                if kind.lower() == "bearer" and token.strip():
                    return self.auth.verify(token.strip())
        return None

    async def _jsonrpc(self, scope: Scope, receive: Receive, send: Send, *, stated: bool) -> None:
        """Read the body to learn the method; replay it to the app."""
        chunks: list[bytes] = []
        size, more = 0, True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > MAX_BODY:
                await _reply(send, 413, {"error": f"request body over {MAX_BODY} bytes"})
                return
            chunks.append(chunk)
            more = message.get("more_body", False)
        body = b"".join(chunks)
        request_id, method = _method(body)
        if not stated:
            _imply(scope, method in V1_METHODS)
        elif method in V03_METHODS and not _stated(scope).startswith("0."):
            # the SDK's 0.3 adapter would answer a 0.3 method under a newer header with a
            # 0.3-style internal error (-32603): answer it in 1.0 terms instead
            await _reply(send, 200, _not_v03(request_id, method, _stated(scope)))
            return
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


HTTP_STATUS = {"TASK_NOT_CANCELABLE": 409, "CONTENT_TYPE_NOT_SUPPORTED": 415}
"""Where the spec's error table (§5.4) gives another HTTP status than the SDK's 400."""


def _rest_statuses(send: Send) -> Send:
    """`send`, with the HTTP status of a REST error set from its ErrorInfo reason (§5.4)."""
    held: Message | None = None

    async def fixed(message: Message) -> None:
        nonlocal held
        if message["type"] == "http.response.start" and message["status"] == 400:
            held = message  # the status depends on the body, which comes next
            return
        if held is None:
            await send(message)
            return
        start, held = held, None
        body, status = _restatus(message.get("body", b""))
        if status is not None and not message.get("more_body", False):
            headers = [(k, v) for k, v in start["headers"] if k != b"content-length"]
            headers.append((b"content-length", str(len(body)).encode()))
            start = {**start, "status": status, "headers": headers}
            message = {**message, "body": body}
        await send(start)
        await send(message)

    return fixed


def _restatus(body: bytes) -> tuple[bytes, int | None]:
    """The error body with its code set to the status its reason calls for, and that status."""
    try:
        error = json.loads(body)["error"]
        reasons = [d.get("reason") for d in error.get("details", [])]
    except (ValueError, KeyError, TypeError, AttributeError):
        return body, None
    status = next((HTTP_STATUS[r] for r in reasons if r in HTTP_STATUS), None)
    if status is None:
        return body, None
    error["code"] = status
    return json.dumps({"error": error}).encode(), status


def _method(body: bytes) -> tuple[Any, str | None]:
    """The JSON-RPC request's id and method (``None`` where there is none)."""
    try:
        data = json.loads(body)
    except ValueError:
        return None, None
    if not isinstance(data, dict):
        return None, None
    method, request_id = data.get("method"), data.get("id")
    if isinstance(request_id, bool) or not isinstance(request_id, str | int):
        request_id = None
    return request_id, method if isinstance(method, str) else None


def _stated(scope: Scope) -> str:
    """The A2A-Version the request states (``""``: none)."""
    for name, value in scope["headers"]:
        if name == VERSION_HEADER:
            return str(value.decode("latin-1")).strip()
    return ""


def _not_v03(request_id: Any, method: str, version: str) -> dict[str, Any]:
    """The error for a 0.3 method under `version`: unknown in 1.x, else an unknown version."""
    if version.partition(".")[0] == "1":
        code = -32601
        text = f"method {method!r} is A2A 0.3: send it without A2A-Version, or use its 1.0 name"
    else:
        code = -32009
        text = f"A2A version {version!r} is not supported: this agent speaks 1.0 (and 0.3)"
    return {"jsonrpc": "2.0", "id": request_id, "error": {"code": code, "message": text}}


def _imply(scope: Scope, v1: bool) -> None:
    if v1:
        scope["headers"] = [*scope["headers"], (VERSION_HEADER, PROTOCOL_VERSION.encode())]


async def _reply(send: Send, status: int, body: dict[str, Any]) -> None:
    data = json.dumps(body).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode())]
    if status == 401:
        headers.append((b"www-authenticate", b"Bearer"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": data})


def _lifespan(
    drives: Drives, name: str, *, sweep_s: float, owns: bool
) -> Callable[[Starlette], contextlib.AbstractAsyncContextManager[None]]:
    """Opens the store, resumes orphaned runs (now and every `sweep_s`), and at shutdown
    interrupts the runs it drives (resumable)."""
    orch = drives.orch

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        await orch.open()
        subscription = orch.subscribe(drives.on_event)
        try:
            async with asyncio.TaskGroup() as group:
                drives.group = group
                resumed = await drives.resume_orphans(name)
                if resumed:
                    log.info("resumed %d A2A task(s) left by an earlier server", resumed)
                sweeper = group.create_task(drives.sweep(name, sweep_s))
                try:
                    yield
                finally:
                    sweeper.cancel()
                    await drives.shutdown()
        finally:
            await subscription.close()
            if owns:
                await orch.close()

    return lifespan


def build_app(
    orch: Orchestrator,
    target: Target,
    *,
    url: str,
    auth: AuthConfig | None = None,
    poll_s: float = 0.5,
    sweep_s: float = 5.0,
    owns: bool = False,
) -> Starlette:
    """The Starlette app serving `target` over A2A (see `podium.a2a.create_app`)."""
    drives = Drives(orch, poll_s=poll_s)
    card = agent_card(target.workflow, url, bearer=auth is not None)
    handler = PodiumRequestHandler(orch, target, drives, card)
    builder = _ContextBuilder()
    routes = [
        *create_agent_card_routes(card, card_url=CARD_PATH),
        *create_jsonrpc_routes(handler, "/", context_builder=builder, enable_v0_3_compat=True),
        *create_rest_routes(handler, context_builder=builder, enable_v0_3_compat=True),
    ]

    lifespan = _lifespan(drives, target.workflow.name, sweep_s=sweep_s, owns=owns)
    app = Starlette(routes=routes, lifespan=lifespan)
    app.add_middleware(_Gate, auth=auth)
    app.state.handler = handler
    return app


__all__ = ["CARD_PATH", "build_app"]
