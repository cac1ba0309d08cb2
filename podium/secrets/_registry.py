"""The process-wide registry of resolved secret values, and redaction by value.

Every secret Podium resolves is registered here with its label; `redact` then replaces each
registered value, and its simple encodings (base64, URL-encoded, JSON-escaped), by
``[secret:LABEL]`` wherever it appears in a string nested in a JSON value. Values shorter than
`MIN_LENGTH` are not registered: redacting a short value would blank out common words.
"""

from __future__ import annotations

import base64
import json
import re
import threading
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import msgspec

MIN_LENGTH = 8
"""Shorter values are not redacted (a 4-letter password would blank out every such word)."""

T = TypeVar("T")
_FEW = 4  # up to this many searched forms, one `in` each beats one alternation (measured)


@dataclass(frozen=True, slots=True)
class _Patterns:
    """A snapshot of the registry: replaced atomically, read without a lock."""

    labels: Mapping[str, str]  # every searched form → the label that replaces it
    regex: re.Pattern[str] | None
    needles: tuple[bytes, ...]  # the forms as they appear in UTF-8 JSON
    any_needle: re.Pattern[bytes] | None  # the same, one pattern: quicker when there are many


_EMPTY = _Patterns({}, None, (), None)


class _Registry:
    """The values and the snapshot built from them; writers hold the lock."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.values: dict[str, str] = {}
        self.patterns = _EMPTY


_REGISTRY = _Registry()


def _forms(value: str) -> set[str]:
    """`value` and the encodings of it a log line or a header would carry."""
    raw = value.encode()
    forms = {
        value,
        urllib.parse.quote(value, safe=""),
        urllib.parse.quote_plus(value, safe=""),
        base64.b64encode(raw).decode().rstrip("="),
        base64.urlsafe_b64encode(raw).decode().rstrip("="),
        msgspec.json.encode(value).decode()[1:-1],  # inside JSON text, as UTF-8
        json.dumps(value)[1:-1],  # inside JSON text, non-ASCII as \\u escapes
    }
    return {f for f in forms if len(f) >= MIN_LENGTH}


def register(value: str, label: str) -> bool:
    """Remember `value` (a resolved secret) so that `redact` hides it as ``[secret:label]``.

    Returns:
        Whether it is redacted from now on (``False`` for a value under `MIN_LENGTH`).
    """
    if len(value) < MIN_LENGTH:
        return False
    r = _REGISTRY
    with r.lock:
        if r.values.get(value) == label:
            return True
        r.values[value] = label
        labels = {form: name for v, name in r.values.items() for form in _forms(v)}
        ordered = sorted(labels, key=len, reverse=True)  # the longest form wins an overlap
        regex = re.compile("|".join(map(re.escape, ordered)))
        needles = tuple(dict.fromkeys(msgspec.json.encode(f)[1:-1] for f in ordered))
        many = re.compile(b"|".join(map(re.escape, needles))) if len(needles) > _FEW else None
        r.patterns = _Patterns(labels, regex, needles, many)
    return True


def forget_all() -> None:
    """Forget every registered value (for tests; a long-lived process never needs it)."""
    r = _REGISTRY
    with r.lock:
        r.values.clear()
        r.patterns = _EMPTY


def registered_labels() -> list[str]:
    """The labels of the registered secrets (never their values), sorted."""
    return sorted(set(_REGISTRY.patterns.labels.values()))


def redact_text(text: str) -> str:
    """`text` with every registered secret replaced by ``[secret:LABEL]``."""
    patterns = _REGISTRY.patterns
    if patterns.regex is None:
        return text
    return patterns.regex.sub(lambda m: f"[secret:{patterns.labels[m.group()]}]", text)


def redact(value: T) -> T:
    """`value` with every registered secret replaced, in every string nested in it.

    Dicts (keys too), lists and tuples are copied where something changed; other values are
    returned as they are.
    """
    if _REGISTRY.patterns.regex is None:
        return value
    return _walk(value)  # type: ignore[no-any-return]


def _walk(value: Any) -> Any:
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, dict):
        return {_walk(k): _walk(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_walk(v) for v in value)
    return value


def contains_secret(data: bytes) -> bool:
    """Whether UTF-8 JSON `data` holds a registered secret (a quick test before a rewrite)."""
    patterns = _REGISTRY.patterns
    if patterns.any_needle is not None:
        return patterns.any_needle.search(data) is not None
    return any(needle in data for needle in patterns.needles)


def redact_struct(obj: T) -> T:
    """`obj` (a msgspec struct, such as an event) with every registered secret replaced.

    Returned as it is, without a copy, when its JSON holds none (the usual case).
    """
    if _REGISTRY.patterns.regex is None:
        return obj
    data = msgspec.json.encode(obj)
    if not contains_secret(data):
        return obj
    return msgspec.convert(_walk(msgspec.json.decode(data)), type(obj))


__all__ = [
    "MIN_LENGTH",
    "contains_secret",
    "forget_all",
    "redact",
    "redact_struct",
    "redact_text",
    "register",
    "registered_labels",
]
