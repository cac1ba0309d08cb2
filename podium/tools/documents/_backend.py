"""What a document store keeps, behind one protocol: SQLite (embedded) and Postgres (shared).

A backend is synchronous and thread-safe: `DocumentStore` calls it from worker threads, so it
serves any event loop, and a search never waits for the loop. It stores documents (a path, the
folder it came from, a hash of its bytes) and their passages, ranks passages by full-text search
(BM25 in SQLite's FTS5, ``ts_rank_cd`` in Postgres) and, when passages have embeddings, by cosine
similarity. Every change bumps a generation number, so vectors held in memory know when they
are stale.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

Vector = Sequence[float]


@dataclass(frozen=True, slots=True, kw_only=True)
class StoredChunk:
    """A passage as stored: `source_id` is ``{path}#chunk-{n}``, `sha` a hash of its text."""

    source_id: str
    path: str
    n: int
    title: str
    heading: str
    text: str
    sha: str


def chunk_from_row(row: Sequence[Any]) -> StoredChunk:
    """A passage from a row of its columns, in `StoredChunk`'s order."""
    source_id, path, n, title, heading, text, sha = row[:7]
    return StoredChunk(
        source_id=source_id, path=path, n=n, title=title, heading=heading, text=text, sha=sha
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class StoredDocument:
    """A document as stored: where it came from and the hash of its bytes."""

    path: str
    root: str
    sha: str


class Backend(Protocol):
    """Storage and ranking of passages; every method may raise `StoreError`."""

    def documents(self) -> dict[str, StoredDocument]:
        """Every stored document by path."""
        ...

    def replace(
        self,
        document: StoredDocument,
        chunks: Sequence[StoredChunk],
        vectors: Sequence[Vector] | None,
    ) -> None:
        """Store `document` and its passages in place of its old ones, in one transaction."""
        ...

    def remove(self, paths: Sequence[str]) -> None:
        """Forget these documents and their passages."""
        ...

    def keyword(self, words: Sequence[str], limit: int) -> list[tuple[str, float]]:
        """Source ids by full-text relevance to any of `words`, best first (higher is better)."""
        ...

    def vector(
        self, query: Vector, limit: int, candidates: Sequence[str]
    ) -> list[tuple[str, float]]:
        """Source ids by cosine similarity to `query`, best first.

        Over every passage when the backend can afford it, else over `candidates` only.
        """
        ...

    def chunks(self, source_ids: Sequence[str]) -> dict[str, StoredChunk]:
        """The passages with these ids (unknown ids are left out)."""
        ...

    def without_vectors(self, limit: int) -> list[StoredChunk]:
        """Up to `limit` passages that have no embedding yet."""
        ...

    def set_vectors(self, vectors: Sequence[tuple[str, Vector]]) -> None:
        """Store embeddings of passages by source id."""
        ...

    def meta(self, key: str) -> str | None:
        """A stored setting (such as which encoder made the embeddings)."""
        ...

    def set_meta(self, key: str, value: str, *, clear_vectors: bool = False) -> None:
        """Store a setting; with `clear_vectors`, drop every embedding in the same transaction."""
        ...

    def count(self) -> tuple[int, int]:
        """(documents, passages) stored."""
        ...

    def close(self) -> None:
        """Release connections; idempotent."""
        ...


def fold(text: str) -> str:
    """`text` without accents ("crème" → "creme"): how full-text search compares words."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def embed_text(chunk: StoredChunk) -> str:
    """The text a passage's embedding is made from: where it sits, then what it says."""
    where = " > ".join(p for p in (chunk.title, chunk.heading) if p)
    return f"{where}\n{chunk.text}" if where else chunk.text


__all__ = [
    "Backend",
    "StoredChunk",
    "StoredDocument",
    "Vector",
    "chunk_from_row",
    "embed_text",
    "fold",
]
