"""`{{ ... }}` templates in instructions and outputs.

Deliberately tiny and safe: a template only looks values up, it never evaluates code. A reference is
``inputs.NAME[.field…]``, ``tasks.ID.output[.field…]`` or ``item[.field…]``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

JSON = Any

_EXPR = re.compile(r"\{\{\s*([^{}]*?)\s*\}\}")
_NAME = r"[A-Za-z_][A-Za-z0-9_\-]*(?:\[\d+\])?"
_PATH = re.compile(rf"^(inputs|tasks|item)((?:\[\d+\])?(?:\.{_NAME})*)$")
_CALL_PATH = re.compile(rf"^(arguments|result)((?:\[\d+\])?(?:\.{_NAME})*)$")


@dataclass(frozen=True, slots=True)
class Reference:
    """One `{{ … }}` reference."""

    text: str
    root: str  # "inputs", "tasks", "item" or "" when malformed
    name: str  # input name or task id ("" for item)
    path: tuple[str, ...]  # fields after the name (after `output` for tasks)
    error: str | None = None


def _parse(expr: str) -> Reference:
    m = _PATH.match(expr)
    if m is None:
        return Reference(expr, "", "", (), _malformed(expr))
    root, rest = m.group(1), m.group(2)
    parts = [p for p in rest.split(".") if p]
    if root == "item":
        return Reference(expr, root, "", tuple(parts))
    if not parts or rest.startswith("["):
        return Reference(expr, root, "", (), f"{{{{ {expr} }}}} names no {root[:-1]}")
    if root == "tasks":
        head, index = _split_index(parts[1]) if len(parts) > 1 else ("", ())
        if head != "output":
            return Reference(
                expr, root, parts[0], (), f"{{{{ {expr} }}}}: write tasks.{parts[0]}.output"
            )
        return Reference(expr, root, parts[0], (*index, *parts[2:]))
    name, index = _split_index(parts[0])
    return Reference(expr, root, name, (*index, *parts[1:]))


def _malformed(expr: str) -> str:
    if "|" in expr:  # a Jinja habit: say so, rather than "cannot understand"
        bare = expr.partition("|")[0].strip()
        return f"{{{{ {expr} }}}}: templates have no filters ('|'); write {{{{ {bare} }}}}"
    return f"cannot understand {{{{ {expr} }}}}; use inputs.NAME, tasks.ID.output or item"


def _split_index(part: str) -> tuple[str, tuple[str, ...]]:
    """``items[0]`` → (``items``, (``[0]``,)); `_walk` reads a bare ``[0]`` as an index."""
    name, bracket, index = part.partition("[")
    return name, ((bracket + index,) if bracket else ())


def references(template: str) -> list[Reference]:
    """Every reference in a template string."""
    if "{{" not in template:
        return []
    return [_parse(m.group(1)) for m in _EXPR.finditer(template)]


class TemplateError(LookupError):
    """A reference could not be resolved."""


def _walk(value: JSON, path: tuple[str, ...], expr: str) -> JSON:
    for step in path:
        key, index = step, None
        if step.endswith("]"):
            key, _, idx = step[:-1].partition("[")
            index = int(idx)
        if key:
            if not isinstance(value, Mapping) or key not in value:
                raise TemplateError(f"{{{{ {expr} }}}}: no field {key!r}")
            value = value[key]
        if index is not None:
            if not isinstance(value, list) or index >= len(value):
                raise TemplateError(f"{{{{ {expr} }}}}: no item [{index}]")
            value = value[index]
    return value


def resolve(ref: Reference, scope: Mapping[str, JSON]) -> JSON:
    """Look a reference up in a scope with keys ``inputs``, ``tasks`` (id → output) and ``item``."""
    if ref.error is not None:
        raise TemplateError(ref.error)
    if ref.root == "item":
        return _walk(scope.get("item"), ref.path, ref.text)
    table = scope.get(ref.root, {})
    if ref.name not in table:
        raise TemplateError(f"{{{{ {ref.text} }}}}: {ref.name!r} is not available here")
    return _walk(table[ref.name], ref.path, ref.text)


def _as_text(value: JSON) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def render(template: str, scope: Mapping[str, JSON]) -> JSON:
    """Render a template.

    A template that is exactly one reference returns the referenced value itself (a list stays a
    list); otherwise references are replaced by their text (JSON for non-strings).
    """
    if "{{" not in template:
        return template
    whole = _EXPR.fullmatch(template.strip())
    if whole is not None:
        return resolve(_parse(whole.group(1)), scope)
    return _EXPR.sub(lambda m: _as_text(resolve(_parse(m.group(1)), scope)), template)


def render_call(value: JSON, arguments: Mapping[str, JSON], result: JSON) -> JSON:
    """Fill in the templates of a tool call's undo (`podium.tools.Undo`), in strings at any
    depth of `value`: ``{{ arguments.NAME[.field…] }}`` and ``{{ result[.field…] }}`` look up
    the call's arguments and its result; a string that is one reference keeps the value's type.

    Raises:
        TemplateError: a reference that is malformed or names what the call does not have.
    """
    if isinstance(value, list):
        return [render_call(v, arguments, result) for v in value]
    if isinstance(value, dict):
        return {k: render_call(v, arguments, result) for k, v in value.items()}
    if not isinstance(value, str) or "{{" not in value:
        return value
    scope = {"arguments": arguments, "result": result}

    def lookup(expr: str) -> JSON:
        m = _CALL_PATH.match(expr)
        if m is None:
            raise TemplateError(
                f"cannot understand {{{{ {expr} }}}}; use arguments.NAME or result[.field]"
            )
        return _walk(scope[m.group(1)], tuple(p for p in m.group(2).split(".") if p), expr)

    whole = _EXPR.fullmatch(value.strip())
    if whole is not None:
        return lookup(whole.group(1))
    return _EXPR.sub(lambda m: _as_text(lookup(m.group(1))), value)
