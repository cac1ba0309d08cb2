"""Ingesting a folder: read each document, cut it into passages, embed them, store them.

A document is known by its path relative to the folder (plus an optional prefix) and the
SHA-256 of its bytes: an unchanged file is not read past its hash, a changed one has all its
passages replaced in one transaction, and one gone from the folder is forgotten. Hidden files and
folders (a leading dot) are left out, which is also where a store kept inside the folder lives;
symbolic links are followed only when they stay inside the folder.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from podium.exceptions import ConfigError
from podium.tools.documents._backend import Backend, StoredChunk, StoredDocument, embed_text
from podium.tools.documents._chunk import chunk_text
from podium.tools.documents._embed import Embedder
from podium.tools.documents._extract import SUFFIXES, extract
from podium.tools.documents._types import IngestReport

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True, kw_only=True)
class Limits:
    """Bounds of an ingest and of passages."""

    chunk_chars: int = 1200
    overlap: int = 150
    max_file_bytes: int = 20 * 1024 * 1024
    max_files: int = 10_000
    max_chunks_per_file: int = 5_000


def _files(root: Path) -> Iterator[Path]:
    """Files under `root`, in a stable order, hidden ones and links out of `root` left out."""
    for folder, dirs, names in os.walk(root, followlinks=False):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(names):
            if not name.startswith("."):
                yield Path(folder, name)


def _inside(path: Path, root: Path) -> bool:
    try:
        return path.resolve().is_relative_to(root)
    except OSError:  # a link loop, a file gone meanwhile
        return False


def ingest_folder(
    backend: Backend,
    folder: str | os.PathLike[str],
    *,
    prefix: str,
    limits: Limits,
    embedder: Embedder | None,
) -> IngestReport:
    """Bring the store in line with `folder`; see the module's docstring."""
    root = Path(folder).resolve()
    if not root.is_dir():
        raise ConfigError(f"cannot ingest {os.fspath(folder)!r}: it is not a folder")
    if embedder is not None and backend.meta("encoder") != embedder.name:
        # embeddings of another encoder are not comparable with this one's: made again
        backend.set_meta("encoder", embedder.name, clear_vectors=True)
    run = _Ingest(backend, root, limits, embedder)
    stored = backend.documents()
    seen: set[str] = set()
    complete = True
    for count, file in enumerate(_files(root)):
        key = prefix + file.relative_to(root).as_posix()
        if count >= limits.max_files:
            run.report.skip(key, f"the folder has more than {limits.max_files} files: stopped")
            complete = False  # files not reached are not gone: nothing is removed
            break
        seen.add(key)
        run.file(file, key, stored.get(key))
    gone = sorted(p for p, d in stored.items() if d.root == str(root) and p not in seen)
    if gone and complete:
        backend.remove(gone)
        run.report.removed.extend(gone)
    if embedder is not None:
        run.report.embedded += backfill(backend, embedder)
    return run.report


@dataclass(slots=True)
class _Ingest:
    """One ingest of a folder: where it writes, its bounds, and what it did."""

    backend: Backend
    root: Path
    limits: Limits
    embedder: Embedder | None
    report: IngestReport = field(default_factory=IngestReport)

    def _read(self, file: Path) -> bytes | str:
        """The file's bytes, or why it is not read."""
        if file.suffix.lower() not in SUFFIXES:
            return f"unsupported type {file.suffix or '(none)'!r}"
        if file.is_symlink() and not _inside(file, self.root):
            return "a link out of the folder"
        limit = self.limits.max_file_bytes
        try:
            size = file.stat().st_size
            if size > limit:
                return f"larger than {limit} bytes ({size})"
            with file.open("rb") as stream:
                data = stream.read(limit + 1)  # a file that grew meanwhile is not read whole
        except OSError as exc:
            return f"unreadable ({exc.strerror or exc})"
        return data if len(data) <= limit else f"larger than {limit} bytes"

    def file(self, file: Path, key: str, old: StoredDocument | None) -> None:
        """Store one file's passages, unless it is unchanged or unreadable."""
        data = self._read(file)
        if isinstance(data, str):
            self.report.skip(key, data)
            return
        sha = hashlib.sha256(data).hexdigest()
        if old is not None and old.sha == sha and old.root == str(self.root):
            self.report.unchanged.append(key)
            return
        extracted = extract(PurePosixPath(key), data)
        if extracted.skipped is not None:
            self.report.skip(key, extracted.skipped)
            return
        chunks = self._chunks(key, extracted.title, extracted.text)
        vectors = _embed(self.embedder, chunks) if self.embedder is not None else None
        self.backend.replace(
            StoredDocument(path=key, root=str(self.root), sha=sha), chunks, vectors
        )
        (self.report.added if old is None else self.report.updated).append(key)
        self.report.passages += len(chunks)
        self.report.embedded += 0 if vectors is None else len(vectors)

    def _chunks(self, key: str, title: str, text: str) -> list[StoredChunk]:
        limits = self.limits
        pieces = chunk_text(text, max_chars=limits.chunk_chars, overlap=limits.overlap)
        if len(pieces) > limits.max_chunks_per_file:
            log.warning(
                "%s: %d passages, only the first %d kept",
                key, len(pieces), limits.max_chunks_per_file,
            )  # fmt: skip
            pieces = pieces[: limits.max_chunks_per_file]
        return [
            StoredChunk(
                source_id=f"{key}#chunk-{n}",
                path=key,
                n=n,
                title=title,
                heading=piece.heading,
                text=piece.text,
                sha=hashlib.sha256(piece.text.encode()).hexdigest()[:16],
            )
            for n, piece in enumerate(pieces)
        ]


def _embed(embedder: Embedder, chunks: list[StoredChunk]) -> list[list[float]]:
    vectors: list[list[float]] = []
    for start in range(0, len(chunks), embedder.batch_size):
        batch = [embed_text(c) for c in chunks[start : start + embedder.batch_size]]
        vectors.extend([float(x) for x in v] for v in embedder.encode(batch))
    if len(vectors) != len(chunks):
        raise ConfigError(
            f"encoder {embedder.name!r} returned {len(vectors)} vectors for {len(chunks)} texts"
        )
    return vectors


def backfill(backend: Backend, embedder: Embedder) -> int:
    """Embed the passages that have no embedding yet; how many."""
    done = 0
    while batch := backend.without_vectors(embedder.batch_size * 4):
        vectors = _embed(embedder, batch)
        backend.set_vectors([(c.source_id, v) for c, v in zip(batch, vectors, strict=True)])
        done += len(batch)
    return done


__all__ = ["Limits", "backfill", "ingest_folder"]
