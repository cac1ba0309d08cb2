"""HTTP APIs as tools: one tool per operation of an OpenAPI 3.0/3.1 document.

Each operation's path, query and header parameters and its JSON request body become the tool's
arguments (a JSON Schema the model sees and the call is checked against). Calls go only to the
API's server, whose host must be on `allow_hosts`; credentials are named by environment variable
and read at call time. In a workflow file::

    tools:
      shop:
        use: openapi
        with:
          document: shop-openapi.yaml
          allow_hosts: [api.shop.example]
          auth: {bearer_env: SHOP_TOKEN}
          operations: [listOrders, getOrder, deleteOrder]
          effects: {deleteOrder: irreversible}

gives the tools ``shop_listOrders``, ``shop_getOrder`` and ``shop_deleteOrder``.
"""

from __future__ import annotations

import difflib
import logging
import os
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin, urlsplit

import pydantic

from podium.exceptions import ConfigError, ToolError
from podium.secrets import Secret
from podium.tools._openapi_doc import Document, Resolver, load_document
from podium.tools._openapi_http import Auth, Endpoint, Limits, send
from podium.tools._openapi_ops import Operation, build_operation, list_operations
from podium.tools._standard import options
from podium.tools._tool import EFFECTS, Effect, Tool, ToolContext

if TYPE_CHECKING:
    import httpx
    import jsonschema

JSON = Any
log = logging.getLogger(__name__)
CONTEXT = "podium:context"  # not an identifier: no JSON Schema property can clash with it
_ARGUMENTS: pydantic.TypeAdapter[dict[str, JSON]] = pydantic.TypeAdapter(dict[str, JSON])
_SECRET_WORDS = ("token", "bearer", "password", "key", "secret", "value")


class AuthOptions(pydantic.BaseModel):
    """``auth:``: one of ``{bearer_env}``, ``{header, env}``, ``{username_env, password_env}``."""

    model_config = pydantic.ConfigDict(extra="forbid", frozen=True)
    bearer_env: str | None = None
    header: str | None = pydantic.Field(default=None, pattern=r"^[A-Za-z0-9!#$%&'*+.^_`|~-]+$")
    env: str | None = None
    username_env: str | None = None
    password_env: str | None = None

    @pydantic.model_validator(mode="before")
    @classmethod
    def _no_secrets(cls, data: JSON) -> JSON:
        if isinstance(data, dict):
            inline = [k for k in data if isinstance(k, str) and k.lower() in _SECRET_WORDS]
            if inline:
                raise ValueError(
                    f"{inline[0]!r}: secrets are never written in the file; name the"
                    " environment variable that holds it (bearer_env, or header with env)"
                )
        return data

    @pydantic.model_validator(mode="after")
    def _one_shape(self) -> AuthOptions:
        shapes = [
            self.bearer_env is not None,
            self.header is not None or self.env is not None,
            self.username_env is not None or self.password_env is not None,
        ]
        complete = (self.header is None) == (self.env is None) and (
            (self.username_env is None) == (self.password_env is None)
        )
        if sum(shapes) != 1 or not complete:
            raise ValueError(
                "give exactly one of {bearer_env: VAR}, {header: NAME, env: VAR} or"
                " {username_env: VAR, password_env: VAR}"
            )
        return self


class OpenApiOptions(pydantic.BaseModel):
    """The ``with:`` options of ``use: openapi`` (see `openapi_tools` for each)."""

    model_config = pydantic.ConfigDict(extra="forbid", frozen=True)
    document: str = pydantic.Field(min_length=1)
    allow_hosts: list[str] = pydantic.Field(min_length=1)
    base_url: str | None = None
    operations: list[str] | None = None
    effects: dict[str, Effect] = {}
    auth: AuthOptions | None = None
    timeout_s: float = pydantic.Field(default=30.0, gt=0, le=600)
    max_response_bytes: int = pydantic.Field(default=1_000_000, gt=0, le=100_000_000)
    max_request_bytes: int = pydantic.Field(default=1_000_000, gt=0, le=100_000_000)
    max_document_bytes: int = pydantic.Field(default=5_000_000, gt=0, le=100_000_000)
    retries: int = pydantic.Field(default=2, ge=0, le=5)
    retry_backoff_s: float = pydantic.Field(default=0.5, ge=0, le=30)


def make(raw: Mapping[str, JSON], base_dir: str | os.PathLike[str] | None = None) -> Sequence[Tool]:
    """The tools of a workflow file's ``use: openapi`` entry (a relative `document` path is
    read from `base_dir`, else the current directory)."""
    o = options(OpenApiOptions, raw, "openapi")
    return openapi_tools(
        o.document,
        allow_hosts=o.allow_hosts,
        base_url=o.base_url,
        operations=o.operations,
        effects=o.effects,
        auth=o.auth.model_dump() if o.auth is not None else None,
        timeout_s=o.timeout_s,
        max_response_bytes=o.max_response_bytes,
        max_request_bytes=o.max_request_bytes,
        max_document_bytes=o.max_document_bytes,
        retries=o.retries,
        retry_backoff_s=o.retry_backoff_s,
        base_dir=base_dir,
    )


