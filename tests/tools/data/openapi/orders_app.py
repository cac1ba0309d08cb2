"""A tiny orders API for the OpenAPI tool's tests (FastAPI, served by uvicorn in a thread).

It checks a bearer token on ``/orders``, records every request it receives (method, raw path,
query, headers), and has endpoints that misbehave on purpose: slow, large, plain text, one that
echoes the caller's credentials and one that fails twice before it answers.
"""

from __future__ import annotations

import asyncio
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from fastapi import FastAPI, Header, Request, Response
from fastapi.responses import JSONResponse, PlainTextResponse
from pydantic import BaseModel

TOKEN = "s3cret-token-XYZ"


class NewOrder(BaseModel):
    item: str
    quantity: int
    note: str | None = None


@dataclass
class Orders:
    """The API's state, which tests read."""

    orders: dict[str, dict[str, Any]] = field(default_factory=dict)
    seen: list[dict[str, Any]] = field(default_factory=list)
    flaky: dict[str, int] = field(default_factory=dict)
    stop: threading.Event = field(default_factory=threading.Event)


def _authorized(authorization: str | None) -> JSONResponse | None:
    if authorization == f"Bearer {TOKEN}":
        return None
    return JSONResponse({"detail": f"bad credentials: {authorization!r}"}, status_code=401)


def make_app(state: Orders) -> FastAPI:  # noqa: C901 - one small handler per endpoint
    app = FastAPI(title="Orders", version="1.0")

    @app.middleware("http")
    async def record(request: Request, call_next: Any) -> Response:
        state.seen.append(
            {
                "method": request.method,
                "raw_path": request.scope["raw_path"].decode(),
                "query": request.url.query,
                "headers": dict(request.headers),
            }
        )
        response: Response = await call_next(request)
        return response

    @app.get("/orders", operation_id="listOrders")
    async def list_orders(
        status: str | None = None,
        limit: int = 50,
        authorization: str | None = Header(default=None),
    ) -> Any:
        refused = _authorized(authorization)
        if refused is not None:
            return refused
        found = [o for o in state.orders.values() if status is None or o["status"] == status]
        return found[:limit]

    @app.post("/orders", operation_id="createOrder", status_code=201)
    async def create_order(
        order: NewOrder, authorization: str | None = Header(default=None)
    ) -> Any:
        refused = _authorized(authorization)
        if refused is not None:
            return refused
        oid = f"o{len(state.orders) + 1}"
        state.orders[oid] = {"id": oid, "status": "open", **order.model_dump()}
        return state.orders[oid]

    @app.get("/orders/{orderId}", operation_id="getOrder")
    async def get_order(orderId: str, authorization: str | None = Header(default=None)) -> Any:
        refused = _authorized(authorization)
        if refused is not None:
            return refused
        if orderId not in state.orders:
            return JSONResponse({"detail": f"no order {orderId}"}, status_code=404)
        return state.orders[orderId]

    @app.delete("/orders/{orderId}", operation_id="deleteOrder", status_code=204)
    async def delete_order(
        orderId: str, authorization: str | None = Header(default=None)
    ) -> Response:
        refused = _authorized(authorization)
        if refused is not None:
            return refused
        state.orders.pop(orderId, None)
        return Response(status_code=204)

    @app.get("/slow", operation_id="slow")
    async def slow() -> Any:
        for _ in range(200):  # at most 10 s; the test's stop ends it early
            if state.stop.is_set():
                break
            await asyncio.sleep(0.05)
        return {"late": True}

    @app.get("/big", operation_id="big")
    async def big(size: int) -> Any:
        return {"data": "x" * size}

    @app.get("/note", operation_id="note")
    async def note() -> Any:
        return PlainTextResponse("just text, not JSON")

    @app.get("/echo-auth", operation_id="echo.auth")
    async def echo_auth(request: Request) -> Any:
        return {"you_sent": request.headers.get("authorization")}

    @app.get("/flaky", operation_id="flaky")
    @app.post("/flaky", operation_id="flakyPost")
    async def flaky(request: Request) -> Any:
        n = state.flaky[request.method] = state.flaky.get(request.method, 0) + 1
        if n <= 2:
            return JSONResponse({"detail": "try again"}, status_code=503)
        return {"calls": n}

    return app


class ServerThread:
    """uvicorn serving the orders API in a background thread, on a free port."""

    def __init__(self, state: Orders) -> None:
        config = uvicorn.Config(
            make_app(state),
            host="127.0.0.1",
            port=0,
            log_level="warning",
            lifespan="off",
            ws="none",
            http="h11",
        )
        self.state = state
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def start(self) -> int:
        self.thread.start()
        for _ in range(2000):
            if self.server.started or not self.thread.is_alive():
                break
            time.sleep(0.005)
        assert self.server.started, "the orders API did not start"
        port: int = self.server.servers[0].sockets[0].getsockname()[1]
        return port

    def stop(self) -> None:
        self.state.stop.set()
        self.server.should_exit = True
        self.thread.join(30)
        assert not self.thread.is_alive(), "the orders API did not stop"
