"""The ``openapi`` tools against a real orders API served on loopback by the test."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import httpx
import pytest

from podium.exceptions import ConfigError, ToolError
from podium.tools import Tool, ToolContext
from podium.tools.openapi import host_allowed, make, openapi_tools
from tests.tools.data.openapi.orders_app import TOKEN, Orders, ServerThread

pytestmark = pytest.mark.anyio

DATA = Path(__file__).parent / "data" / "openapi"
ORDERS = str(DATA / "orders.yaml")


class Api:
    """The running orders API: its port, its state, and tools made from its document."""

    def __init__(self, port: int, state: Orders) -> None:
        self.port = port
        self.state = state
        self.url = f"http://127.0.0.1:{port}"

    def tools(self, **options: Any) -> dict[str, Tool]:
        options.setdefault("allow_hosts", [f"127.0.0.1:{self.port}"])
        options.setdefault("base_url", self.url)
        options.setdefault("auth", {"bearer_env": "ORDERS_TOKEN"})
        options.setdefault("retry_backoff_s", 0)
        return {t.name: t for t in openapi_tools(ORDERS, **options)}

    def paths(self) -> list[str]:
        return [f"{r['method']} {r['raw_path']}" for r in self.state.seen]


@pytest.fixture
def api(monkeypatch: pytest.MonkeyPatch) -> Iterator[Api]:
    monkeypatch.setenv("ORDERS_TOKEN", TOKEN)
    state = Orders()
    server = ServerThread(state)
    port = server.start()
    try:
        yield Api(port, state)
    finally:
        server.stop()


def context(n: int = 1) -> ToolContext:
    return ToolContext(
        run_id="run", task_id="task", agent="clerk", call_id=f"c{n}", idempotency_key=f"run/t/{n}"
    )


async def call(tool: Tool, n: int = 1, **arguments: Any) -> Any:
    return await tool.call(arguments, context(n))


def test_each_operation_is_a_tool_with_its_arguments_and_effect() -> None:
    tools = {
        t.name: t
        for t in openapi_tools(
            ORDERS, allow_hosts=["127.0.0.1"], effects={"deleteOrder": "irreversible"}
        )
    }
    assert {n: t.effect for n, t in tools.items()} == {
        "listOrders": "read",
        "createOrder": "write",
        "getOrder": "read",
        "deleteOrder": "irreversible",
        "slow": "read",
        "big": "read",
        "note": "read",
        "echo_auth": "read",  # "echo.auth" made a tool name
        "flaky": "read",
        "flakyPost": "write",
        "get_items_path": "read",  # no operationId: method and path
    }
    listing = tools["listOrders"].parameters
    assert listing["properties"]["status"] == {"type": "string", "enum": ["open", "shipped"]}
    assert set(listing["properties"]) == {"status", "limit", "X-Trace"}
    assert tools["listOrders"].description == "List orders."
    get = tools["getOrder"].parameters  # the path item's parameter, through its $ref
    assert get["properties"] == {"orderId": {"type": "string", "description": "The order's id."}}
    assert get["required"] == ["orderId"]
    body = tools["createOrder"].parameters["properties"]["body"]  # 3.0 rewritten as JSON Schema
    assert body["properties"]["note"] == {"type": ["string", "null"]}
    assert body["properties"]["quantity"] == {"type": "integer", "exclusiveMinimum": 0}
    assert tools["createOrder"].parameters["required"] == ["body"]
    assert tools["note"].description == "A plain text note."
    assert tools["slow"].description == "GET /slow"


async def test_every_operation_reaches_the_api_with_the_token(api: Api) -> None:
    tools = api.tools()
    created = await call(tools["createOrder"], 7, body={"item": "lamp", "quantity": 2})
    assert created == {
        "status": 201,
        "body": {"id": "o1", "status": "open", "item": "lamp", "quantity": 2, "note": None},
    }
    listed = await call(tools["listOrders"], status="open", limit=5, **{"X-Trace": "t-1"})
    assert listed == {"status": 200, "body": [created["body"]]}
    assert await call(tools["getOrder"], orderId="o1") == created | {"status": 200}
    assert await call(tools["deleteOrder"], orderId="o1") == {"status": 204, "body": None}
    assert api.state.orders == {}
    assert api.paths() == ["POST /orders", "GET /orders", "GET /orders/o1", "DELETE /orders/o1"]
    post, get, *_ = api.state.seen
    assert {r["headers"]["authorization"] for r in api.state.seen} == {f"Bearer {TOKEN}"}
    assert post["headers"]["idempotency-key"] == "run/t/7"  # the call's key: it lands once
    assert "idempotency-key" not in get["headers"]
    assert (get["query"], get["headers"]["x-trace"]) == ("status=open&limit=5", "t-1")


async def test_bad_arguments_are_refused_before_any_request(api: Api) -> None:
    tools = api.tools()
    bad: list[tuple[str, dict[str, Any], str]] = [
        ("listOrders", {"limit": 0}, "limit: 0 is less than the minimum of 1"),
        ("listOrders", {"status": "lost"}, "status: 'lost' is not one of ['open', 'shipped']"),
        ("listOrders", {"url": "http://evil.example/"}, "Additional properties"),
        ("createOrder", {"body": {"item": "x", "quantity": 0}}, "less than or equal to"),
        ("createOrder", {}, "'body' is a required property"),
        ("getOrder", {"orderId": 5}, "5 is not of type 'string'"),
    ]
    for name, arguments, message in bad:
        with pytest.raises(ToolError, match="invalid arguments") as info:
            await call(tools[name], **arguments)
        assert message in str(info.value)
    assert api.state.seen == []


async def test_path_parameters_cannot_leave_their_path(api: Api) -> None:
    get = api.tools()["getOrder"]
    with pytest.raises(ToolError, match="404"):
        await call(get, orderId="../admin?x=1#y")
    with pytest.raises(ToolError, match="404"):
        await call(get, orderId="http://evil.example/steal")
    for value in ("..", ".", ""):
        with pytest.raises(ToolError, match="path parameter 'orderId' cannot be"):
            await call(get, orderId=value)
    assert api.paths() == [
        "GET /orders/..%2Fadmin%3Fx%3D1%23y",
        "GET /orders/http%3A%2F%2Fevil.example%2Fsteal",
    ]


def test_the_server_must_be_on_the_allow_list(api: Api) -> None:
    with pytest.raises(ConfigError, match=r"'127\.0\.0\.1:9' of 'listOrders' is not on"):
        openapi_tools(ORDERS, allow_hosts=["127.0.0.1:8080"])  # the document's server, port 9
    with pytest.raises(ConfigError, match=r"'evil\.example' of 'listOrders' is not on"):
        api.tools(base_url="http://evil.example")
    with pytest.raises(ConfigError, match="must not carry a query"):
        api.tools(base_url=f"{api.url}?x=1", allow_hosts=["127.0.0.1"])
    with pytest.raises(ConfigError, match="is not http"):
        api.tools(base_url="file:///etc/passwd")
    assert api.tools(operations=["note"], allow_hosts=["127.0.0.1"])  # any port of the host


@pytest.mark.parametrize(
    ("url", "allow", "allowed"),
    [
        ("https://api.example.com/v1", ["api.example.com"], True),
        ("https://api.example.com:8443", ["api.example.com:443"], False),
        ("https://api.example.com", ["API.example.com:443"], True),
        ("https://eu.api.example.com", ["*.example.com"], True),
        ("https://example.com", ["*.example.com"], False),
        ("https://evilexample.com", ["*.example.com"], False),
        ("https://api.example.com.evil.io", ["api.example.com"], False),
        ("http://user@api.example.com", ["api.example.com"], True),
    ],
)
def test_host_allow_list_entries(url: str, allow: list[str], allowed: bool) -> None:
    assert host_allowed(url, allow) is allowed


async def test_secrets_never_come_back(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    tools = api.tools()
    echoed = await call(tools["echo_auth"])
    assert echoed == {"status": 200, "body": {"you_sent": "Bearer [redacted]"}}
    monkeypatch.setenv("ORDERS_TOKEN", "wrong-secret-123")
    with pytest.raises(ToolError) as info:
        await call(tools["listOrders"])  # the API complains, quoting what it got
    assert "answered 401 Unauthorized" in str(info.value)
    assert "Bearer [redacted]" in str(info.value)
    assert "wrong-secret-123" not in str(info.value)
    monkeypatch.delenv("ORDERS_TOKEN")
    with pytest.raises(ToolError, match=r"environment variable 'ORDERS_TOKEN'.* is not set"):
        await call(tools["listOrders"])
    assert len(api.state.seen) == 2


async def test_header_and_basic_auth(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KEY", "k-999")
    monkeypatch.setenv("USER", "ann")
    monkeypatch.setenv("PASSWORD", "pw-777")
    keyed = api.tools(auth={"header": "X-Api-Key", "env": "KEY"}, operations=["note"])
    basic = api.tools(auth={"username_env": "USER", "password_env": "PASSWORD"})
    await call(keyed["note"])
    echoed = await call(basic["echo_auth"])
    assert echoed["body"] == {"you_sent": "Basic [redacted]"}
    first, second = api.state.seen
    assert first["headers"]["x-api-key"] == "k-999"
    assert second["headers"]["authorization"] == "Basic YW5uOnB3LTc3Nw=="  # ann:pw-777


async def test_large_answers_are_cut(api: Api) -> None:
    big = api.tools(max_response_bytes=1_000)["big"]
    result = await call(big, size=50_000)
    assert result["truncated"] is True
    assert len(result["body"]) == 1_000
    assert result["body"].startswith('{"data":"xxx')
    assert await call(big, size=10) == {"status": 200, "body": {"data": "x" * 10}}


async def test_a_slow_answer_times_out(api: Api) -> None:
    slow = api.tools(timeout_s=0.3, retries=2)["slow"]
    with pytest.raises(ToolError, match=r"GET /slow: no answer within 0\.3 s"):
        await call(slow)
    assert api.paths() == ["GET /slow"]  # a time-out is not retried


async def test_text_answers_stay_text(api: Api) -> None:
    assert await call(api.tools()["note"]) == {"status": 200, "body": "just text, not JSON"}


async def test_only_idempotent_calls_are_retried(api: Api) -> None:
    tools = api.tools(retries=2)
    assert await call(tools["flaky"]) == {"status": 200, "body": {"calls": 3}}
    with pytest.raises(ToolError, match=r"answered 503 Service Unavailable: .*try again"):
        await call(tools["flakyPost"])
    assert api.state.flaky == {"GET": 3, "POST": 1}
    api.state.flaky.clear()
    with pytest.raises(ToolError, match="503"):
        await call(api.tools(retries=1)["flaky"])
    assert api.state.flaky == {"GET": 2}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


async def test_no_server_is_a_clear_error() -> None:
    port = free_port()
    [tool] = openapi_tools(
        ORDERS,
        allow_hosts=["127.0.0.1"],
        base_url=f"http://127.0.0.1:{port}",
        operations=["note"],
        retries=1,
        retry_backoff_s=0,
    )
    with pytest.raises(ToolError, match=f"cannot connect to http://127.0.0.1:{port}/note"):
        await call(tool)


async def test_a_request_body_has_a_size_limit(api: Api) -> None:
    create = api.tools(max_request_bytes=100)["createOrder"]
    with pytest.raises(ToolError, match="at most 100 may be sent"):
        await call(create, body={"item": "x" * 99, "quantity": 1})
    assert api.state.seen == []


async def test_a_document_by_url(api: Api) -> None:
    """FastAPI's own document (OpenAPI 3.1, no servers: the API is where it was fetched)."""
    tools = {
        t.name: t
        for t in openapi_tools(
            f"{api.url}/openapi.json",
            allow_hosts=[f"127.0.0.1:{api.port}"],
            auth={"bearer_env": "ORDERS_TOKEN"},
            operations=["createOrder", "getOrder"],
        )
    }
    created = await call(tools["createOrder"], body={"item": "pen", "quantity": 1})
    assert (await call(tools["getOrder"], orderId="o1"))["body"] == created["body"]
    with pytest.raises(ConfigError, match="is larger than 100 bytes"):
        openapi_tools(f"{api.url}/openapi.json", allow_hosts=["127.0.0.1"], max_document_bytes=100)
    with pytest.raises(ConfigError, match="status 404"):
        openapi_tools(f"{api.url}/nothing.json", allow_hosts=["127.0.0.1"])


