"""One HTTP call of an OpenAPI operation: the request built from validated arguments (path
parameters percent-encoded so that no value leaves the operation's path), auth read from the
environment at call time, bounded retries, a time limit, and a response read up to a size limit.

Secrets never come back: every text a call returns or raises has the secret values replaced.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from podium.exceptions import ConfigError, ToolError
from podium.secrets import Secret, register
from podium.tools._openapi_ops import Operation

if TYPE_CHECKING:
    import httpx

JSON = Any
Query = list[tuple[str, str | int | float | bool | None]]
log = logging.getLogger(__name__)

IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"})
"""Methods retried after a 5xx or a failed connection (RFC 9110's idempotent methods)."""
KEYED = frozenset({"POST", "PATCH"})
"""Methods that carry the call's ``Idempotency-Key``."""
REDACTED = "[redacted]"
EXCERPT = 300


@dataclass(frozen=True, slots=True, kw_only=True)
class Auth:
    """Where a call's credentials come from: names of environment variables, never values.

    Exactly one of: `bearer_env`; `header` with `env`; `username_env` with `password_env`.
    """

    bearer_env: str | None = None
    header: str | None = None
    env: str | None = None
    username_env: str | None = None
    password_env: str | None = None

    def headers(self) -> tuple[dict[str, str], list[str]]:
        """The auth headers, and the secret texts to redact from anything returned."""
        if self.bearer_env:
            token = _secret(self.bearer_env)
            return {"Authorization": f"Bearer {token}"}, [token]
        if self.header and self.env:
            key = _secret(self.env)
            return {self.header: key}, [key]
        if self.username_env and self.password_env:
            user, password = _secret(self.username_env), _secret(self.password_env)
            pair = base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
            register(pair, f"{self.username_env}:{self.password_env}")
            return {"Authorization": f"Basic {pair}"}, [pair, password]
        return {}, []


def _secret(name: str) -> str:
    """The value `name` refers to (a variable's name, ``env:NAME`` or ``file:PATH#key``),
    registered for redaction everywhere."""
    try:
        value = Secret.parse(name).resolve()
    except ConfigError as e:
        raise ToolError(f"{e} (this API's credentials)") from None
    if "\r" in value or "\n" in value:
        raise ToolError(f"the secret {name!r} holds a line break")
    return value


@dataclass(frozen=True, slots=True, kw_only=True)
class Limits:
    """The bounds of one call (see `podium.tools.openapi.openapi_tools`)."""

    timeout_s: float
    max_response_bytes: int
    max_request_bytes: int
    retries: int
    retry_backoff_s: float


@dataclass(frozen=True, slots=True, kw_only=True)
class Endpoint:
    """Where an operation's calls go, and how."""

    base_url: str
    auth: Auth
    limits: Limits
    transport: httpx.AsyncBaseTransport | None = None


def _text(value: JSON) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return str(value)
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def request_parts(
    op: Operation, arguments: Mapping[str, JSON], base_url: str
) -> tuple[str, Query, dict[str, str], JSON]:
    """The URL, query, headers and body (``...`` for none) of a call with valid `arguments`."""
    path = op.path
    query: Query = []
    headers: dict[str, str] = {}
    for p in op.params:
        if p.key not in arguments or arguments[p.key] is None:
            continue
        value = arguments[p.key]
        if p.location == "path":
            text = _text(value)
            if text in ("", ".", ".."):
                raise ToolError(f"path parameter {p.key!r} cannot be {text!r}")
            path = path.replace("{" + p.name + "}", quote(text, safe=""))
        elif p.location == "query":
            values = value if isinstance(value, list) else [value]
            query.extend((p.name, _text(v)) for v in values)
        else:
            text = _text(value)
            if "\r" in text or "\n" in text:
                raise ToolError(f"header parameter {p.key!r} cannot hold a line break")
            headers[p.name] = text
    body = arguments.get(op.body_key, ...) if op.body_key else ...
    return base_url.rstrip("/") + path, query, headers, body


async def send(
    op: Operation, arguments: Mapping[str, JSON], endpoint: Endpoint, key: str
) -> dict[str, JSON]:
    """Make the call; ``{"status": ..., "body": ...}`` (``"truncated": true`` when cut).

    Raises:
        ToolError: a non-2xx answer (status and an excerpt), no answer in time, no connection,
            a request or credentials that cannot be sent. Never with a secret in it.
    """
    auth_headers, secrets = endpoint.auth.headers()
    url, query, headers, body = request_parts(op, arguments, endpoint.base_url)
    headers = {"Accept": "application/json, */*;q=0.5", **headers, **auth_headers}
    content = None
    if body is not ...:
        content = json.dumps(body, ensure_ascii=False).encode()
        if len(content) > endpoint.limits.max_request_bytes:
            raise ToolError(
                f"the request body is {len(content):,} bytes; at most"
                f" {endpoint.limits.max_request_bytes:,} may be sent"
            )
        headers["Content-Type"] = "application/json"
    if op.method in KEYED:
        headers["Idempotency-Key"] = key
    prepared = _Prepared(url=url, query=query, headers=headers, content=content)
    try:
        status, reason, ctype, raw, cut = await _exchange(op, endpoint, prepared)
    except ToolError as exc:
        raise ToolError(redact(str(exc), secrets)) from None
    except ValueError as exc:  # a header httpx cannot encode, and the like
        detail = redact(f"{type(exc).__name__}: {exc}", secrets)
        raise ToolError(f"{op.method} {op.path}: the request cannot be sent: {detail}") from None
    text = redact(raw, secrets)
    if not 200 <= status < 300:
        excerpt = " ".join(text.split())[:EXCERPT] or "(empty body)"
        moved = " (redirects are not followed)" if 300 <= status < 400 else ""
        raise ToolError(f"{op.method} {op.path} answered {status} {reason}{moved}: {excerpt}")
    if cut:
        return {"status": status, "truncated": True, "body": text}
    return {"status": status, "body": _parsed(text, ctype, secrets)}


def _parsed(text: str, ctype: str, secrets: Sequence[str]) -> JSON:
    if not text:
        return None
    if "json" not in ctype.lower():
        return text
    try:
        return _redact_all(json.loads(text), secrets)
    except (ValueError, RecursionError):  # not JSON after all, or nested too deep to read
        return text


@dataclass(frozen=True, slots=True, kw_only=True)
class _Prepared:
    url: str
    query: Query
    headers: dict[str, str]
    content: bytes | None


async def _exchange(
    op: Operation, endpoint: Endpoint, prepared: _Prepared
) -> tuple[int, str, str, str, bool]:
    """``(status, reason, content type, text, cut)``, retrying idempotent calls that failed to
    connect or answered 5xx, at most `Limits.retries` times."""
    import httpx

    limits = endpoint.limits
    retries = limits.retries if op.method in IDEMPOTENT else 0
    timeout = httpx.Timeout(limits.timeout_s)
    async with httpx.AsyncClient(
        timeout=timeout, follow_redirects=False, transport=endpoint.transport
    ) as client:
        for attempt in range(retries + 1):
            last = attempt == retries
            try:
                async with asyncio.timeout(limits.timeout_s):
                    answer = await _attempt(client, op, prepared, limits)
            except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
                if last:
                    raise ToolError(
                        f"cannot connect to {prepared.url}: {type(exc).__name__}"
                    ) from None
            except (TimeoutError, httpx.TimeoutException):
                raise ToolError(
                    f"{op.method} {op.path}: no answer within {limits.timeout_s:g} s"
                ) from None
            except httpx.HTTPError as exc:
                raise ToolError(f"{op.method} {op.path} failed: {type(exc).__name__}") from None
            else:
                if answer[0] < 500 or last:
                    return answer
            log.info("%s %s: attempt %d failed, retrying", op.method, op.path, attempt + 1)
            await asyncio.sleep(limits.retry_backoff_s * 2**attempt)
    raise AssertionError("unreachable")  # pragma: no cover - the last attempt returns or raises


async def _attempt(
    client: httpx.AsyncClient, op: Operation, prepared: _Prepared, limits: Limits
) -> tuple[int, str, str, str, bool]:
    """One request and its answer, read up to the size limit."""
    import httpx

    request = client.build_request(
        op.method,
        prepared.url,
        params=httpx.QueryParams(prepared.query),
        headers=prepared.headers,
        content=prepared.content,
    )
    response = await client.send(request, stream=True)
    try:
        ctype, text, cut = await _read(response, limits.max_response_bytes)
    finally:
        await response.aclose()
    return response.status_code, response.reason_phrase, ctype, text, cut


async def _read(response: httpx.Response, limit: int) -> tuple[str, str, bool]:
    """``(content type, text, cut)``: at most `limit` bytes of the (decoded) body."""
    chunks: list[bytes] = []
    size = 0
    cut = False
    async for chunk in response.aiter_bytes():
        chunks.append(chunk)
        size += len(chunk)
        if size > limit:
            cut = True
            break
    data = b"".join(chunks)[:limit]
    encoding = response.charset_encoding or "utf-8"
    try:
        text = data.decode(encoding, errors="replace")
    except LookupError:  # a charset Python does not know
        text = data.decode("utf-8", errors="replace")
    return response.headers.get("content-type", ""), text, cut


def redact(text: str, secrets: Sequence[str]) -> str:
    """`text` with every secret replaced by ``[redacted]``."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, REDACTED)
    return text


def _redact_all(value: JSON, secrets: Sequence[str]) -> JSON:
    if isinstance(value, str):
        return redact(value, secrets)
    if isinstance(value, list):
        return [_redact_all(v, secrets) for v in value]
    if isinstance(value, dict):
        return {redact(k, secrets): _redact_all(v, secrets) for k, v in value.items()}
    return value


__all__ = ["IDEMPOTENT", "KEYED", "Auth", "Endpoint", "Limits", "redact", "request_parts", "send"]
