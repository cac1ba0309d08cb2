"""What a document store returns: passages with their source ids, search results, ingest reports."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

SearchMode = Literal["hybrid", "bm25"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Passage:
    """One passage of a document, as search and `get` return it.

    Attributes:
        source_id: ``{path}#chunk-{n}``, stable while the file is unchanged: cite it.
        path: the file, relative to the ingested folder (with the ingest's prefix).
        title: the document's title (its first heading, HTML title or PDF title, else its name).
        heading: the headings the passage sits under (``Install > Linux``), or empty.
        text: the passage (cut to the store's `max_passage_chars`, ending with "…" when cut).
        sha: a hash of the passage's full text, to tell whether a citation is still current.
        score: the reciprocal-rank-fusion score (higher is better); 0 from `get`.
        bm25: the full-text score (higher is better), when full-text search found it.
        bm25_rank: its rank in the full-text results (1 is best).
        cosine: the cosine similarity of its embedding with the query's, when compared.
        cosine_rank: its rank by similarity (1 is best).
    """

    source_id: str
    path: str
    title: str
    heading: str
    text: str
    sha: str
    score: float = 0.0
    bm25: float | None = None
    bm25_rank: int | None = None
    cosine: float | None = None
    cosine_rank: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class SearchResults:
    """The passages best matching a query, best first.

    Attributes:
        mode: ``hybrid`` (BM25 and embeddings, fused by reciprocal rank) or ``bm25`` alone.
        note: why the mode is ``bm25`` when embeddings were not used, else empty.
    """

    query: str
    mode: SearchMode
    passages: list[Passage]
    note: str = ""


@dataclass(slots=True, kw_only=True)
class IngestReport:
    """What one ingest of a folder did (paths with the ingest's prefix).

    Attributes:
        added: files new to the store. updated: files whose content changed (their passages
        were replaced). unchanged: files skipped because their hash is the stored one.
        removed: files gone from the folder, forgotten. skipped: (path, why) for files not read
        (binary, too large, unsupported type, no text…); at most `MAX_LISTED`, with
        `skipped_count` counting them all. passages: passages written by this ingest.
        embedded: passages that got an embedding.
    """

    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    skipped_count: int = 0
    passages: int = 0
    embedded: int = 0

    def skip(self, path: str, why: str) -> None:
        """Note a skipped file (the list is bounded; the count is not)."""
        self.skipped_count += 1
        if len(self.skipped) < MAX_LISTED:
            self.skipped.append((path, why))


MAX_LISTED = 200
"""Skipped files an `IngestReport` lists at most."""

__all__ = ["MAX_LISTED", "IngestReport", "Passage", "SearchMode", "SearchResults"]
