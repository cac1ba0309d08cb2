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

from podium.plan._yaml_compose import _Loader, _parse, _yaml_error

JSON = Any
Loc = tuple[Any, ...]
"""A path into the file: mapping keys and list indexes, e.g. ``("tasks", 2, "needs")``."""

_WHERE_PART = re.compile(r"\[(\d+)\]|[^.\[\]]+")
_SUBTASK = re.compile(r"\[\d+\]$")
_MERGE_TAG = "tag:yaml.org,2002:merge"
_PLAN_FIELDS = ("tasks", "output")  # the fields of a problem of the whole plan


def _compose(text: str, file: str | None) -> tuple[JSON, dict[Loc, int], list[tuple[Loc, str]]]:
    loader, node = _parse(text, file)  # within the limits of `_yaml_compose`
    try:
        if node is None:
            return None, {}, []
        # index before constructing: construction rewrites merge keys (<<) in place
        lines, duplicates = _index(loader, node)
        return loader.construct_document(node), lines, duplicates
    except yaml.YAMLError as exc:  # a value that is no value of its tag
        raise _yaml_error(exc, file) from None
    finally:
        loader.dispose()


def _index(loader: _Loader, root: yaml.Node) -> tuple[dict[Loc, int], list[tuple[Loc, str]]]:
    """The line of every key and list item, and the keys given twice.

    The tree is walked with aliases expanded: `_parse` has bounded it to `MAX_NODES` nodes.
    """
    lines: dict[Loc, int] = {}
    duplicates: list[tuple[Loc, str]] = []
    stack: list[tuple[Loc, yaml.Node]] = [((), root)]
    while stack:
        loc, node = stack.pop()
        lines.setdefault(loc, node.start_mark.line + 1)
        children: list[tuple[Loc, yaml.Node]] = []
        if isinstance(node, yaml.MappingNode):
            first: dict[Any, int] = {}
            for key_node, value_node in node.value:
                if not isinstance(key_node, yaml.ScalarNode) or key_node.tag == _MERGE_TAG:
                    continue
                key = loader.construct_object(key_node)
                line = key_node.start_mark.line + 1
                if key in first:
                    message = f"duplicate key {key!r} (first at line {first[key]})"
                    duplicates.append(((*loc, key), message))
                first.setdefault(key, line)
                lines[(*loc, key)] = line
                children.append(((*loc, key), value_node))
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                lines[(*loc, i)] = item.start_mark.line + 1
                children.append(((*loc, i), item))
        stack.extend(reversed(children))  # depth first, in the order of the file
    return lines, duplicates


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
    """`Locate` for a compiled file: (task id, field) → (file, line); no task: the plan's."""

    file: str | None
    lines: Mapping[Loc, int]
    tasks: Mapping[str, Loc]
    repeats: Mapping[str, Loc]  # the last occurrence of a task id given more than once

    def __call__(self, task: str, field: str) -> tuple[str | None, int | None]:
        parts: Loc = tuple(
            int(i) if i else name
            for i, name in ((m.group(1), m.group(0)) for m in _WHERE_PART.finditer(field))
        )
        # the plan's own problems come with no task; a task may have an empty id (reported)
        if not task and ("" not in self.tasks or not parts or parts[0] in _PLAN_FIELDS):
            return self.file, _line(self.lines, parts)
        base = self.repeats.get(task) if field == "id" else None
        base = base or self.tasks.get(task) or self.tasks.get(_SUBTASK.sub("", task))
        if base is None:
            return self.file, None
        return self.file, _line(self.lines, (*base, *parts))
