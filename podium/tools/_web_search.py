"""Web search behind a small protocol, with two providers: SearXNG and the Brave Search API.

A provider turns a query into at most ``k`` `SearchResult`s. Both here speak HTTP through httpx
(a transport can be injected for tests), read at most ``max_bytes`` of the answer, and translate
every failure into `ToolError` (the model reads it). Titles and snippets are plain text: the
HTML some engines put in snippets (``<strong>``) is stripped.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import httpx
import msgspec

from podium.exceptions import ConfigError, ToolError
from podium.secrets import Secret
from podium.tools._web_fetch import read_limited

JSON = Any
MAX_TITLE = 300
MAX_SNIPPET = 1000
MAX_URL = 2000
_TAG = re.compile(r"<[^>]{0,200}>")
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass(frozen=True, slots=True)
class SearchResult:
    """One hit: its title, URL and a snippet of its text (all plain text)."""

    title: str
    url: str
    snippet: str


@runtime_checkable
class SearchProvider(Protocol):
    """A search engine: `search` returns at most `k` results for `query`, best first.

    Raise `podium.exceptions.ToolError` for a failure the model should read.
    """

    name: str

    async def search(self, query: str, k: int) -> list[SearchResult]: ...


def plain(text: object, limit: int) -> str:
    """`text` without HTML tags and entities, whitespace collapsed, at most `limit` chars."""
    if not isinstance(text, str):
        return ""
    return " ".join(html.unescape(_TAG.sub("", text)).split())[:limit]


def results_from(items: object, k: int, snippet_key: str) -> list[SearchResult]:
    """The first `k` well-formed http(s) hits of a provider's result list."""
    found: list[SearchResult] = []
    for item in items if isinstance(items, list) else []:
        if len(found) >= k:
            break
        if not isinstance(item, dict):
            continue
        url = item.get("url")
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            continue
        found.append(
            SearchResult(
                title=plain(item.get("title"), MAX_TITLE),
                url=url[:MAX_URL],
                snippet=plain(item.get(snippet_key), MAX_SNIPPET),
            )
        )
    return found


def secret_from_env(name: str, what: str) -> str:
    """The value `name` refers to (a variable's name, ``env:NAME`` or ``file:PATH#key``),
    registered for redaction; `ToolError` saying which when it is missing."""
    try:
        return Secret.parse(name).resolve()
    except ConfigError as e:
        raise ToolError(f"{what}: {e}") from None


def check_env_name(name: str, field: str) -> str:
    """`name` when it is a secret reference: a variable's name, ``env:NAME`` or
    ``file:PATH#key`` (never a secret's value). Its value, if there now, is registered for
    redaction at once."""
    if not _ENV_NAME.fullmatch(name):
        try:
            Secret.parse(name, field=field).register()
        except ConfigError:
            # never echo `name`: it may be a value pasted in by mistake
            raise ConfigError(
                f"{field}: the value is not an environment variable name nor a secret"
                " reference (env:NAME or file:PATH#key)"
            ) from None
    else:
        Secret.parse(name).register()
    return name