def bad(document: str | dict[str, Any], **options: Any) -> str:
    options.setdefault("allow_hosts", ["127.0.0.1"])
    with pytest.raises(ConfigError) as info:
        openapi_tools(document, **options)
    return str(info.value)


def test_broken_documents_say_where() -> None:
    broken = str(DATA / "broken_ref.yaml")
    assert bad(broken) == (
        f"{broken}: at #/paths/~1things/post/requestBody/content/application~1json/schema:"
        " $ref '#/components/schemas/Thnig' points nowhere (no 'Thnig')"
    )
    assert [
        t.name for t in openapi_tools(broken, allow_hosts=["127.0.0.1"], operations=["listThings"])
    ] == ["listThings"]
    cycle = str(DATA / "cycle.yaml")
    message = bad(cycle)
    assert "$ref cycle #/components/schemas/Node -> #/components/schemas/Node" in message
    assert message.startswith(f"{cycle}: at #/components/schemas/Node/properties/children/items")


def doc(paths: dict[str, Any], **more: Any) -> dict[str, Any]:
    return {"openapi": "3.1.0", "servers": [{"url": "http://127.0.0.1"}], "paths": paths, **more}


def op(**fields: Any) -> dict[str, Any]:
    return {"responses": {"200": {"description": "ok"}}, **fields}


