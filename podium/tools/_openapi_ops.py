"""The operations of an OpenAPI document as tool descriptions: a name, an HTTP method and path
template, and one JSON Schema for the arguments (path, query and header parameters by name, the
JSON request body as ``body``).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal

from podium.exceptions import ConfigError
from podium.tools._openapi_doc import Document, Resolver, pointer

JSON = Any
Location = Literal["path", "query", "header"]

log = logging.getLogger(__name__)

METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
_UNSAFE_NAME = re.compile(r"[^a-zA-Z0-9_-]+")
_RESERVED_HEADERS = frozenset({"accept", "content-type", "authorization"})
"""Header parameters OpenAPI says to ignore (the tool sets them itself)."""
_JSON_MEDIA = re.compile(r"^application/([\w.+-]*\+)?json\b", re.IGNORECASE)
_PLACEHOLDER = re.compile(r"\{([^{}]+)\}")
MAX_DESCRIPTION = 1_000


@dataclass(frozen=True, slots=True)
class Param:
    """One parameter of an operation: `key` is its property in the tool's arguments."""

    name: str
    location: Location
    key: str


@dataclass(frozen=True, slots=True)
class Operation:
    """One operation, ready to become a tool."""

    name: str
    method: str
    path: str
    params: tuple[Param, ...]
    body_key: str | None
    schema: dict[str, JSON]
    description: str
    servers: tuple[JSON, ...]


def operation_name(operation_id: JSON, method: str, path: str) -> str:
    """``operationId`` with characters outside ``[a-zA-Z0-9_-]`` made ``_``, else method+path
    (``get_orders_orderId`` for ``GET /orders/{orderId}``)."""
    if isinstance(operation_id, str) and operation_id:
        return _UNSAFE_NAME.sub("_", operation_id).strip("_") or method
    return re.sub(r"[^a-zA-Z0-9-]+", "_", f"{method}_{path}").strip("_")


def list_operations(doc: Document) -> Iterator[tuple[str, str, str, dict[str, JSON]]]:
    """``(name, method, path, operation)`` for every operation of the document, in order."""
    for path, item in doc.data["paths"].items():
        if not isinstance(item, dict):
            continue
        for method in METHODS:
            op = item.get(method)
            if isinstance(op, dict):
                yield operation_name(op.get("operationId"), method, str(path)), method, path, op


def build_operation(
    doc: Document,
    resolver: Resolver,
    listed: tuple[str, str, str, dict[str, JSON]],
    auth_header: str | None = None,
) -> Operation:
    """The `Operation` of a listed operation (``name, method, path, operation``), its
    references inlined; a header parameter named `auth_header` is left to the auth.

    Raises:
        ConfigError: a broken reference, a cycle, a required cookie parameter or a required
            body that is not JSON, with where in the document.
    """
    name, method, path, op = listed
    where = pointer("paths", path, method)
    item = doc.data["paths"][path]
    reserved = _RESERVED_HEADERS | ({auth_header.lower()} if auth_header else set())
    properties: dict[str, JSON] = {}
    required: list[str] = []
    params = []
    for place, p in _parameters(resolver, item, op, path, method):
        param = _param(doc, place, p, name, reserved)
        if param is None:
            continue
        key = param.key
        while key in properties:  # the same name in two places: the later one is prefixed
            key = f"{param.location}_{key}"
        params.append(Param(param.name, param.location, key))
        prop = to_json_schema(p.get("schema", {}), doc.version)
        if isinstance(p.get("description"), str):
            prop = {**prop, "description": p["description"]}
        properties[key] = prop
        if p.get("required") or param.location == "path":
            required.append(key)
    _check_template(doc, where, path, {p.name for p in params if p.location == "path"})
    body = _body(doc, resolver, op, where, name)
    body_key = None
    if body is not None:
        body_key = "body"
        while body_key in properties:
            body_key = f"request_{body_key}"
        properties[body_key] = body[0]
        if body[1]:
            required.append(body_key)
    schema: dict[str, JSON] = {"type": "object", "properties": properties}
    if required:
        schema["required"] = required
    schema["additionalProperties"] = False
    return Operation(
        name=name,
        method=method.upper(),
        path=path,
        params=tuple(params),
        body_key=body_key,
        schema=schema,
        description=_description(op, method, path),
        servers=tuple(op.get("servers") or item.get("servers") or ()),
    )


def _param(
    doc: Document, place: str, p: dict[str, JSON], name: str, reserved: set[str] | frozenset[str]
) -> Param | None:
    """The parameter `p` found at `place`; ``None`` for one the tool does not take."""
    loc = p.get("in")
    pname = p.get("name")
    if not isinstance(pname, str) or loc not in ("path", "query", "header", "cookie"):
        raise ConfigError(f"{doc.source}: at {place}: a parameter needs `name` and `in`")
    if loc == "cookie":
        if p.get("required"):
            raise ConfigError(
                f"{doc.source}: at {place}: required cookie parameter {pname!r} is not"
                f" supported; leave {name!r} out with `operations`"
            )
        return None
    if loc == "header" and pname.lower() in reserved:
        return None
    return Param(pname, loc, pname)


