"""The sources of `workflow.yaml`: internal folders through the ``documents`` standard tool, and
one web page through ``web_fetch`` when the run is given a URL.

Each passage handed on to the writer is ``{"id", "title", "text", "kind"}``: `id` is what the
report cites, ``FOLDER/path#chunk-n`` for a document (the ``documents`` tool's source id, with
the folder's name in front) or the page's URL for the web page.
"""

from __future__ import annotations

import functools
import hashlib
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from report_review import words

from podium import TaskCall
from podium.exceptions import ToolError
from podium.tools import Tool, ToolContext, documents
from podium.tools.web import web_fetch_tool

HERE = Path(__file__).parent
PASSAGE_CHARS = 300
"""Passages about one paragraph long: the small local model restates one fact at a time."""
PAGE_PASSAGE_CHARS = 600
MAX_QUESTION_CHARS = 500
Passage = dict[str, str]


def folders(call: TaskCall) -> list[Path]:
    """The folders to search (input `folders`, relative to this example's folder)."""
    given = call.run_inputs.get("folders") or ["sources", "../corpus"]
    if isinstance(given, str):
        given = [given]
    return [(HERE / Path(str(f)).expanduser()).resolve() for f in given]


def data_dir(call: TaskCall) -> Path:
    """Where the document stores live (input `data_dir`, relative to this folder; gitignored)."""
    folder = (HERE / str(call.run_inputs.get("data_dir") or ".data")).resolve()
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@functools.cache
def documents_tool(folder: Path, store: Path, prefix: str, embeddings: str) -> Tool:
    """The ``search`` tool of the ``documents`` standard tool over `folder`, made by the factory
    a workflow file's ``use: documents`` calls, with these ``with:`` options. One per process,
    so a folder is ingested once (then again only for files that changed)."""
    options = {
        "ingest": str(folder),
        "store": str(store),
        "prefix": prefix,
        "chunk_chars": PASSAGE_CHARS,
        "overlap": 0,
        "max_k": 20,
        "embeddings": embeddings,
    }
    return next(t for t in documents.make(options) if t.name == "search")


def sources(call: TaskCall) -> Iterator[tuple[Path, Path, str]]:
    """Each folder with its store and its prefix (the folder's name; made unique)."""
    stores = data_dir(call)
    seen: set[str] = set()
    for folder in dict.fromkeys(folders(call)):  # each folder once
        if not folder.is_dir():
            raise ToolError(f"input folders: {str(folder)!r} is not a folder")
        name = re.sub(r"[^A-Za-z0-9_-]+", "-", folder.name) or "docs"
        while name in seen:
            name += "_"
        seen.add(name)
        digest = hashlib.sha256(str(folder).encode()).hexdigest()[:10]
        yield folder, stores / f"{name}-{digest}.db", f"{name}/"


def tool_context(call: TaskCall, name: str) -> ToolContext:
    return ToolContext(
        run_id=call.run_id,
        task_id=call.task_id,
        agent=call.agent,
        call_id=name,
        idempotency_key=call.idempotency_key(name),
    )


def named(question: str, passage: dict[str, Any]) -> int:
    """How many of the question's words the passage names (as words or inside longer ones:
    "bee" in "honeybees"), counting its title and heading again: a relevance that means the
    same in every folder, unlike a search's scores."""
    asked = {w.removesuffix("s") for w in words(question)}
    text = " ".join(words(passage["text"]))
    heading = " ".join(words(f"{passage.get('title', '')} {passage.get('heading', '')}"))
    return sum(w in text for w in asked) + sum(w in heading for w in asked)


async def search(tool: Tool, ask: dict[str, Any], ctx: ToolContext, store: Path) -> Any:
    """One folder's search; a store that cannot be read is named, with what to do."""
    try:
        return await tool.call(ask, ctx)
    except ToolError as exc:
        if "document store" not in str(exc):
            raise
        hint = f"{store} is only a cache of its folder: delete it and run again"
        raise ToolError(f"{exc} ({hint})") from exc


