"""Passages out of a document's text: by headings, then paragraphs, each at most `max_chars`.

A heading starts a new passage and names the passages under it (``Install > Linux``). Paragraphs
of one section are packed together up to the bound; a paragraph longer than the bound is cut at
sentence or word boundaries. Consecutive passages of one section share `overlap` characters, so
a sentence cut in two is still found whole in one of them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*$")
_SENTENCE_END = re.compile(r"(?<=[.!?;:])\s+")


@dataclass(frozen=True, slots=True)
class Chunk:
    """One passage: its text and the headings it sits under."""

    heading: str
    text: str


def chunk_text(text: str, *, max_chars: int = 1200, overlap: int = 150) -> list[Chunk]:
    """`text` (Markdown-style headings) cut into passages of at most `max_chars` characters."""
    chunks: list[Chunk] = []
    for heading, paragraphs in _sections(text):
        chunks.extend(Chunk(heading, body) for body in _pack(paragraphs, max_chars, overlap))
    return chunks


def _sections(text: str) -> list[tuple[str, list[str]]]:
    """(heading path, paragraphs) for each section, in order; headings themselves dropped."""
    trail: list[tuple[int, str]] = []
    sections: list[tuple[str, list[str]]] = [("", [])]
    for block in text.split("\n\n"):
        lines = block.split("\n")
        match = _HEADING.match(lines[0])
        if match is None:
            sections[-1][1].append(block)
            continue
        level = len(match.group(1))
        trail = [(lvl, name) for lvl, name in trail if lvl < level] + [(level, match.group(2))]
        sections.append((" > ".join(name for _, name in trail), []))
        rest = "\n".join(lines[1:]).strip()
        if rest:
            sections[-1][1].append(rest)
    return [(heading, paragraphs) for heading, paragraphs in sections if paragraphs]


def _pack(paragraphs: list[str], max_chars: int, overlap: int) -> list[str]:
    # a piece fits after the previous passage's overlap and the blank line between them
    limit = max_chars - overlap - 2
    pieces = [p for paragraph in paragraphs for p in _split(paragraph, limit)]
    out: list[str] = []
    current = ""
    for piece in pieces:
        if current and len(current) + 2 + len(piece) > max_chars:
            out.append(current)
            current = _tail(current, overlap)
        current = f"{current}\n\n{piece}" if current else piece
    if current:
        out.append(current)
    return out


def _split(paragraph: str, limit: int) -> list[str]:
    """A paragraph in pieces of at most `limit` characters, cut at sentences, then words."""
    if len(paragraph) <= limit:
        return [paragraph]
    pieces: list[str] = []
    current = ""
    for sentence in _SENTENCE_END.split(paragraph):
        for word in _words(sentence, limit):
            if current and len(current) + 1 + len(word) > limit:
                pieces.append(current)
                current = ""
            current = f"{current} {word}" if current else word
        if current and len(current) > limit // 2:
            pieces.append(current)
            current = ""
    if current:
        pieces.append(current)
    return pieces


def _words(sentence: str, limit: int) -> list[str]:
    """The sentence whole when it fits, else its words (a word longer than `limit` cut)."""
    if len(sentence) <= limit:
        return [sentence]
    return [w[i : i + limit] for w in sentence.split() for i in range(0, len(w), limit)]


def _tail(text: str, overlap: int) -> str:
    """The last `overlap` characters of `text`, starting at a word."""
    if overlap <= 0 or len(text) <= overlap:
        return "" if overlap <= 0 else text
    cut = text[-overlap:]
    space = cut.find(" ")
    return cut[space + 1 :] if 0 <= space < len(cut) - 1 else cut


__all__ = ["Chunk", "chunk_text"]
