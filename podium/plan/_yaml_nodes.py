"""YAML text → data, with the line of every key and list item (`Loc` → line).

The text is composed into nodes first (so lines survive), keys given twice are reported, and a
`_Locator` maps a plan problem's (task id, field) back to its file and line.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import yaml

from podium.exceptions import ConfigError

JSON = Any
Loc = tuple[Any, ...]
"""A path into the file: mapping keys and list indexes, e.g. ``("tasks", 2, "needs")``."""

_WHERE_PART = re.compile(r"\[(\d+)\]|[^.\[\]]+")
_SUBTASK = re.compile(r"\[\d+\]$")
_MERGE_TAG = "tag:yaml.org,2002:merge"


def _compose(text: str, file: str | None) -> tuple[JSON, dict[Loc, int], list[tuple[Loc, str]]]:
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        lines: dict[Loc, int] = {}
        duplicates: list[tuple[Loc, str]] = []
        if node is None:
            return None, lines, duplicates
        # index before constructing: construction rewrites merge keys (<<) in place
        _index(loader, node, (), lines=lines, duplicates=duplicates, active=set())
        return loader.construct_document(node), lines, duplicates
    except yaml.MarkedYAMLError as exc:
        raise _yaml_error(exc, file) from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"invalid YAML: {exc}", file=file) from None
    finally:
        loader.dispose()


def _index(
    loader: yaml.SafeLoader,
    node: yaml.Node,
    loc: Loc,
    *,
    lines: dict[Loc, int],
    duplicates: list[tuple[Loc, str]],
    active: set[int],
) -> None:
    """Record the line of every key and list item; report keys given twice."""
    lines.setdefault(loc, node.start_mark.line + 1)
    if id(node) in active:  # a recursive alias
        return
    active.add(id(node))
    if isinstance(node, yaml.MappingNode):
        first: dict[Any, int] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag == _MERGE_TAG:
                continue
            key = loader.construct_object(key_node)
            line = key_node.start_mark.line + 1
            if key in first:
                duplicates.append(
                    (
                        (*loc, key),
                        f"duplicate key {key!r} (first at line {first[key]})",
                    )
                )
            first.setdefault(key, line)
            lines[(*loc, key)] = line
            _index(
                loader, value_node, (*loc, key), lines=lines, duplicates=duplicates, active=active
            )
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            lines[(*loc, i)] = item.start_mark.line + 1
            _index(loader, item, (*loc, i), lines=lines, duplicates=duplicates, active=active)
    active.discard(id(node))


def _yaml_error(exc: yaml.MarkedYAMLError, file: str | None) -> ConfigError:
    mark = exc.problem_mark or exc.context_mark
    line = mark.line + 1 if mark is not None else None
    message = "invalid YAML: "
    if exc.context and exc.problem:  # e.g. "while parsing a flow sequence", "expected ..."
        started = exc.context_mark
        message += exc.context + (f" (line {started.line + 1}), " if started else ", ")
    message += exc.problem or exc.context or "unreadable"
    if mark is not None:
        message += f" (column {mark.column + 1})"
    if file is None and line is not None:
        message = f"line {line}: {message}"
    return ConfigError(message, file=file, line=line)


def _line(lines: Mapping[Loc, int], loc: Loc) -> int | None:
    """The line of `loc`, or of its nearest ancestor in the file."""
    for end in range(len(loc), -1, -1):
        line = lines.get(loc[:end])
        if line is not None:
            return line
    return None


def _where(loc: Loc) -> str:
    out = ""
    for part in loc:
        index = isinstance(part, int) and not isinstance(part, bool)
        out += f"[{part}]" if index else (f".{part}" if out else str(part))
    return out


@dataclass(frozen=True, slots=True)
class _Locator:
    """`Locate` for a compiled file: (task id, field) → (file, line)."""

    file: str | None
    lines: Mapping[Loc, int]
    tasks: Mapping[str, Loc]
    repeats: Mapping[str, Loc]  # the last occurrence of a task id given more than once

    def __call__(self, task: str, field: str) -> tuple[str | None, int | None]:
        parts: Loc = tuple(
            int(i) if i else name
            for i, name in ((m.group(1), m.group(0)) for m in _WHERE_PART.finditer(field))
        )
        if not task:
            return self.file, _line(self.lines, parts)
        base = self.repeats.get(task) if field == "id" else None
        base = base or self.tasks.get(task) or self.tasks.get(_SUBTASK.sub("", task))
        if base is None:
            return self.file, None
        return self.file, _line(self.lines, (*base, *parts))
