"""What a task was given to cite: source ids and their text, from its inputs and its context.

A source is:

- a document anywhere in the inputs (run inputs and upstream outputs): an object with an id
  (``id``, ``source``, ``source_id``, ``doc_id`` or ``url``) and a text (``text``, ``content``,
  ``snippet``, ``body``, ``passage`` or ``summary``), as a retriever returns them;
- a blackboard entry the task reads: each id in its `sources` stands for the entry's value (so
  an entry written with ``sources=("doc-1",)`` lets the output cite ``[doc-1]``), and so does
  the key itself;
- a run input or upstream output given as plain text, by its name.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

JSON = Any

ID_KEYS = ("id", "source", "source_id", "doc_id", "url")
TEXT_KEYS = ("text", "content", "snippet", "body", "passage", "summary")
MAX_SOURCE_CHARS = 100_000
"""Text kept per source: a hostile input cannot make the check read megabytes per claim."""
MAX_DEPTH = 8
MAX_SOURCES = 2_000


def output_text(value: JSON) -> str:
    """The text of an output: a string as it is, the string leaves of a structure joined."""
    if isinstance(value, str):
        return value
    parts: list[str] = []
    stack: list[JSON] = [value]
    while stack and len(parts) < 10_000:
        item = stack.pop()
        if isinstance(item, str):
            parts.append(item)
        elif isinstance(item, Mapping):
            stack.extend(reversed(list(item.values())))
        elif isinstance(item, list | tuple):
            stack.extend(reversed(item))
    return "\n".join(parts)


def _text_of(value: JSON) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    return text[:MAX_SOURCE_CHARS]


def _add(found: dict[str, str], sid: str, text: str) -> None:
    if len(found) >= MAX_SOURCES and sid not in found:
        return
    if sid in found and text not in found[sid]:
        text = (found[sid] + "\n" + text)[:MAX_SOURCE_CHARS]
    found[sid] = text


def _documents(value: JSON, found: dict[str, str], depth: int = 0) -> None:
    """Add the documents (id + text objects) found in `value`."""
    if depth > MAX_DEPTH:
        return
    if isinstance(value, Mapping):
        sid = next((value[k] for k in ID_KEYS if isinstance(value.get(k), str | int)), None)
        text = next((value[k] for k in TEXT_KEYS if isinstance(value.get(k), str)), None)
        if sid is not None and text is not None:
            title = value.get("title")
            _add(found, str(sid), f"{title}\n{text}" if isinstance(title, str) else text)
        for sub in value.values():
            if isinstance(sub, Mapping | list):
                _documents(sub, found, depth + 1)
    elif isinstance(value, list):
        for sub in value:
            if isinstance(sub, Mapping | list):
                _documents(sub, found, depth + 1)


def collect_sources(
    inputs: Mapping[str, JSON], context: Mapping[str, Sequence[Any]] | None = None
) -> dict[str, str]:
    """Source id → text, from a task's inputs and its context entries (see the module
    docstring). Entries are anything with `key`, `value` and `sources` (`podium.context.Entry`);
    the latest version of a key wins for the key's own id."""
    found: dict[str, str] = {}
    for name, value in inputs.items():
        if isinstance(value, str):
            _add(found, name, value[:MAX_SOURCE_CHARS])
        else:
            _documents(value, found)
    for key, entries in (context or {}).items():
        for entry in entries:
            text = _text_of(entry.value)
            for sid in entry.sources:
                _add(found, str(sid), text)
            _documents(entry.value, found)
        if entries:
            found[key] = _text_of(entries[-1].value)
    return found


__all__ = ["collect_sources", "output_text"]
