"""Text out of files: Markdown and plain text as they are, HTML without its scripts and styles,
PDF through pypdf. A file that is not text is skipped, with why.

HTML headings come out as Markdown headings (``## Title``) so that one chunker serves every
format. Text that is not UTF-8 is decoded as Windows-1252 (which also covers Latin-1's printable
range) rather than refused: a search index is better with a few odd characters than without the
file.
"""

from __future__ import annotations

import html.parser
import io
import logging
import re
from dataclasses import dataclass
from pathlib import PurePath

log = logging.getLogger(__name__)

TEXT_SUFFIXES = frozenset({".md", ".markdown", ".txt", ".text", ".rst"})
HTML_SUFFIXES = frozenset({".html", ".htm", ".xhtml"})
PDF_SUFFIXES = frozenset({".pdf"})
SUFFIXES = TEXT_SUFFIXES | HTML_SUFFIXES | PDF_SUFFIXES
MAX_PDF_PAGES = 2000


@dataclass(frozen=True, slots=True)
class Extracted:
    """A file's title and text (Markdown-style headings), or why it was skipped."""

    title: str
    text: str
    skipped: str | None = None


class NotText(Exception):
    """The file is not a document this module reads (binary, unreadable PDF)."""


def extract(path: PurePath, data: bytes) -> Extracted:
    """A file's title and text, read by its suffix; `skipped` says why when there is none."""
    suffix = path.suffix.lower()
    try:
        if suffix in PDF_SUFFIXES:
            title, text = _pdf(data)
        else:
            decoded = decode(data)
            title, text = _html(decoded) if suffix in HTML_SUFFIXES else ("", decoded)
    except NotText as exc:
        return Extracted(title="", text="", skipped=str(exc))
    text = _tidy(text)
    if not text:
        return Extracted(title="", text="", skipped="no text")
    return Extracted(title=title or _first_heading(text) or path.stem, text=text)


def decode(data: bytes) -> str:
    """Bytes as text: UTF-8 (a BOM's encoding when there is one), else Windows-1252."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16", errors="replace")
    if b"\x00" in data[:8192]:
        raise NotText("binary (NUL bytes)")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        # cp1252 leaves five bytes undefined; `replace` keeps the rest of the file readable
        return data.decode("cp1252", errors="replace")


_SPACES = re.compile(r"[ \t\f\v\r]+")
_BLANKS = re.compile(r"\n\s*\n\s*")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_HEADING = re.compile(r"^#{1,6}\s+(.+)$", re.MULTILINE)


def _tidy(text: str) -> str:
    text = _CONTROL.sub(" ", text.replace("\r\n", "\n"))
    lines = [_SPACES.sub(" ", line).strip() for line in text.split("\n")]
    return _BLANKS.sub("\n\n", "\n".join(lines)).strip()


def _first_heading(text: str) -> str:
    match = _HEADING.search(text[:4000])
    return match.group(1).strip() if match else ""


def _pdf(data: bytes) -> tuple[str, str]:
    try:
        import pypdf  # the `tools` extra; only documents with PDFs need it
    except ImportError:  # one PDF does not stop the rest of a folder
        raise NotText("a PDF, and pypdf is not installed (pip install 'podium[tools]')") from None
    try:
        reader = pypdf.PdfReader(io.BytesIO(data))
        pages = [page.extract_text() or "" for page in reader.pages[:MAX_PDF_PAGES]]
        title = str(reader.metadata.get("/Title") or "") if reader.metadata else ""
    except Exception as exc:  # pypdf raises many kinds on a damaged file
        raise NotText(f"unreadable PDF ({type(exc).__name__}: {exc})") from None
    if len(reader.pages) > MAX_PDF_PAGES:
        log.warning(
            "PDF has %d pages: only the first %d are read", len(reader.pages), MAX_PDF_PAGES
        )
    return title.strip(), "\n\n".join(pages)


_SKIP = frozenset({"script", "style", "noscript", "template", "svg", "head", "iframe", "object"})
_BLOCK = frozenset(
    {"p", "div", "section", "article", "main", "header", "footer", "aside", "nav", "li", "ul",
     "ol", "table", "tr", "br", "hr", "pre", "blockquote", "dl", "dt", "dd", "form", "figure",
     "figcaption", "body", "td", "th"}
)  # fmt: skip
_HEADINGS = {f"h{n}": n for n in range(1, 7)}


class _HTMLText(html.parser.HTMLParser):
    """Visible text of a page: what is inside script, style and the like is dropped."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.title: list[str] = []
        self._skipping: list[str] = []
        self._in_title = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "title":
            self._in_title = True
        elif tag in _SKIP:
            self._skipping.append(tag)
        elif tag in _HEADINGS and not self._skipping:
            self.parts.append("\n\n" + "#" * _HEADINGS[tag] + " ")
        elif tag in _BLOCK and not self._skipping:
            self.parts.append("\n\n")

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._in_title = False
        elif tag in _SKIP and tag in self._skipping:
            # close up to the matching tag: a page that never closes an inner one stays readable
            while self._skipping and self._skipping.pop() != tag:
                pass
        elif (tag in _HEADINGS or tag in _BLOCK) and not self._skipping:
            self.parts.append("\n\n")

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title.append(data)
        elif not self._skipping:
            self.parts.append(data.replace("\n", " "))


def _html(text: str) -> tuple[str, str]:
    parser = _HTMLText()
    parser.feed(text)
    parser.close()
    # a heading's text is on one line: "## " then its words, up to the block break
    return " ".join("".join(parser.title).split()), "".join(parser.parts)


__all__ = ["SUFFIXES", "Extracted", "decode", "extract"]