def test_bad_documents_and_options(tmp_path: Path) -> None:
    assert "is not an OpenAPI 3.0 or 3.1 document ('openapi: 2.0'" in bad({"openapi": "2.0"})
    assert "has no 'paths' mapping" in bad({"openapi": "3.0.0"})
    (tmp_path / "x.yaml").write_text("a: [", encoding="utf-8")
    assert "is not JSON or YAML" in bad(str(tmp_path / "x.yaml"))
    assert "cannot read the OpenAPI document" in bad(str(tmp_path / "none.yaml"))
    assert "is larger than 10 bytes" in bad(ORDERS, max_document_bytes=10)
    outside = doc({"/a": {"get": op(parameters=[{"$ref": "other.yaml#/p"}])}})
    assert "points outside the document" in bad(outside)
    twice = doc({"/a": {"get": op(operationId="x")}, "/b": {"get": op(operationId="x")}})
    assert "several operations are named ['x']" in bad(twice)
    assert "no operation 'listOrder' (did you mean 'listOrders'?)" in bad(
        ORDERS, operations=["listOrder"]
    )
    assert "effects: " in bad(ORDERS, effects={"nope": "write"})
    undeclared = doc({"/a/{id}": {"get": op()}})
    assert "path parameter(s) ['id'] of '/a/{id}' are not declared" in bad(undeclared)
    cookie = doc({"/a": {"get": op(parameters=[{"name": "s", "in": "cookie", "required": True}])}})
    assert "required cookie parameter 's' is not supported" in bad(cookie)
    form = {"required": True, "content": {"multipart/form-data": {"schema": {}}}}
    assert "only JSON request bodies" in bad(doc({"/a": {"post": op(requestBody=form)}}))
    relative = doc({"/a": {"get": op()}}, servers=[{"url": "/v1"}])
    assert "a relative server URL needs `base_url`" in bad(relative)


