"""The ``documents`` tool kind: ``search`` and ``get`` over a `DocumentStore`.

In a workflow file ``tools: {docs: {use: documents, with: {ingest: handbook/}}}`` makes
``docs_search`` and ``docs_get``. The folder is ingested on the first call in a process (once;
unchanged files cost a hash each), not when the file is loaded, so ``podium validate`` stays
quick.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import pydantic

from podium._sync import run_sync
from podium.exceptions import AccessRefused, ToolError
from podium.tools._standard import options
from podium.tools._tool import Tool
from podium.tools.documents._store import DEFAULT_SCHEMA, DocumentStore
from podium.tools.documents._types import Passage, SearchResults


class DocumentsOptions(pydantic.BaseModel):
    """The ``with:`` options of the ``documents`` tool kind."""

    model_config = pydantic.ConfigDict(extra="forbid", populate_by_name=True)

    store: str | None = None
    db_schema: str = pydantic.Field(DEFAULT_SCHEMA, alias="schema", pattern=r"^[A-Za-z_]\w{0,62}$")
    ingest: str | None = None
    prefix: str = ""
    paths: list[str] | None = pydantic.Field(None, min_length=1)
    k: int = pydantic.Field(5, ge=1, le=100)
    max_k: int = pydantic.Field(20, ge=1, le=100)
    max_passage_chars: int = pydantic.Field(2000, ge=100, le=100_000)
    chunk_chars: int = pydantic.Field(1200, ge=100, le=100_000)
    overlap: int = pydantic.Field(150, ge=0)
    # YAML reads a bare on/off as a boolean: both spellings are taken
    embeddings: Literal["auto", "on", "off"] | bool = "auto"

    @pydantic.model_validator(mode="after")
    def _needs_a_store(self) -> DocumentsOptions:
        if self.store is None and self.ingest is None:
            raise ValueError("give `store` (a document store URL), `ingest` (a folder), or both")
        if self.overlap > self.chunk_chars // 2:
            raise ValueError("`overlap` must be at most half of `chunk_chars`")
        if self.paths is not None and not all(p.strip() for p in self.paths):
            raise ValueError("`paths` must be non-empty path prefixes, such as `handbook/`")
        return self

    def scope(self) -> list[str] | None:
        """The path prefixes the tools may return: `paths`, else the folder's `prefix` (if
        any); ``None``: every document in the store."""
        if self.paths is not None:
            return self.paths
        return [self.prefix] if self.prefix else None


def default_store(folder: str) -> str:
    """Where a folder's store lives when none is given: a hidden file inside it (which
    ingesting leaves out)."""
    return os.path.join(folder, ".podium", "documents.db")


class _Source:
    """A store and the folder it is filled from, ingested once, on first use."""

    def __init__(self, store: DocumentStore, folder: str | None, prefix: str) -> None:
        self.store = store
        self.folder = folder
        self.prefix = prefix
        self._lock = threading.Lock()
        self._ready = folder is None

    def _fill(self) -> None:
        with self._lock:  # concurrent first calls ingest once; the others wait for it
            if not self._ready:
                assert self.folder is not None
                self.store._ingest(self.folder, self.prefix)
                self._ready = True

    async def ready(self) -> DocumentStore:
        if not self._ready:
            await run_sync(self._fill)
        return self.store


def _passage_json(p: Passage) -> dict[str, Any]:
    out: dict[str, Any] = {
        "source_id": p.source_id, "title": p.title, "path": p.path, "heading": p.heading,
        "score": round(p.score, 6), "bm25": p.bm25, "cosine": p.cosine, "text": p.text,
    }  # fmt: skip
    return {k: v for k, v in out.items() if v not in (None, "")}


def _results_json(results: SearchResults) -> dict[str, Any]:
    out: dict[str, Any] = {
        "mode": results.mode,
        "passages": [_passage_json(p) for p in results.passages],
    }
    if results.note:
        out["note"] = results.note
    return out


def _tools(
    source: _Source, *, k: int, max_k: int, prefix: str, paths: Sequence[str] | None = None
) -> list[Tool]:
    within = None if paths is None else tuple(paths)

    async def search(query: str, k: int = k) -> dict[str, Any]:
        """Search the documents; returns passages, best first, each with a `source_id` to cite.

        Args:
            query: words or a question.
            k: how many passages.
        """
        store = await source.ready()
        return _results_json(await store.search(query, min(max(k, 1), max_k), within=within))

    async def get(source_id: str) -> dict[str, Any]:
        """Read a passage by its `source_id` (``path#chunk-n``, as search returned it)."""
        if within is not None and not source_id.startswith(within):
            raise AccessRefused(  # refused before the store is asked: not even whether it exists
                f"the document {source_id!r} is outside this tool's folders {list(within)}",
                access="document",
                target=source_id,
            )
        store = await source.ready()
        passage = await store.get(source_id)
        if passage is None:
            raise ToolError(f"no passage {source_id!r} in the documents: search for its source id")
        return _passage_json(passage)

    return [
        Tool.from_function(search, name=f"{prefix}search", effect="read"),
        Tool.from_function(get, name=f"{prefix}get", effect="read"),
    ]


def document_tools(
    store: DocumentStore | str | os.PathLike[str] | None = None,
    *,
    ingest: str | os.PathLike[str] | None = None,
    name: str = "documents",
    k: int = 5,
    max_k: int = 20,
    paths: Sequence[str] | None = None,
) -> list[Tool]:
    """``{name}_search`` and ``{name}_get`` over a document store (read tools).

    Args:
        store: a `DocumentStore`, or its URL (default: a hidden store inside `ingest`).
        ingest: a folder ingested on the first call.
        name: the tools' prefix.
        k: passages a search returns unless the model asks for another number.
        max_k: the most passages a search returns.
        paths: path prefixes of the documents the tools may return (``handbook/``), for a
            store that holds more than this agent may read; ``None``: all of them. A search
            leaves the others out; a `get` of one is refused (`AccessRefused`).
    """
    raw: dict[str, Any] = {"k": k, "max_k": max_k}
    if ingest is not None:
        raw["ingest"] = os.fspath(ingest)
    if paths is not None:
        raw["paths"] = list(paths)
    if isinstance(store, DocumentStore):
        folder = raw.get("ingest")
        source = _Source(store, folder, "")
        return _tools(source, k=k, max_k=max_k, prefix=f"{name}_", paths=paths)
    if store is not None:
        raw["store"] = os.fspath(store)
    return _build(options(DocumentsOptions, raw, "documents"), prefix=f"{name}_")


def _within(path: str, base_dir: str | os.PathLike[str] | None) -> str:
    """`path`, relative to `base_dir` when it is relative and there is one."""
    return path if base_dir is None or os.path.isabs(path) else os.path.join(base_dir, path)


def _store_url(url: str, base_dir: str | os.PathLike[str] | None) -> str:
    if url.startswith(("postgresql://", "postgres://")):
        return url
    if url.startswith("sqlite://"):  # sqlite:///relative.db, sqlite:////absolute.db
        url = url.removeprefix("sqlite://").removeprefix("/") or "documents.db"
    return _within(url, base_dir)


def _build(
    o: DocumentsOptions, *, prefix: str, base_dir: str | os.PathLike[str] | None = None
) -> list[Tool]:
    ingest = None if o.ingest is None else _within(o.ingest, base_dir)
    url = _store_url(o.store, base_dir) if o.store else default_store(ingest or ".")
    embeddings = (
        o.embeddings
        if isinstance(o.embeddings, bool)
        else {"auto": None, "on": True, "off": False}[o.embeddings]
    )
    store = DocumentStore.open(
        url, schema=o.db_schema, embeddings=embeddings, chunk_chars=o.chunk_chars,
        overlap=o.overlap, max_passage_chars=o.max_passage_chars,
    )  # fmt: skip
    source = _Source(store, ingest, o.prefix)
    return _tools(source, k=min(o.k, o.max_k), max_k=o.max_k, prefix=prefix, paths=o.scope())


def make(raw: Mapping[str, Any], base_dir: str | os.PathLike[str] | None = None) -> Sequence[Tool]:
    """The ``documents`` kind's tools (``search``, ``get``) from a ``with:`` mapping; relative
    paths are from `base_dir` (a workflow file's folder), else the current directory."""
    return _build(options(DocumentsOptions, raw, "documents"), prefix="", base_dir=base_dir)


__all__ = ["DocumentsOptions", "default_store", "document_tools", "make"]