def _check_template(doc: Document, where: str, path: str, declared: set[str]) -> None:
    """Every ``{name}`` of the path template is a declared path parameter."""
    missing = [n for n in _PLACEHOLDER.findall(path) if n not in declared]
    if missing:
        raise ConfigError(
            f"{doc.source}: at {where}: path parameter(s) {missing} of {path!r} are not declared"
        )


def _parameters(
    resolver: Resolver, item: dict[str, JSON], op: dict[str, JSON], path: str, method: str
) -> list[tuple[str, dict[str, JSON]]]:
    """The operation's parameters with the path item's, an operation's overriding a path
    item's of the same name and location."""
    found: dict[tuple[str, str], tuple[str, dict[str, JSON]]] = {}
    for owner, raw, base in (
        ("path item", item.get("parameters"), pointer("paths", path, "parameters")),
        ("operation", op.get("parameters"), pointer("paths", path, method, "parameters")),
    ):
        if raw is None:
            continue
        if not isinstance(raw, list):
            raise ConfigError(
                f"{resolver.doc.source}: at {base}: the {owner}'s `parameters` must be a list"
            )
        for i, p in enumerate(raw):
            place = f"{base}/{i}"
            resolved = resolver.resolve(p, place)
            if not isinstance(resolved, dict):
                raise ConfigError(f"{resolver.doc.source}: at {place}: not a parameter object")
            found[(str(resolved.get("name")), str(resolved.get("in")))] = (place, resolved)
    return list(found.values())


def _body(
    doc: Document, resolver: Resolver, op: dict[str, JSON], where: str, name: str
) -> tuple[JSON, bool] | None:
    """The JSON request body's schema and whether it is required; ``None`` without one."""
    raw = op.get("requestBody")
    if raw is None:
        return None
    body = resolver.resolve(raw, f"{where}/requestBody")
    content = body.get("content") if isinstance(body, dict) else None
    media = next((m for m in content or {} if _JSON_MEDIA.match(m)), None)
    if media is None or not isinstance(content, dict):
        if isinstance(body, dict) and body.get("required"):
            raise ConfigError(
                f"{doc.source}: at {where}/requestBody: only JSON request bodies are supported;"
                f" leave {name!r} out with `operations`"
            )
        log.info("OpenAPI operation %r: its non-JSON request body is left out", name)
        return None
    schema = content[media].get("schema", {}) if isinstance(content[media], dict) else {}
    return to_json_schema(schema, doc.version), bool(body.get("required"))


def _description(op: dict[str, JSON], method: str, path: str) -> str:
    parts = [op.get(k) for k in ("summary", "description")]
    text = "\n\n".join(p.strip() for p in parts if isinstance(p, str) and p.strip())
    text = text or f"{method.upper()} {path}"
    return text if len(text) <= MAX_DESCRIPTION else text[: MAX_DESCRIPTION - 1] + "…"


_SUBSCHEMA = frozenset({"items", "additionalProperties", "not", "additionalItems"})
_SUBSCHEMA_LISTS = frozenset({"allOf", "anyOf", "oneOf", "prefixItems"})
_SUBSCHEMA_MAPS = frozenset({"properties", "patternProperties", "$defs", "definitions"})


def to_json_schema(schema: JSON, version: str) -> JSON:
    """An OpenAPI schema as JSON Schema: 3.1's are already; 3.0's ``nullable`` and boolean
    ``exclusiveMinimum``/``exclusiveMaximum`` are rewritten in every sub-schema."""
    if version.startswith("3.1") or not isinstance(schema, dict):
        return schema
    out: dict[str, JSON] = {}
    for k, v in schema.items():
        if k in _SUBSCHEMA:
            out[k] = to_json_schema(v, version)
        elif k in _SUBSCHEMA_LISTS and isinstance(v, list):
            out[k] = [to_json_schema(s, version) for s in v]
        elif k in _SUBSCHEMA_MAPS and isinstance(v, dict):
            out[k] = {name: to_json_schema(s, version) for name, s in v.items()}
        elif k != "nullable":
            out[k] = v
    _exclusive_bounds(out)
    return _nullable(out) if schema.get("nullable") is True else out


def _exclusive_bounds(out: dict[str, JSON]) -> None:
    """3.0's ``exclusiveMinimum: true`` beside ``minimum: 5`` is JSON Schema's
    ``exclusiveMinimum: 5`` (and the same for the maximum)."""
    for bound, limit in (("exclusiveMinimum", "minimum"), ("exclusiveMaximum", "maximum")):
        flag = out.get(bound)
        if isinstance(flag, bool):
            del out[bound]
            if flag and limit in out:
                out[bound] = out.pop(limit)


def _nullable(out: dict[str, JSON]) -> dict[str, JSON]:
    kind = out.get("type")
    if isinstance(kind, str):
        out["type"] = [kind, "null"]
        if isinstance(out.get("enum"), list) and None not in out["enum"]:
            out["enum"] = [*out["enum"], None]
        return out
    return out if "type" in out else {"anyOf": [out, {"type": "null"}]}


__all__ = [
    "METHODS",
    "Operation",
    "Param",
    "build_operation",
    "list_operations",
    "operation_name",
    "to_json_schema",
]
