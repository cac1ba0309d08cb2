"""Fetching a URL within limits: the allow-list on every hop, a byte cap, a deadline.

Redirects are followed by hand, so each hop's host is checked against the allow-list before it
is contacted (httpx's own following would contact it first). The body is streamed and reading
stops at ``max_bytes`` (decompressed bytes, so a compression bomb stops there too).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import httpx

from podium._sync import run_sync
from podium.exceptions import ToolError
from podium.tools._web_hosts import HostPolicy, Resolve
from podium.tools._web_page import kind_of, read_body

JSON = Any
USER_AGENT = "podium-web-fetch/0.1 (+https://github.com/podium)"
MAX_URL_CHARS = 4096


@dataclass(frozen=True, slots=True, kw_only=True)
class FetchLimits:
    """How much one fetch may take.

    Attributes:
        max_bytes: body bytes read at most (after decompression); past them the body is cut
            (``truncated``), and a PDF is refused (a cut PDF cannot be read).
        max_chars: characters of text returned at most.
        timeout_s: the whole fetch, redirects and body included.
        max_redirects: redirects followed at most.
    """

    max_bytes: int = 2_000_000
    max_chars: int = 20_000
    timeout_s: float = 20.0
    max_redirects: int = 5


@dataclass(frozen=True, slots=True)
class Body:
    """A response body read within the limits."""

    url: httpx.URL
    status: int
    media_type: str
    charset: str | None
    data: bytes
    truncated: bool


async def read_limited(response: httpx.Response, max_bytes: int) -> tuple[bytes, bool]:
    """At most `max_bytes` of the (decoded) body, and whether there was more."""
    buffer = bytearray()
    async for chunk in response.aiter_bytes():
        room = max_bytes - len(buffer)
        if len(chunk) > room:
            buffer += chunk[:room]
            return bytes(buffer), True
        buffer += chunk
    return bytes(buffer), False


def media_type(response: httpx.Response) -> str:
    """The response's media type, lower-case, without parameters (``""`` when none)."""
    value: str = response.headers.get("content-type", "")
    return value.split(";", maxsplit=1)[0].strip().lower()


def parse_url(url: str) -> httpx.URL:
    """`url` parsed; `ToolError` when it is too long or malformed."""
    if len(url) > MAX_URL_CHARS:
        raise ToolError(f"the URL is longer than {MAX_URL_CHARS} characters")
    try:
        return httpx.URL(url.strip())
    except (httpx.InvalidURL, ValueError, TypeError) as exc:
        raise ToolError(f"not a valid URL ({exc})") from None


class Fetcher:
    """Fetches URLs an allow-list admits and returns their readable text, labelled untrusted.

    Args:
        hosts: the allow-list.
        limits: size, time and redirect limits.
        transport: an httpx transport (tests pass `httpx.MockTransport`); the network otherwise.
        resolve: gives a host name's addresses (the system's resolver by default).
    """

    def __init__(
        self,
        hosts: HostPolicy,
        limits: FetchLimits,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        resolve: Resolve | None = None,
    ) -> None:
        self.hosts = hosts
        self.limits = limits
        self.transport = transport
        self.resolve = resolve

    async def fetch(self, url: str, *, links: bool = False) -> dict[str, JSON]:
        """The page at `url`: ``trust``, ``source`` (the URL after redirects), ``url``,
        ``status``, ``content_type``, ``title``, ``text``, ``truncated`` and, with `links`,
        ``links`` (``{text, url}``, at most 100)."""
        start = parse_url(url)
        try:
            async with asyncio.timeout(self.limits.timeout_s):
                body = await self._get(start)
        except TimeoutError:
            raise ToolError(
                f"no complete answer from {str(start)[:200]!r} within {self.limits.timeout_s:g} s"
            ) from None
        kind = kind_of(body.media_type)
        if kind == "pdf" and body.truncated:
            raise ToolError(
                f"the PDF is larger than the tool's limit of {self.limits.max_bytes} bytes"
            )
        page = await run_sync(
            read_body, kind, body.data, body.charset, str(body.url), self.limits.max_chars
        )
        text = page.text.strip()
        result: dict[str, JSON] = {
            "trust": "untrusted",
            "source": str(body.url),
            "url": str(start),
            "status": body.status,
            "content_type": body.media_type,
            "title": page.title,
            "text": text[: self.limits.max_chars],
            "truncated": body.truncated or len(text) > self.limits.max_chars,
        }
        if links:
            result["links"] = page.links
        return result

    async def _get(self, url: httpx.URL) -> Body:
        """The body at `url`, following at most ``max_redirects`` redirects, each checked."""
        async with httpx.AsyncClient(
            transport=self.transport,
            follow_redirects=False,
            timeout=httpx.Timeout(self.limits.timeout_s),
            headers={"User-Agent": USER_AGENT, "Accept": "text/html, text/*, */*;q=0.5"},
        ) as client:
            for _ in range(self.limits.max_redirects + 1):
                await self.hosts.check(url, self.resolve)
                try:
                    async with client.stream("GET", url) as response:
                        if response.is_redirect:
                            url = url.join(response.headers["location"])
                            continue
                        return await self._body(url, response)
                except (httpx.HTTPError, httpx.InvalidURL) as exc:
                    raise ToolError(f"cannot fetch {str(url)[:200]!r}: {exc}") from None
        raise ToolError(f"more than {self.limits.max_redirects} redirects; stopped")

    async def _body(self, url: httpx.URL, response: httpx.Response) -> Body:
        if response.status_code >= 400:
            raise ToolError(
                f"{str(url)[:200]!r} answered HTTP {response.status_code} {response.reason_phrase}"
            )
        kind_of(media_type(response))  # refuse an unsupported type before reading its body
        data, truncated = await read_limited(response, self.limits.max_bytes)
        return Body(
            url,
            response.status_code,
            media_type(response),
            response.charset_encoding,
            data,
            truncated,
        )


__all__ = ["Body", "FetchLimits", "Fetcher", "media_type", "parse_url", "read_limited"]