def test_references_that_fan_out_are_bounded() -> None:
    """Each schema names the next twice: 2**25 nodes once inlined, from a tiny document."""
    schemas = {
        f"S{i}": {"type": "array", "items": [{"$ref": f"#/components/schemas/S{i + 1}"}] * 2}
        for i in range(25)
    }
    schemas["S25"] = {"type": "string"}
    body = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/S0"}}}}
    bomb = doc({"/a": {"post": op(requestBody=body)}}, components={"schemas": schemas})
    assert "the inlined references pass 200,000 nodes" in bad(bomb)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"auth": {"token": "abc"}}, "'token': secrets are never written in the file"),
        ({"auth": {"bearer_env": "A", "env": "B"}}, "give exactly one of"),
        ({"auth": {"header": "X-Key"}}, "give exactly one of"),
        ({"auth": {"header": "Bad Header", "env": "K"}}, "auth.header"),
        ({"retries": 50}, "retries: Input should be less than or equal to 5"),
        ({"allow_hosts": []}, "allow_hosts: List should have at least 1 item"),
        ({"effects": {"note": "delete"}}, "effects.note"),
        ({"colour": "red"}, "colour: Extra inputs are not permitted"),
    ],
)
def test_bad_options_name_their_field(options: dict[str, Any], message: str) -> None:
    raw = {"document": ORDERS, "allow_hosts": ["127.0.0.1"], **options}
    with pytest.raises(ConfigError, match="tool kind 'openapi'") as info:
        make(raw)
    assert message in str(info.value)