async def search_sources(call: TaskCall) -> dict[str, Any]:
    """The best `passages` passages for the question over every folder.

    Each folder's search ranks by BM25 and embeddings fused (BM25 alone without the
    ``embeddings`` extra). Merged, passages that name more of the question's words come first
    (BM25 weighs a word by its rarity within one folder: where every passage on the topic says
    "tides", a stray "works" elsewhere wins "How do tides work?"), then the folders take turns
    in their own order, so no folder crowds the others out.
    """
    question = str(call.run_inputs.get("question") or call.instruction)
    if len(question) > MAX_QUESTION_CHARS:  # it goes into every draft's prompt
        raise ToolError(
            f"the question has {len(question)} characters: at most {MAX_QUESTION_CHARS}"
        )
    k = max(1, min(int(call.run_inputs.get("passages", 3)), 20))
    embeddings = str(call.run_inputs.get("embeddings") or "auto")
    found: list[tuple[int, int, float, Passage]] = []
    modes = set()
    for folder, store, prefix in sources(call):
        tool = documents_tool(folder, store, prefix, embeddings)
        ask = {"query": question, "k": min(2 * k, 20)}  # candidates for the merge
        result = await search(tool, ask, tool_context(call, prefix), store)
        modes.add(result["mode"])
        for rank, p in enumerate(result["passages"]):
            title = p.get("heading") or p.get("title") or p["path"]
            passage = {"id": p["source_id"], "title": title, "text": p["text"], "kind": "document"}
            found.append((-named(question, p), rank, -p["score"], passage))
    found.sort(key=lambda s: s[:3])
    return {"passages": [s[3] for s in found[:k]], "mode": "+".join(sorted(modes))}


def paragraphs(text: str) -> list[str]:
    """The page's lines long enough to be paragraphs (not menus, captions or dates)."""
    return [line.strip() for line in text.splitlines() if len(line.strip()) >= 40]


def best_passage(question: str, text: str) -> str:
    """The page's paragraph that shares most words with the question (the first on a tie),
    with the paragraphs after it while they fit in `PAGE_PASSAGE_CHARS`."""
    paras = paragraphs(text)
    if not paras:
        return text.strip()[:PAGE_PASSAGE_CHARS]
    asked = set(words(question))
    start = max(range(len(paras)), key=lambda i: (len(asked & set(words(paras[i]))), -i))
    passage = paras[start]
    for more in paras[start + 1 :]:
        if len(passage) + 1 + len(more) > PAGE_PASSAGE_CHARS:
            break
        passage += "\n" + more
    return passage[:PAGE_PASSAGE_CHARS]


def allowed_hosts(call: TaskCall) -> list[str]:
    raw = call.run_inputs.get("allow_hosts") or ""
    hosts = raw if isinstance(raw, list) else re.split(r"[,\s]+", str(raw))
    return [str(h).strip() for h in hosts if str(h).strip()]


async def fetch_page(call: TaskCall) -> list[Passage]:
    """The passage of the page at input `url` that best answers the question, through the
    ``web_fetch`` standard tool limited to input `allow_hosts`; none when there is no URL."""
    url = str(call.run_inputs.get("url") or "").strip()
    if not url:
        return []
    hosts = allowed_hosts(call)
    if not hosts:
        host = urlsplit(url).hostname or "HOST"
        raise ToolError(
            f"not fetched: {url!r} needs its host on the allow-list (--input allow_hosts={host})"
        )
    fetch = web_fetch_tool(allow_hosts=hosts, timeout_s=15)
    page = await fetch.call({"url": url}, tool_context(call, "web_fetch"))
    question = str(call.run_inputs.get("question") or "")
    text = best_passage(question, str(page.get("text") or ""))
    if not text:
        raise ToolError(f"the page at {url!r} has no readable text")
    title = str(page.get("title") or page["source"])
    kind = "web page, untrusted"  # someone else's words: the writer restates, never obeys
    return [{"id": str(page["source"]), "title": title, "text": text, "kind": kind}]


def gather(call: TaskCall) -> list[Passage]:
    """The passages to draft from: the documents' first, then the page's (when there is one;
    `None` when fetching it failed, which the optional task allows). Each id once."""
    found = call.task_outputs["search"]["passages"]
    page = call.task_outputs.get("fetch") or []
    seen: set[str] = set()
    out = []
    for passage in [*found, *page]:
        if passage["id"] not in seen:
            seen.add(passage["id"])
            out.append(passage)
    return out