class _HttpProvider:
    """The HTTP plumbing both providers share: one GET, a size cap, JSON, errors translated."""

    name = "http"

    def __init__(
        self,
        *,
        timeout_s: float = 15.0,
        max_bytes: int = 2_000_000,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.timeout_s = timeout_s
        self.max_bytes = max_bytes
        self.transport = transport

    async def _get_json(
        self, url: str, params: dict[str, str], headers: dict[str, str]
    ) -> dict[str, JSON]:
        try:
            async with (
                httpx.AsyncClient(
                    transport=self.transport, timeout=httpx.Timeout(self.timeout_s)
                ) as client,
                client.stream("GET", url, params=params, headers=headers) as response,
            ):
                if response.status_code >= 400:
                    error, _ = await read_limited(response, 65_536)
                    raise ToolError(self._status_message(response.status_code, _detail(error)))
                data, cut = await read_limited(response, self.max_bytes)
        except httpx.HTTPError as exc:
            raise ToolError(f"{self.name} search failed: {type(exc).__name__}: {exc}") from None
        if cut:
            raise ToolError(f"{self.name} answered more than {self.max_bytes} bytes")
        try:
            decoded = msgspec.json.decode(data)
        except msgspec.DecodeError:
            raise ToolError(f"{self.name} answered something that is not JSON") from None
        if not isinstance(decoded, dict):
            raise ToolError(f"{self.name} answered JSON that is not an object")
        return decoded

    def _status_message(self, status: int, detail: str) -> str:
        return f"{self.name} answered HTTP {status}" + (f": {detail}" if detail else "")


def _detail(body: bytes) -> str:
    """The error an API's answer states (``error.code``/``error.detail`` or ``message``), or
    its first 200 characters as text."""
    try:
        decoded = msgspec.json.decode(body)
    except msgspec.DecodeError:
        return plain(body.decode("utf-8", "replace"), 200)
    error = decoded.get("error") if isinstance(decoded, dict) else None
    if isinstance(error, dict):
        parts = [error.get("code"), error.get("detail")]
        return plain(" ".join(str(p) for p in parts if p), 300)
    if isinstance(decoded, dict) and isinstance(decoded.get("message"), str):
        return plain(decoded["message"], 300)
    return ""


class SearXNG(_HttpProvider):
    """A SearXNG instance's JSON API (``GET {base_url}/search?q=…&format=json``).

    The instance must allow the ``json`` format (``search.formats`` in its ``settings.yml``);
    many public instances do not, and answer 403.

    Args:
        base_url: the instance, e.g. ``http://127.0.0.1:8888``.
        categories: SearXNG categories, comma-separated (``general``, ``news``, …).
        language: a language code (``en``) or None for the instance's default.
    """

    name = "searxng"

    def __init__(
        self,
        base_url: str,
        *,
        categories: str | None = None,
        language: str | None = None,
        timeout_s: float = 15.0,
        max_bytes: int = 2_000_000,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        super().__init__(timeout_s=timeout_s, max_bytes=max_bytes, transport=transport)
        if not base_url.startswith(("http://", "https://")):
            raise ConfigError(f"searxng url: {base_url!r} is not an http(s) URL")
        self.base_url = base_url.rstrip("/")
        self.categories = categories
        self.language = language

    async def search(self, query: str, k: int) -> list[SearchResult]:
        params = {"q": query, "format": "json"}
        if self.categories:
            params["categories"] = self.categories
        if self.language:
            params["language"] = self.language
        answer = await self._get_json(f"{self.base_url}/search", params, {})
        return results_from(answer.get("results"), k, "content")

    def _status_message(self, status: int, detail: str) -> str:
        if status == 403:
            return (
                "searxng answered 403: the instance does not allow format=json (add json to"
                " search.formats in its settings.yml)"
            )
        return super()._status_message(status, detail)


class BraveSearch(_HttpProvider):
    """The Brave Search API (``GET /res/v1/web/search``, key in ``X-Subscription-Token``).

    The key is read from the environment variable `api_key_env` at each search, never stored
    in a workflow file.

    Args:
        api_key_env: the name of the variable holding the key (``BRAVE_API_KEY``).
        base_url: the API's root (a proxy or a test server may stand in).
    """

    name = "brave"
    MAX_COUNT = 20  # the API's maximum `count`

    def __init__(
        self,
        *,
        api_key_env: str = "BRAVE_API_KEY",
        base_url: str = "https://api.search.brave.com",
        timeout_s: float = 15.0,
        max_bytes: int = 2_000_000,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        super().__init__(timeout_s=timeout_s, max_bytes=max_bytes, transport=transport)
        self.api_key_env = check_env_name(api_key_env, "api_key_env")
        self.base_url = base_url.rstrip("/")

    async def search(self, query: str, k: int) -> list[SearchResult]:
        key = secret_from_env(self.api_key_env, "brave search")
        params = {"q": query, "count": str(min(k, self.MAX_COUNT))}
        headers = {"Accept": "application/json", "X-Subscription-Token": key}
        answer = await self._get_json(f"{self.base_url}/res/v1/web/search", params, headers)
        web = answer.get("web")
        return results_from(web.get("results") if isinstance(web, dict) else None, k, "description")

    def _status_message(self, status: int, detail: str) -> str:
        if status in (401, 403) or "TOKEN" in detail:
            return f"brave refused the key in ${self.api_key_env} (HTTP {status}: {detail})"
        if status == 429:
            return f"brave: rate limit reached (HTTP 429: {detail}); try again later"
        return super()._status_message(status, detail)


__all__ = [
    "BraveSearch",
    "SearXNG",
    "SearchProvider",
    "SearchResult",
    "check_env_name",
    "secret_from_env",
]
