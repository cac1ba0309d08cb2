"""Template mistakes `validate_plan` catches before a run: unbalanced braces, and references to
fields the upstream task's ``output_schema`` does not declare.

A brace problem is only reported around something that reads as a reference (``inputs.…``,
``tasks.…``, ``item``): an instruction may hold JSON, whose ``}}`` is no template.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from typing import Any

from podium.plan._template import Reference

JSON = Any
_REFLIKE = r"\s*(?:inputs|tasks|item)\b[^{}]*?"
_HALF_CLOSED = re.compile(r"\{\{(" + _REFLIKE + r")\s*\}(?!\})")
_HALF_OPENED = re.compile(r"(?<!\{)\{(" + _REFLIKE + r")\s*\}\}")
_UNCLOSED = re.compile(r"\{\{(" + _REFLIKE + r")\s*$")


def brace_problems(template: str) -> list[str]:
    """Each unbalanced ``{{ … }}`` around a reference in `template`, with the fix."""
    found = [
        (_HALF_CLOSED, "'{{%s }' needs '}}'"),
        (_HALF_OPENED, "'{%s }}' needs '{{'"),
        (_UNCLOSED, "'{{%s' is never closed"),
    ]
    return [
        f"unbalanced braces: {what % m.group(1)}: write {{{{ {m.group(1).strip()} }}}}"
        for pattern, what in found
        for m in pattern.finditer(template)
    ]


def schema_problem(ref: Reference, schema: Mapping[str, JSON] | None) -> str | None:
    """Why `ref`'s field path is not in the upstream task's output `schema` (``None``: it is,
    or the schema does not say which fields there are)."""
    node: JSON = schema
    for step in ref.path:
        key, _, index = step.partition("[")
        if key:
            if not isinstance(node, Mapping) or not isinstance(node.get("properties"), Mapping):
                return None  # no declared fields here: anything may be there
            fields = node["properties"]
            if key not in fields:
                if node.get("additionalProperties") not in (None, False):
                    return None
                return _no_field(ref, key, list(fields))
            node = fields[key]
        if index:
            if not isinstance(node, Mapping) or node.get("type") != "array":
                return None
            node = node.get("items")
    return None


def _no_field(ref: Reference, key: str, fields: list[str]) -> str:
    close = difflib.get_close_matches(key, fields, n=1)
    hint = f"did you mean {close[0]!r}?" if close else f"it has: {', '.join(fields) or 'none'}"
    return (
        f"{{{{ {ref.text} }}}}: the output_schema of task {ref.name!r} has no field {key!r} "
        f"({hint})"
    )


__all__ = ["brace_problems", "schema_problem"]