def test_a_relative_document_is_read_from_base_dir() -> None:
    made: Sequence[Tool] = make(
        {"document": "orders.yaml", "allow_hosts": ["127.0.0.1"], "operations": ["note"]},
        base_dir=str(DATA),
    )
    assert [t.name for t in made] == ["note"]


async def test_lists_headers_and_odd_answers(api: Api) -> None:
    tools = api.tools()
    api.state.orders = {
        "o1": {"id": "o1", "status": "open"},
        "o2": {"id": "o2", "status": "shipped"},
    }
    with pytest.raises(ToolError, match="header parameter 'X-Trace' cannot hold a line break"):
        await call(tools["listOrders"], **{"X-Trace": "a\r\nX-Admin: 1"})
    assert api.state.seen == []
    many = {
        "openapi": "3.1.0",
        "paths": {
            "/orders": {
                "get": op(
                    operationId="listOrders",
                    parameters=[
                        {"name": "status", "in": "query", "schema": {"type": "array"}},
                        {"name": "flag", "in": "query", "schema": {"type": "boolean"}},
                    ],
                )
            }
        },
    }
    [listing] = openapi_tools(
        many,
        allow_hosts=["127.0.0.1"],
        base_url=api.url,
        auth={"bearer_env": "ORDERS_TOKEN"},
    )
    result = await call(listing, status=["open", "shipped"], flag=True)
    assert result["status"] == 200
    assert api.state.seen[-1]["query"] == "status=open&status=shipped&flag=true"


async def test_a_json_document_and_a_base_path(tmp_path: Path) -> None:
    """A JSON file; a server with a path; 3.1's keywords beside a $ref; per-path servers."""
    document = doc(
        {
            "/a/{id}": {
                "servers": [{"url": "https://eu.api.example.com/v2/"}],
                "get": op(
                    operationId="getA",
                    parameters=[
                        {
                            "name": "id",
                            "in": "path",
                            "required": True,
                            "schema": {"$ref": "#/components/schemas/Id", "maxLength": 5},
                        }
                    ],
                ),
            }
        },
        components={"schemas": {"Id": {"type": "string"}}},
    )
    path = tmp_path / "api.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    sent: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        sent.append(str(request.url))
        return httpx.Response(200, json={"id": "x/y"})

    [tool] = openapi_tools(
        str(path), allow_hosts=["*.api.example.com"], transport=httpx.MockTransport(answer)
    )
    assert tool.parameters["properties"]["id"] == {"type": "string", "maxLength": 5}
    assert await call(tool, id="x/y") == {"status": 200, "body": {"id": "x/y"}}
    assert sent == ["https://eu.api.example.com/v2/a/x%2Fy"]


def test_openapi_30_schemas_become_json_schema() -> None:
    from podium.tools._openapi_ops import to_json_schema

    schema = {
        "type": "object",
        "properties": {
            "nullable": {"type": "string"},  # a property called "nullable" is kept
            "any": {"nullable": True, "description": "anything or null"},
            "kind": {"type": "string", "enum": ["a", "b"], "nullable": True},
            "n": {"type": "number", "maximum": 9, "exclusiveMaximum": True},
            "m": {"type": "number", "minimum": 1, "exclusiveMinimum": False},
        },
        "items": {"oneOf": [{"type": "string", "nullable": True}]},
    }
    assert to_json_schema(schema, "3.0.3") == {
        "type": "object",
        "properties": {
            "nullable": {"type": "string"},
            "any": {"anyOf": [{"description": "anything or null"}, {"type": "null"}]},
            "kind": {"type": ["string", "null"], "enum": ["a", "b", None]},
            "n": {"type": "number", "exclusiveMaximum": 9},
            "m": {"type": "number", "minimum": 1},
        },
        "items": {"oneOf": [{"type": ["string", "null"]}]},
    }
    assert to_json_schema(schema, "3.1.0") is schema


