"""Readable text out of fetched bytes: HTML (trafilatura), plain text, JSON and PDF (pypdf).

Everything here is synchronous and CPU-bound: the fetch tool calls it on a worker thread.
trafilatura and pypdf are imported on use (the ``tools`` extra).
"""

from __future__ import annotations

import io
import logging
from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

from podium.exceptions import ToolError

logger = logging.getLogger(__name__)

HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
JSON_TYPES = frozenset({"application/json", "text/json"})
PDF_TYPES = frozenset({"application/pdf"})
MAX_LINKS = 100
_SKIPPED = frozenset({"script", "style", "noscript", "template", "svg", "head"})


def kind_of(media_type: str) -> str:
    """``html``, ``json``, ``pdf`` or ``text`` for a media type; `ToolError` for any other."""
    if media_type in HTML_TYPES:
        return "html"
    if media_type in JSON_TYPES or media_type.endswith("+json"):
        return "json"
    if media_type in PDF_TYPES:
        return "pdf"
    if media_type.startswith("text/"):
        return "text"
    shown = media_type or "none given"
    raise ToolError(
        f"unsupported content type ({shown}): the tool reads HTML, plain text, JSON and PDF"
    )


def decode(data: bytes, charset: str | None) -> str:
    """`data` as text in `charset` (UTF-8 when none or an unknown one), bad bytes replaced."""
    try:
        return data.decode(charset or "utf-8", errors="replace")
    except LookupError:
        return data.decode("utf-8", errors="replace")


@dataclass(slots=True)
class Page:
    """What was read: a title (maybe empty), the text and, for HTML, the links."""

    title: str
    text: str
    links: list[dict[str, str]] = field(default_factory=list)


class _Outline(HTMLParser):
    """The title, visible text and links of an HTML document (the fallback when trafilatura
    finds no main content, and the source of links)."""

    def __init__(self, base: str) -> None:
        super().__init__(convert_charrefs=True)
        self.base = base
        self.title: list[str] = []
        self.text: list[str] = []
        self.links: list[dict[str, str]] = []
        self._seen: set[str] = set()
        self._skip = 0
        self._in_title = False
        self._href: str | None = None
        self._anchor: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "title":
            self._in_title = True
        elif tag in _SKIPPED:
            self._skip += 1
        elif tag == "a":
            self._href = dict(attrs).get("href")
            self._anchor = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._in_title = False
        elif tag in _SKIPPED:
            self._skip = max(0, self._skip - 1)
        elif tag == "a" and self._href is not None:
            self._add_link(self._href, " ".join("".join(self._anchor).split()))
            self._href = None

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title.append(data)
        elif not self._skip:
            self.text.append(data)
            if self._href is not None:
                self._anchor.append(data)

    def _add_link(self, href: str, text: str) -> None:
        try:
            url = urljoin(self.base, href.strip())
            scheme = urlsplit(url).scheme
        except ValueError:
            return
        if scheme in ("http", "https") and url not in self._seen and len(self.links) < MAX_LINKS:
            self._seen.add(url)
            self.links.append({"text": text[:200], "url": url[:2000]})


def read_html(data: bytes, charset: str | None, url: str) -> Page:
    """The main text of an HTML page (trafilatura), its title and links."""
    import trafilatura

    markup = decode(data, charset)
    outline = _Outline(url)
    outline.feed(markup)
    outline.close()
    title = " ".join("".join(outline.title).split())
    document = trafilatura.bare_extraction(
        markup, url=url, with_metadata=True, include_comments=False, include_tables=True
    )
    text = getattr(document, "text", None) or ""
    if not text.strip():  # no main content found (a short page, a list of links): all text
        text = "\n".join(line for line in (" ".join(t.split()) for t in outline.text) if line)
    title = title or (getattr(document, "title", None) or "")
    return Page(title=title[:500], text=text, links=outline.links)


def read_pdf(data: bytes, max_chars: int) -> Page:
    """The text of a PDF, page by page until `max_chars` are reached."""
    import pypdf
    import pypdf.errors

    try:
        reader = pypdf.PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            raise ToolError("the PDF is encrypted: its text cannot be read")
        parts: list[str] = []
        size = 0
        for page in reader.pages:
            chunk = page.extract_text() or ""
            parts.append(chunk)
            size += len(chunk)
            if size >= max_chars:
                break
        metadata = reader.metadata
        title = str(metadata.get("/Title") or "") if metadata is not None else ""
    except pypdf.errors.PyPdfError as exc:
        raise ToolError(f"cannot read the PDF: {exc}") from None
    return Page(title=title[:500], text="\n\n".join(parts))


def read_body(kind: str, data: bytes, charset: str | None, url: str, max_chars: int) -> Page:
    """The readable content of a body of `kind` (see `kind_of`)."""
    if kind == "html":
        return read_html(data, charset, url)
    if kind == "pdf":
        return read_pdf(data, max_chars)
    return Page(title="", text=decode(data, charset))


__all__ = ["Page", "decode", "kind_of", "read_body"]
