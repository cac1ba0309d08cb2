"""The embedded document store: one SQLite file, FTS5 for BM25, embeddings as float32 BLOBs.

Python's `sqlite3` here cannot load extensions (no sqlite-vec), so cosine similarity is computed
in numpy over every embedding held in memory (`MatrixCache`): exact, and quick enough for tens of
thousands of passages. One connection serves every thread, one statement group at a time; WAL
mode lets other processes read while one ingests.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar

from podium.exceptions import StoreError
from podium.tools.documents._backend import (
    StoredChunk,
    StoredDocument,
    Vector,
    chunk_from_row,
)

T = TypeVar("T")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS doc_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS doc_documents (
    path TEXT PRIMARY KEY, root TEXT NOT NULL, sha TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS doc_chunks (
    id INTEGER PRIMARY KEY, source_id TEXT NOT NULL UNIQUE, path TEXT NOT NULL, n INTEGER NOT NULL,
    title TEXT NOT NULL, heading TEXT NOT NULL, text TEXT NOT NULL, sha TEXT NOT NULL,
    embedding BLOB);
CREATE INDEX IF NOT EXISTS doc_chunks_path ON doc_chunks (path);
CREATE VIRTUAL TABLE IF NOT EXISTS doc_fts USING fts5 (
    title, heading, text, tokenize = 'porter unicode61 remove_diacritics 2');
INSERT OR IGNORE INTO doc_meta VALUES ('generation', '0');
"""
_BUMP = "UPDATE doc_meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'generation'"
_CHUNK_COLUMNS = "source_id, path, n, title, heading, text, sha"


