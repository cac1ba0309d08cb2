"""Rules that ship with Podium, for ``kind: rule`` checks (``rule: podium.verify:complete``)."""

from __future__ import annotations

import re
from typing import Any

from podium.verify._sources import output_text

_PROSE_END = re.compile(r"""[.!?…:;'"”\u2019)\]`*_>|]\s*$""")
_LIST_OR_HEADING = re.compile(r"^\s*(?:[#>|*\-+]|\d+[.)]\s)")
_PAIRS = (("(", ")"), ("[", "]"), ("{", "}"))


def complete(output: Any, call: Any = None) -> str | None:
    """Why `output` looks cut off (a truncated answer), or ``None``.

    A text is cut off when it is empty, when a code fence is left open, when brackets are
    opened and not closed, or when its last line is prose (not a list item, heading or table
    row) of several words that stops without closing punctuation — as a model's answer does when
    it runs out of tokens. Structured outputs (objects, lists) parsed, so they are whole.
    """
    del call
    if isinstance(output, dict | list) and output:
        return None
    text = output_text(output).strip()
    if not text:
        return "the output is empty"
    unclosed = _unclosed(text)
    if unclosed is not None:
        return f"{unclosed} is opened and never closed: the output is cut off"
    last = text.splitlines()[-1].strip()
    if _LIST_OR_HEADING.match(last) or len(last.split()) < 4:
        return None
    if _PROSE_END.search(last) is None:
        return f"the output stops mid-sentence ({last[-60:]!r}): it is cut off; finish it"
    return None


def _unclosed(text: str) -> str | None:
    if text.count("```") % 2:
        return "a code block"
    for opening, closing in _PAIRS:
        if text.count(opening) > text.count(closing):
            return repr(opening)
    return None


__all__ = ["complete"]
