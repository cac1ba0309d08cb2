"""Reading an OpenAPI 3.0/3.1 document: loading it (file or URL, with limits) and inlining its
local ``$ref``s (bounded, cycles refused).

Every problem is a `ConfigError` that names the document and where in it (a JSON pointer such
as ``#/paths/~1orders/get/parameters/0``), so a broken file says which line to look for.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import yaml

from podium.exceptions import ConfigError

JSON = Any
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml's, 5x faster, when built

MAX_REF_DEPTH = 32
"""``$ref``s followed at most one inside another."""
MAX_DEPTH = 64
"""Levels of lists and mappings an inlined node may have."""
MAX_NODES = 200_000
"""Nodes of the inlined schemas at most: references that fan out (each naming another twice,
thirty levels down) would otherwise grow a small file into billions of nodes."""


@dataclass(frozen=True, slots=True)
class Document:
    """A loaded OpenAPI document.

    Attributes:
        data: the parsed document.
        source: the file path or URL it came from (shown in errors).
        url: the URL it was fetched from (relative server URLs are resolved against it), if any.
    """

    data: dict[str, JSON]
    source: str
    url: str | None = None

    @property
    def version(self) -> str:
        """The ``openapi`` field (``3.0.x`` or ``3.1.x``)."""
        return str(self.data.get("openapi", ""))


def load_document(
    document: str | Mapping[str, JSON],
    *,
    base_dir: str | os.PathLike[str] | None,
    max_bytes: int,
    timeout_s: float,
) -> Document:
    """Parse `document`: a mapping, a URL (fetched once) or a file path (relative to
    `base_dir`, else the current directory).

    Raises:
        ConfigError: it cannot be read, is too large, is not JSON/YAML or not OpenAPI 3.x.
    """
    if isinstance(document, Mapping):
        return _checked(dict(document), "<document>", None)
    if urlsplit(document).scheme in ("http", "https"):
        return _checked(
            _parse(_fetch(document, max_bytes, timeout_s), document), document, document
        )
    path = document if base_dir is None else os.path.join(base_dir, document)
    try:
        with open(path, "rb") as stream:
            data = stream.read(max_bytes + 1)
    except OSError as exc:
        raise ConfigError(f"cannot read the OpenAPI document {path!r}: {exc.strerror}") from None
    if len(data) > max_bytes:
        raise ConfigError(f"the OpenAPI document {path!r} is larger than {max_bytes:,} bytes")
    return _checked(_parse(data, path), path, None)


def _fetch(url: str, max_bytes: int, timeout_s: float) -> bytes:
    """The body at `url`, at most `max_bytes` of it, read as it arrives."""
    import httpx

    chunks: list[bytes] = []
    size = 0
    try:
        with httpx.stream("GET", url, timeout=timeout_s, follow_redirects=False) as response:
            if response.status_code != 200:
                raise ConfigError(
                    f"cannot fetch the OpenAPI document {url!r}: status {response.status_code}"
                )
            for chunk in response.iter_bytes():
                size += len(chunk)
                if size > max_bytes:
                    raise ConfigError(
                        f"the OpenAPI document {url!r} is larger than {max_bytes:,} bytes"
                    )
                chunks.append(chunk)
    except httpx.HTTPError as exc:
        raise ConfigError(
            f"cannot fetch the OpenAPI document {url!r}: {type(exc).__name__}: {exc}"
        ) from None
    return b"".join(chunks)


def _parse(data: bytes, source: str) -> JSON:
    try:
        text = data.decode("utf-8")
        if text.lstrip().startswith("{"):
            return json.loads(text)
        return yaml.load(text, Loader=_LOADER)
    except RecursionError:
        raise ConfigError(f"the OpenAPI document {source!r} is nested too deeply") from None
    except (UnicodeDecodeError, json.JSONDecodeError, yaml.YAMLError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ConfigError(
            f"the OpenAPI document {source!r} is not JSON or YAML: {reason}"
        ) from None


def _checked(data: JSON, source: str, url: str | None) -> Document:
    if not isinstance(data, dict):
        raise ConfigError(f"the OpenAPI document {source!r} is not a mapping")
    version = str(data.get("openapi", ""))
    if not version.startswith(("3.0", "3.1")):
        found = f"'openapi: {version}'" if version else "no 'openapi' field"
        raise ConfigError(
            f"{source!r} is not an OpenAPI 3.0 or 3.1 document ({found}; Swagger 2.0 documents"
            " can be converted with swagger2openapi)"
        )
    if not isinstance(data.get("paths"), dict):
        raise ConfigError(f"the OpenAPI document {source!r} has no 'paths' mapping")
    return Document(data=data, source=source, url=url)


def _escape(part: str) -> str:
    return part.replace("~", "~0").replace("/", "~1")


def pointer(*parts: str | int) -> str:
    """The JSON pointer of a place in the document (``#/paths/~1orders/get``)."""
    return "#" + "".join("/" + _escape(str(p)) for p in parts)


class Resolver:
    """Inlines the local ``$ref``s under a node of one document.

    One `Resolver` counts the nodes it produces against `MAX_NODES` for all the nodes it is
    asked to resolve (one per tool set), so many operations cannot add up past it either.
    """

    def __init__(self, doc: Document) -> None:
        self.doc = doc
        self.nodes = 0

    def resolve(self, node: JSON, where: str) -> JSON:
        """`node` (found at `where`) with every ``$ref`` in it replaced by its target."""
        return self._walk(node, where, (), 0)

    def _walk(self, node: JSON, where: str, chain: tuple[str, ...], depth: int) -> JSON:
        self.nodes += 1
        if depth > MAX_DEPTH:
            raise ConfigError(f"{self.doc.source}: at {where}: nested deeper than {MAX_DEPTH}")
        if self.nodes > MAX_NODES:
            raise ConfigError(
                f"{self.doc.source}: at {where}: the inlined references pass {MAX_NODES:,}"
                " nodes (references that fan out?); list fewer `operations`"
            )
        if isinstance(node, list):
            return [self._walk(v, f"{where}/{i}", chain, depth + 1) for i, v in enumerate(node)]
        if not isinstance(node, dict):
            return node
        ref = node.get("$ref")
        if isinstance(ref, str):
            target = self._target(ref, where, chain)
            resolved = self._walk(target, ref, (*chain, ref), depth)
            siblings = {k: v for k, v in node.items() if k != "$ref"}
            if siblings and isinstance(resolved, dict):  # 3.1 allows keywords beside $ref
                return {**resolved, **self._walk(siblings, where, chain, depth)}
            return resolved
        return {
            k: self._walk(v, f"{where}/{_escape(str(k))}", chain, depth + 1)
            for k, v in node.items()
        }

    def _target(self, ref: str, where: str, chain: tuple[str, ...]) -> JSON:
        place = f"{self.doc.source}: at {where}"
        if not ref.startswith("#"):
            raise ConfigError(
                f"{place}: $ref {ref!r} points outside the document; only local references"
                " ('#/components/...') are supported: bundle the document first"
            )
        if ref in chain:
            cycle = " -> ".join((*chain[chain.index(ref) :], ref))
            raise ConfigError(
                f"{place}: $ref cycle {cycle}: a recursive schema cannot be inlined for a"
                " model; leave this operation out with `operations`"
            )
        if len(chain) >= MAX_REF_DEPTH:
            raise ConfigError(f"{place}: $refs nested deeper than {MAX_REF_DEPTH}")
        node: JSON = self.doc.data
        for raw in ref[1:].split("/")[1:] if ref != "#" else []:
            part = raw.replace("~1", "/").replace("~0", "~")
            if isinstance(node, dict) and part in node:
                node = node[part]
            elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
                node = node[int(part)]
            else:
                raise ConfigError(f"{place}: $ref {ref!r} points nowhere (no {part!r})")
        return node


__all__ = [
    "MAX_DEPTH",
    "MAX_NODES",
    "MAX_REF_DEPTH",
    "Document",
    "Resolver",
    "load_document",
    "pointer",
]