def openapi_tools(
    document: str | Mapping[str, JSON],
    *,
    allow_hosts: Sequence[str],
    base_url: str | None = None,
    operations: Sequence[str] | None = None,
    effects: Mapping[str, Effect] | None = None,
    auth: Mapping[str, str | None] | None = None,
    timeout_s: float = 30.0,
    max_response_bytes: int = 1_000_000,
    max_request_bytes: int = 1_000_000,
    max_document_bytes: int = 5_000_000,
    retries: int = 2,
    retry_backoff_s: float = 0.5,
    base_dir: str | os.PathLike[str] | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
) -> list[Tool]:
    """One tool per operation of an OpenAPI 3.0/3.1 document.

    Args:
        document: a file path (relative to `base_dir`), an ``http(s)`` URL fetched once now, or
            the parsed document.
        allow_hosts: hosts calls may go to: ``api.example.com`` (any port),
            ``127.0.0.1:8080`` (that port), ``*.example.com`` (its subdomains). The server URL
            must be on it.
        base_url: the API's URL, instead of the document's first server.
        operations: the operations to make tools of (their tool names), default all.
        effects: effect per operation, instead of read for GET/HEAD/OPTIONS, write otherwise.
        auth: ``{"bearer_env": VAR}``, ``{"header": NAME, "env": VAR}`` or
            ``{"username_env": VAR, "password_env": VAR}``: the variables are read at each call.
        timeout_s: the longest a call may take (each attempt), answer included.
        max_response_bytes: a longer answer is cut there (``"truncated": true``).
        max_request_bytes: the largest JSON body a call may send.
        max_document_bytes: the largest document read.
        retries: extra attempts of an idempotent call after a 5xx or a failed connection.
        retry_backoff_s: the wait before the first retry (doubling after each).
        base_dir: where a relative `document` path is read from.
        transport: an ``httpx`` transport for the calls (tests).

    Raises:
        ConfigError: the document cannot be read or has a problem (with where in it), the
            server is not on `allow_hosts`, unknown operations, bad options.
    """
    checked = AuthOptions.model_validate(dict(auth)) if auth is not None else None
    for entry in allow_hosts:
        if not entry or any(c in entry for c in "/?#@ "):
            raise ConfigError(
                f"allow_hosts: {entry!r} is not a host: write `api.example.com`,"
                " `api.example.com:8443` or `*.example.com`, without a scheme or path"
            )
    limits = Limits(
        timeout_s=timeout_s,
        max_response_bytes=max_response_bytes,
        max_request_bytes=max_request_bytes,
        retries=retries,
        retry_backoff_s=retry_backoff_s,
    )
    doc = load_document(
        document, base_dir=base_dir, max_bytes=max_document_bytes, timeout_s=timeout_s
    )
    listed = {entry[0]: entry for entry in list_operations(doc)}
    chosen = _chosen(doc, listed, operations, effects or {})
    resolver = Resolver(doc)
    secret = Auth(**checked.model_dump()) if checked is not None else Auth()
    for var in _variables(checked):
        # read at each call; registered now for redaction, said now so the operator knows early
        if not Secret.parse(var, field="auth").register():
            log.warning("OpenAPI tools of %s: $%s is not set (yet)", doc.source, var)
    tools = []
    for name in chosen:
        op = build_operation(doc, resolver, listed[name], secret.header)
        url = _server_url(doc, op, base_url, allow_hosts)
        endpoint = Endpoint(base_url=url, auth=secret, limits=limits, transport=transport)
        effect = (effects or {}).get(name) or _default_effect(op.method)
        tools.append(_tool(op, endpoint, effect))
    return tools


def _variables(auth: AuthOptions | None) -> list[str]:
    if auth is None:
        return []
    names = (auth.bearer_env, auth.env, auth.username_env, auth.password_env)
    return [n for n in names if n]


