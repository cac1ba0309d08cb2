"""The web_search tool: recorded exchanges of SearXNG and Brave, and a live SearXNG stand-in."""

from __future__ import annotations

import json
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from podium.exceptions import ConfigError, ToolError
from podium.tools import Tool, ToolContext
from podium.tools._standard import standard_tools
from podium.tools.web import BraveSearch, SearchProvider, SearchResult, SearXNG, web_search_tool
from tests.tools.test_web_fetch import Site, send

pytestmark = pytest.mark.anyio

DATA = Path(__file__).parent / "data" / "web"
CTX = ToolContext(run_id="r", task_id="t", agent="a", call_id="c", idempotency_key="r/t/r1:x")
KEY = "test-key-not-a-secret"


class Replay(httpx.MockTransport):
    """Answers with a recorded exchange after checking the request matches it (method, path,
    query and the recorded headers; ``${KEY}`` in a header stands for the test's key)."""

    def __init__(self, name: str) -> None:
        self.exchange = json.loads((DATA / name).read_text(encoding="utf-8"))
        self.requests: list[httpx.Request] = []
        super().__init__(self.answer)

    def answer(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        want = self.exchange["request"]
        assert request.method == want["method"]
        assert request.url.path == want["path"]
        assert dict(request.url.params) == want["params"]
        for header, value in want["headers"].items():
            assert request.headers.get(header) == value.replace("${KEY}", KEY), header
        got = self.exchange["response"]
        return httpx.Response(got["status"], headers=got["headers"], json=got["body"])


async def search(tool: Tool, query: str, **args: Any) -> dict[str, Any]:
    result = await tool.call({"query": query, **args}, CTX)
    assert isinstance(result, dict)
    return result


async def test_searxng_results_from_a_recorded_answer() -> None:
    replay = Replay("searxng_search.json")
    provider = SearXNG("https://searx.example.org/", transport=replay)
    tool = web_search_tool(provider)
    assert (tool.name, tool.effect) == ("web_search", "read")
    found = await search(tool, "  durable   workflow engine ", k=3)
    assert found["trust"] == "untrusted"
    assert (found["source"], found["query"]) == ("searxng", "durable workflow engine")
    assert found["results"] == [  # the magnet: link is dropped, entities decoded
        {
            "title": "What is a Temporal Workflow? | Temporal Docs",
            "url": "https://docs.temporal.io/workflows",
            "snippet": "A Workflow Execution is a durable, reliable and scalable function"
            " execution.",
        },
        {
            "title": "Workflow engine - Wikipedia",
            "url": "https://en.wikipedia.org/wiki/Workflow_engine",
            "snippet": "A workflow engine is a software application that manages business"
            " processes & their state.",
        },
        {
            "title": "temporalio/sdk-python: Temporal Python SDK",
            "url": "https://github.com/temporalio/sdk-python",
            "snippet": "Temporal Python SDK. Contribute to temporalio/sdk-python development on"
            " GitHub.",
        },
    ]
    assert str(replay.requests[0].url).startswith("https://searx.example.org/search?")
    assert len((await search(tool, "durable workflow engine", k=1))["results"]) == 1


async def test_brave_results_from_a_recorded_answer(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PODIUM_TEST_BRAVE", KEY)
    replay = Replay("brave_web_search.json")
    tool = web_search_tool(BraveSearch(api_key_env="PODIUM_TEST_BRAVE", transport=replay))
    found = await search(tool, "durable workflow engine", k=2)
    assert found["source"] == "brave"
    assert [(r["title"], r["url"]) for r in found["results"]] == [
        ("Temporal: Durable Execution Solutions", "https://temporal.io/"),
        (
            "Durable Functions overview - Azure",
            "https://learn.microsoft.com/azure/azure-functions/durable/durable-functions-overview",
        ),
    ]
    assert found["results"][0]["snippet"] == (
        "Build invincible apps with durable execution — a workflow engine for developers."
    )
    assert replay.requests[0].url.host == "api.search.brave.com"
    assert KEY not in json.dumps(found)


async def test_brave_errors_name_the_variable_not_the_key(monkeypatch: pytest.MonkeyPatch) -> None:
    tool = web_search_tool(
        BraveSearch(api_key_env="PODIUM_TEST_BRAVE", transport=Replay("brave_invalid_key.json"))
    )
    monkeypatch.delenv("PODIUM_TEST_BRAVE", raising=False)
    with pytest.raises(ToolError, match="the environment variable 'PODIUM_TEST_BRAVE' is not set"):
        await search(tool, "anything")
    monkeypatch.setenv("PODIUM_TEST_BRAVE", KEY)
    with pytest.raises(ToolError) as refused:
        await search(tool, "anything")
    assert str(refused.value) == (
        "brave refused the key in $PODIUM_TEST_BRAVE (HTTP 422: SUBSCRIPTION_TOKEN_INVALID The"
        " provided subscription token is invalid.)"
    )
    limited = web_search_tool(
        BraveSearch(api_key_env="PODIUM_TEST_BRAVE", transport=Replay("brave_rate_limited.json"))
    )
    with pytest.raises(ToolError, match=r"rate limit reached \(HTTP 429: RATE_LIMITED"):
        await search(limited, "anything")


@pytest.fixture
def searxng() -> Any:
    """A local server speaking SearXNG's JSON API: one result per word of the query."""
    with Site() as site:

        def answer(h: BaseHTTPRequestHandler) -> None:
            query = parse_qs(urlsplit(h.path).query)
            if query.get("format") != ["json"]:
                send(h, 403, b"Forbidden", "text/html")
                return
            words = query["q"][0].split()
            body = {
                "query": query["q"][0],
                "number_of_results": len(words),
                "results": [
                    {
                        "url": f"https://example.org/{w}",
                        "title": f"About <b>{w}</b>",
                        "content": f"All about {w}.",
                        "engine": "local",
                        "category": query.get("categories", ["general"])[0],
                    }
                    for w in words
                ],
                "answers": [],
                "suggestions": [],
                "unresponsive_engines": [],
            }
            send(h, 200, json.dumps(body).encode(), "application/json")

        site.routes["/search"] = answer
        yield site


async def test_searxng_over_real_http(searxng: Site) -> None:
    tool = web_search_tool(SearXNG(searxng.url, categories="news"), max_results=2)
    found = await search(tool, "alpha beta gamma delta", k=10)  # k is capped at max_results
    assert found["results"] == [
        {"title": "About alpha", "url": "https://example.org/alpha", "snippet": "All about alpha."},
        {"title": "About beta", "url": "https://example.org/beta", "snippet": "All about beta."},
    ]
    assert searxng.hits["/search"] == 1


async def test_searxng_failures_say_what_to_do(searxng: Site) -> None:
    searxng.routes["/closed/search"] = lambda h: send(h, 403, b"Forbidden", "text/html")
    searxng.routes["/html/search"] = lambda h: send(h, 200, b"<html>results</html>", "text/html")
    searxng.routes["/list/search"] = lambda h: send(h, 200, b"[1, 2]", "application/json")
    searxng.routes["/huge/search"] = lambda h: send(
        h, 200, b'{"results": "' + b"x" * 3_000_000 + b'"}', "application/json"
    )
    searxng.routes["/odd/search"] = lambda h: send(
        h,
        200,
        b'{"results": [1, {"url": 5}, {"url": "https://a.example/", "title": 7}]}',
        "application/json",
    )
    cases = {
        "/closed": "does not allow format=json",
        "/html": "answered something that is not JSON",
        "/list": "JSON that is not an object",
        "/huge": "answered more than 2000000 bytes",
        "/missing": "searxng answered HTTP 404: not here",
    }
    for path, message in cases.items():
        with pytest.raises(ToolError, match=message):
            await search(web_search_tool(SearXNG(searxng.url + path)), "q")
    odd = await search(web_search_tool(SearXNG(searxng.url + "/odd")), "q")
    assert odd["results"] == [{"title": "", "url": "https://a.example/", "snippet": ""}]


async def test_hostile_queries_are_refused_before_searching() -> None:
    replay = Replay("searxng_search.json")
    tool = web_search_tool(SearXNG("https://searx.example.org", transport=replay))
    with pytest.raises(ToolError, match="the query is empty"):
        await search(tool, " \n\t ")
    with pytest.raises(ToolError, match="longer than 500 characters"):
        await search(tool, "word " * 200)
    assert replay.requests == []


async def test_any_provider_fits_the_protocol() -> None:
    class Fixed:
        name = "fixed"

        async def search(self, query: str, k: int) -> list[SearchResult]:
            return [SearchResult(f"{query} {i}", f"https://x.example/{i}", "") for i in range(9)]

    provider: SearchProvider = Fixed()
    found = await search(web_search_tool(provider, max_results=3), "q", k=5)
    assert [r["title"] for r in found["results"]] == ["q 0", "q 1", "q 2"]
    with pytest.raises(ConfigError, match="is not a SearchProvider"):
        web_search_tool(object())  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="max_results must be at least 1"):
        web_search_tool(provider, max_results=0)


def test_workflow_options_are_checked() -> None:
    [tool] = standard_tools("web_search", {"provider": "brave", "api_key_env": "X_KEY"}, "look")
    assert (tool.name, tool.effect) == ("look", "read")
    bad = [
        ({"provider": "searxng"}, "provider searxng needs `url`"),
        ({"provider": "google"}, "provider: Input should be 'searxng' or 'brave'"),
        ({"provider": "brave", "api_key_env": "sk-live-123"}, "is not an environment variable"),
        ({"provider": "searxng", "url": "searx.local"}, "is not an http(s) URL"),
        ({"provider": "searxng", "url": "http://s", "max_results": 0}, "max_results"),
    ]
    for raw, message in bad:
        with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
            standard_tools("web_search", raw, "look")