async def test_an_invalid_schema_in_the_document_is_told_at_the_call() -> None:
    broken = doc(
        {"/a": {"get": op(parameters=[{"name": "q", "in": "query", "schema": {"type": 5}}])}}
    )
    [tool] = openapi_tools(broken, allow_hosts=["127.0.0.1"])
    assert tool.name == "get_a"
    with pytest.raises(ToolError, match=r"'get_a' cannot be called: .* invalid schema"):
        await call(tool, q="x")


def test_deep_documents_are_refused(tmp_path: Path) -> None:
    deep = tmp_path / "deep.json"
    deep.write_text('{"openapi": "3.1.0", "paths": ' + "[" * 100_000 + "]" * 100_000 + "}")
    assert "is nested too deeply" in bad(str(deep))
    schema: dict[str, Any] = {"type": "string"}
    for _ in range(70):
        schema = {"type": "array", "items": schema}
    nested = doc({"/a": {"get": op(parameters=[{"name": "q", "in": "query", "schema": schema}])}})
    assert "nested deeper than 64" in bad(nested)


def test_a_missing_secret_is_warned_at_load(caplog: pytest.LogCaptureFixture) -> None:
    openapi_tools(
        ORDERS,
        allow_hosts=["127.0.0.1"],
        operations=["note"],
        auth={"bearer_env": "PODIUM_TEST_NO_SUCH_VARIABLE"},
    )
    assert "$PODIUM_TEST_NO_SUCH_VARIABLE is not set" in caplog.text


async def test_a_header_that_cannot_be_sent_is_told(api: Api) -> None:
    with pytest.raises(ToolError, match="the request cannot be sent: UnicodeEncodeError"):
        await call(api.tools()["listOrders"], **{"X-Trace": "café"})
    assert api.state.seen == []


def test_allow_list_entries_and_operations_are_checked() -> None:
    for entry in ("https://api.example.com", "api.example.com/v1", ""):
        assert "is not a host" in bad(ORDERS, allow_hosts=[entry])
    assert "no operations to make tools of" in bad(ORDERS, operations=[])
    assert "no operations to make tools of" in bad(doc({}))
    twice = openapi_tools(ORDERS, allow_hosts=["127.0.0.1"], operations=["note", "note"])
    assert [t.name for t in twice] == ["note"]


async def test_concurrent_calls_each_get_their_own_answer(api: Api) -> None:
    import asyncio

    get = api.tools()["getOrder"]
    api.state.orders = {f"o{i}": {"id": f"o{i}"} for i in range(20)}
    results = await asyncio.gather(*(call(get, i, orderId=f"o{i}") for i in range(20)))
    assert [r["body"]["id"] for r in results] == [f"o{i}" for i in range(20)]
    assert len(api.state.seen) == 20


async def test_clashing_names_are_kept_apart() -> None:
    """A query parameter called ``body`` beside the body; ``id`` in the path and the query."""
    parameters = [
        {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}},
        {"name": "id", "in": "query", "schema": {"type": "string"}},
        {"name": "body", "in": "query", "schema": {"type": "string"}},
    ]
    body = {"content": {"application/json": {"schema": {"type": "object"}}}}
    document = doc({"/a/{id}": {"post": op(parameters=parameters, requestBody=body)}})
    sent: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(204)

    [tool] = openapi_tools(
        document, allow_hosts=["127.0.0.1"], transport=httpx.MockTransport(answer)
    )
    assert list(tool.parameters["properties"]) == ["id", "query_id", "body", "request_body"]
    arguments = {"id": "p", "query_id": "q", "body": "b", "request_body": {"k": 1}}
    assert await call(tool, **arguments) == {"status": 204, "body": None}
    [request] = sent
    assert str(request.url) == "http://127.0.0.1/a/p?id=q&body=b"
    assert (request.content, request.headers["idempotency-key"]) == (b'{"k": 1}', "run/t/1")