def _chosen(
    doc: Document,
    listed: Mapping[str, JSON],
    operations: Sequence[str] | None,
    effects: Mapping[str, Effect],
) -> list[str]:
    """The operations to make tools of, checked against the document."""
    if len(listed) != sum(1 for _ in list_operations(doc)):
        every = [entry[0] for entry in list_operations(doc)]
        twice = sorted({n for n in every if every.count(n) > 1})
        raise ConfigError(f"{doc.source}: several operations are named {twice}")
    asked: tuple[tuple[str, Sequence[str]], ...] = (
        ("operations", list(operations or ())),
        ("effects", list(effects)),
    )
    for what, names in asked:
        for n in names:
            if n not in listed:
                close = difflib.get_close_matches(n, list(listed), n=1)
                hint = f"did you mean {close[0]!r}?" if close else f"it has {sorted(listed)}"
                raise ConfigError(f"{what}: {doc.source} has no operation {n!r} ({hint})")
    for n, effect in effects.items():
        if effect not in EFFECTS:
            raise ConfigError(f"effects: {n!r}: effect must be one of {EFFECTS}")
    chosen = list(dict.fromkeys(operations)) if operations is not None else list(listed)
    if not chosen:
        raise ConfigError(f"{doc.source}: no operations to make tools of")
    return chosen


def _default_effect(method: str) -> Effect:
    return "read" if method in ("GET", "HEAD", "OPTIONS") else "write"


def _server_url(doc: Document, op: Operation, base_url: str | None, allow: Sequence[str]) -> str:
    """The URL the operation's calls go to: `base_url`, else its first server (variables at
    their defaults, relative to the document's URL); it must be on the allow-list."""
    url = base_url
    if url is None:
        # OpenAPI's default server is "/": the document's own host when it was fetched
        server = (op.servers or tuple(doc.data.get("servers") or ()) or ({"url": "/"},))[0]
        raw = server.get("url") if isinstance(server, dict) else None
        if not isinstance(raw, str) or not raw:
            raise ConfigError(f"{doc.source}: the server of {op.name!r} has no `url`")
        for var, spec in (server.get("variables") or {}).items():
            default = spec.get("default") if isinstance(spec, dict) else None
            raw = raw.replace("{" + str(var) + "}", str(default))
        url = urljoin(doc.url, raw) if doc.url else raw
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        hint = " (a relative server URL needs `base_url`)" if not parts.scheme else ""
        raise ConfigError(f"{doc.source}: the server URL {url!r} is not http(s){hint}")
    if parts.query or parts.fragment or parts.username or parts.password:
        raise ConfigError(f"the server URL {url!r} must not carry a query, fragment or user")
    if not host_allowed(url, allow):
        raise ConfigError(
            f"the server {parts.netloc!r} of {op.name!r} is not on `allow_hosts` {list(allow)}"
        )
    return url


def host_allowed(url: str, allow: Sequence[str]) -> bool:
    """Whether `url`'s host (and port) matches an entry of `allow` (see `openapi_tools`)."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    port = parts.port or (443 if parts.scheme == "https" else 80)
    for entry in allow:
        want = urlsplit(f"//{entry.strip().lower()}")
        want_host = want.hostname or ""
        if want.port is not None and want.port != port:
            continue
        if want_host.startswith("*."):
            if host.endswith(want_host[1:]) and host != want_host[2:]:
                return True
        elif host == want_host:
            return True
    return False


def _tool(op: Operation, endpoint: Endpoint, effect: Effect) -> Tool:
    arguments_of = _Arguments(op)

    async def call(**arguments: JSON) -> JSON:
        context: ToolContext = arguments.pop(CONTEXT)
        arguments_of.check(arguments)
        return await send(op, arguments, endpoint, context.idempotency_key)

    return Tool(
        name=op.name,
        description=op.description,
        parameters=op.schema,
        effect=effect,
        function=call,
        _validator=_ARGUMENTS,
        _context_param=CONTEXT,
    )


class _Arguments:
    """Checks an operation's arguments against its schema. The validator is made on the first
    call: checking a schema takes milliseconds, and a document may have thousands."""

    def __init__(self, op: Operation) -> None:
        self.op = op
        self._validator: jsonschema.protocols.Validator | None = None

    def validator(self) -> jsonschema.protocols.Validator:
        import jsonschema

        if self._validator is None:
            schema = self.op.schema
            cls = jsonschema.validators.validator_for(
                schema, default=jsonschema.Draft202012Validator
            )
            try:
                cls.check_schema(schema)
            except jsonschema.SchemaError as exc:
                raise ToolError(
                    f"{self.op.name!r} cannot be called: the OpenAPI document gives it an"
                    f" invalid schema: {exc.message[:300]}"
                ) from None
            self._validator = cls(schema)
        return self._validator

    def check(self, arguments: JSON) -> None:
        """Raise `ToolError` saying where `arguments` miss the schema."""
        from jsonschema.exceptions import best_match

        error = best_match(self.validator().iter_errors(arguments))
        if error is not None:
            where = "/".join(str(p) for p in error.absolute_path) or "arguments"
            message = error.message if len(error.message) <= 300 else error.message[:299] + "…"
            raise ToolError(f"invalid arguments for {self.op.name!r}: {where}: {message}")


__all__ = ["AuthOptions", "OpenApiOptions", "host_allowed", "make", "openapi_tools"]