class SQLiteBackend:
    """Documents in a SQLite file (created with its folder when missing).

    Args:
        path: the database file.
        max_vector_rows: embeddings held in memory at most; past it, only full-text candidates
            are scored by similarity.
    """

    def __init__(self, path: str | Path, *, max_vector_rows: int) -> None:
        self.path = Path(path)
        self.max_vector_rows = max_vector_rows
        self._lock = threading.Lock()
        self._cache: Any = None  # a MatrixCache, made on the first vector search (numpy)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(
                self.path, isolation_level=None, check_same_thread=False, timeout=10
            )
            self._db.execute("PRAGMA journal_mode = WAL")
            self._db.execute("PRAGMA synchronous = NORMAL")
            self._db.executescript(_SCHEMA)
        except (OSError, sqlite3.Error) as exc:
            raise StoreError(f"cannot open the document store {str(self.path)!r}: {exc}") from None

    def _run(self, what: str, work: Callable[[sqlite3.Connection], T]) -> T:
        with self._lock:
            try:
                return work(self._db)
            except sqlite3.Error as exc:
                raise StoreError(f"document store {str(self.path)!r}: {what}: {exc}") from None

    @contextlib.contextmanager
    def _write(self, db: sqlite3.Connection) -> Iterator[None]:
        db.execute("BEGIN IMMEDIATE")
        try:
            yield
            db.execute(_BUMP)
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise

    def documents(self) -> dict[str, StoredDocument]:
        rows = self._run("reading documents", lambda db: db.execute(
            "SELECT path, root, sha FROM doc_documents").fetchall())  # fmt: skip
        return {p: StoredDocument(path=p, root=r, sha=s) for p, r, s in rows}

    def replace(
        self,
        document: StoredDocument,
        chunks: Sequence[StoredChunk],
        vectors: Sequence[Vector] | None,
    ) -> None:
        blobs: list[bytes | None] = [None] * len(chunks)
        if vectors is not None:
            from podium.tools.documents._vectors import to_blob

            blobs = [to_blob(v) for v in vectors]

        def work(db: sqlite3.Connection) -> None:
            with self._write(db):
                _delete(db, [document.path])
                db.execute(
                    "INSERT INTO doc_documents VALUES (?, ?, ?)",
                    (document.path, document.root, document.sha),
                )
                for chunk, blob in zip(chunks, blobs, strict=True):
                    cursor = db.execute(
                        f"INSERT INTO doc_chunks ({_CHUNK_COLUMNS}, embedding)"
                        " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                        (chunk.source_id, chunk.path, chunk.n, chunk.title, chunk.heading,
                         chunk.text, chunk.sha, blob),
                    )  # fmt: skip
                    db.execute(
                        "INSERT INTO doc_fts (rowid, title, heading, text) VALUES (?, ?, ?, ?)",
                        (cursor.lastrowid, chunk.title, chunk.heading, chunk.text),
                    )

        self._run(f"storing {document.path!r}", work)

    def remove(self, paths: Sequence[str]) -> None:
        def work(db: sqlite3.Connection) -> None:
            with self._write(db):
                _delete(db, paths)

        self._run("removing documents", work)

    def keyword(self, words: Sequence[str], limit: int) -> list[tuple[str, float]]:
        if not words:
            return []
        # every word quoted: FTS5's query syntax (NEAR, AND, column filters, *) stays out of reach
        match = " OR ".join('"' + w.replace('"', '""') + '"' for w in words)
        sql = (
            "SELECT c.source_id, -bm25(doc_fts, 2.0, 2.0, 1.0) AS score FROM doc_fts"
            " JOIN doc_chunks c ON c.id = doc_fts.rowid WHERE doc_fts MATCH ?"
            " ORDER BY score DESC, c.id LIMIT ?"
        )
        rows = self._run("full-text search", lambda db: db.execute(sql, (match, limit)).fetchall())
        return [(sid, float(score)) for sid, score in rows]

    def vector(
        self, query: Vector, limit: int, candidates: Sequence[str]
    ) -> list[tuple[str, float]]:
        from podium.tools.documents._vectors import MatrixCache, cosine_top

        if self._cache is None:
            self._cache = MatrixCache()
        generation = self.meta("generation") or "0"
        found: list[tuple[str, float]] | None = self._cache.top(
            generation, self._all_vectors, query, limit
        )
        if found is not None:
            return found
        marks = ",".join("?" * len(candidates))
        rows = self._run("reading embeddings", lambda db: db.execute(
            f"SELECT source_id, embedding FROM doc_chunks WHERE embedding IS NOT NULL"
            f" AND source_id IN ({marks})", list(candidates)).fetchall())  # fmt: skip
        return cosine_top(rows, query, limit)

    def _all_vectors(self) -> list[tuple[str, bytes]] | None:
        def work(db: sqlite3.Connection) -> list[tuple[str, bytes]] | None:
            sql = "SELECT count(*) FROM doc_chunks WHERE embedding IS NOT NULL"
            if db.execute(sql).fetchone()[0] > self.max_vector_rows:
                return None
            sql = "SELECT source_id, embedding FROM doc_chunks WHERE embedding IS NOT NULL"
            return db.execute(sql).fetchall()

        return self._run("reading embeddings", work)

    def chunks(self, source_ids: Sequence[str]) -> dict[str, StoredChunk]:
        marks = ",".join("?" * len(source_ids))
        sql = f"SELECT {_CHUNK_COLUMNS} FROM doc_chunks WHERE source_id IN ({marks})"
        rows = self._run(
            "reading passages", lambda db: db.execute(sql, list(source_ids)).fetchall()
        )
        return {row[0]: chunk_from_row(row) for row in rows}

    def without_vectors(self, limit: int) -> list[StoredChunk]:
        sql = f"SELECT {_CHUNK_COLUMNS} FROM doc_chunks WHERE embedding IS NULL ORDER BY id LIMIT ?"
        rows = self._run("reading passages", lambda db: db.execute(sql, (limit,)).fetchall())
        return [chunk_from_row(row) for row in rows]

    def set_vectors(self, vectors: Sequence[tuple[str, Vector]]) -> None:
        from podium.tools.documents._vectors import to_blob

        rows = [(to_blob(v), sid) for sid, v in vectors]

        def work(db: sqlite3.Connection) -> None:
            with self._write(db):
                db.executemany("UPDATE doc_chunks SET embedding = ? WHERE source_id = ?", rows)

        self._run("storing embeddings", work)

    def meta(self, key: str) -> str | None:
        row = self._run("reading settings", lambda db: db.execute(
            "SELECT value FROM doc_meta WHERE key = ?", (key,)).fetchone())  # fmt: skip
        return None if row is None else str(row[0])

    def set_meta(self, key: str, value: str, *, clear_vectors: bool = False) -> None:
        def work(db: sqlite3.Connection) -> None:
            with self._write(db):
                db.execute("INSERT OR REPLACE INTO doc_meta VALUES (?, ?)", (key, value))
                if clear_vectors:
                    db.execute("UPDATE doc_chunks SET embedding = NULL")

        self._run("storing settings", work)

    def count(self) -> tuple[int, int]:
        def work(db: sqlite3.Connection) -> tuple[int, int]:
            documents = db.execute("SELECT count(*) FROM doc_documents").fetchone()[0]
            return documents, db.execute("SELECT count(*) FROM doc_chunks").fetchone()[0]

        return self._run("counting", work)

    def close(self) -> None:
        with self._lock:
            self._db.close()


def _delete(db: sqlite3.Connection, paths: Sequence[str]) -> None:
    for path in paths:
        db.execute(
            "DELETE FROM doc_fts WHERE rowid IN (SELECT id FROM doc_chunks WHERE path = ?)", (path,)
        )
        db.execute("DELETE FROM doc_chunks WHERE path = ?", (path,))
        db.execute("DELETE FROM doc_documents WHERE path = ?", (path,))


__all__ = ["SQLiteBackend"]
