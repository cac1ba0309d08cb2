"""The shared document store: Postgres, ``tsvector`` with ``ts_rank_cd``, and pgvector or not.

Postgres's English configuration keeps accents ("crème" is not "creme"), so text is folded
(`fold`) before it is indexed, as query words are; the ``unaccent`` extension is not needed.

At setup it runs ``CREATE EXTENSION IF NOT EXISTS vector``. When that works (pgvector installed
on the server and the role may create it), embeddings are a ``vector`` column ranked by the
server (``<=>``, cosine distance). When it does not, they are ``real[]`` and cosine similarity is
computed here in numpy, like the SQLite store: over every embedding held in memory up to
`max_vector_rows`, past it over the full-text candidates only. A table keeps the column type it
was created with; `pgvector` says which one this store has.

Blocking psycopg on a small pool: `DocumentStore` calls it from worker threads.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import psycopg
from psycopg import sql
from psycopg_pool import ConnectionPool

from podium.exceptions import StoreError
from podium.tools.documents._backend import (
    StoredChunk,
    StoredDocument,
    Vector,
    chunk_from_row,
    fold,
)

log = logging.getLogger(__name__)
T = TypeVar("T")
Conn = psycopg.Connection[Any]

_TABLES = """
CREATE TABLE IF NOT EXISTS {s}.doc_meta (key text PRIMARY KEY, value text NOT NULL);
CREATE TABLE IF NOT EXISTS {s}.doc_documents (
    path text PRIMARY KEY, root text NOT NULL, sha text NOT NULL);
CREATE TABLE IF NOT EXISTS {s}.doc_chunks (
    id bigserial PRIMARY KEY, source_id text NOT NULL UNIQUE, path text NOT NULL, n int NOT NULL,
    title text NOT NULL, heading text NOT NULL, text text NOT NULL, sha text NOT NULL,
    embedding {vector_type}, tsv tsvector NOT NULL);
CREATE INDEX IF NOT EXISTS doc_chunks_tsv ON {s}.doc_chunks USING gin (tsv);
CREATE INDEX IF NOT EXISTS doc_chunks_path ON {s}.doc_chunks (path);
INSERT INTO {s}.doc_meta VALUES ('generation', '0') ON CONFLICT DO NOTHING;
"""
_COLUMNS = "source_id, path, n, title, heading, text, sha"


def _literal(vector: Vector) -> str:
    return "[" + ",".join(repr(float(x)) for x in vector) + "]"


class PostgresBackend:
    """Documents in a Postgres schema (created when missing).

    Args:
        url: a ``postgresql://`` URL.
        schema: the schema holding the tables (``doc_documents``, ``doc_chunks``, ``doc_meta``).
        max_vector_rows: embeddings held in memory at most, without pgvector.
    """

    def __init__(self, url: str, *, schema: str, max_vector_rows: int) -> None:
        self.schema = schema
        self.max_vector_rows = max_vector_rows
        self._s = sql.Identifier(schema)
        self._cache: Any = None
        kwargs: dict[str, Any] = {"autocommit": True, "connect_timeout": 5}
        self._pool = ConnectionPool(
            url, min_size=1, max_size=4, kwargs=kwargs, open=False, timeout=10,
            check=ConnectionPool.check_connection, name=f"documents-{schema}",
        )  # fmt: skip
        try:
            # one direct connection first: an unreachable server is told as it is, at once,
            # not as a pool that timed out
            with psycopg.connect(url, **kwargs) as conn:
                self.pgvector = self._setup(conn)
        except psycopg.Error as exc:
            raise StoreError(
                f"cannot open the document store in schema {schema!r}: {exc}"
            ) from None
        self._pool.open(wait=False)

    def _run(self, what: str, work: Callable[[Conn], T]) -> T:
        for attempt in (1, 2):
            try:
                with self._pool.connection() as conn:
                    return work(conn)
            except psycopg.OperationalError as exc:
                if attempt == 2:
                    raise StoreError(f"document store {self.schema!r}: {what}: {exc}") from None
                log.warning("document store %r: %s: %s; trying again", self.schema, what, exc)
            except psycopg.Error as exc:
                raise StoreError(f"document store {self.schema!r}: {what}: {exc}") from None
        raise AssertionError("unreachable")  # pragma: no cover

    def _q(self, text: str) -> sql.Composed:
        return sql.SQL(text).format(s=self._s)

    def _setup(self, conn: Conn) -> bool:
        vector_type = "real[]"
        # asked first, so that a server without pgvector does not log an error at every open
        available = "SELECT 1 FROM pg_available_extensions WHERE name = 'vector'"
        if conn.execute(available).fetchone() is None:
            log.info("no pgvector on the server: embeddings are real[], compared in numpy")
        else:
            try:
                conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
                vector_type = "vector"
            except psycopg.Error as exc:  # not allowed to create it, most likely
                log.info("pgvector not usable (%s): embeddings are real[]", exc)
        with conn.transaction():
            # concurrent setups of one schema would race on the catalog: one at a time
            conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (self.schema,))
            conn.execute(self._q("CREATE SCHEMA IF NOT EXISTS {s}"))
            ddl = _TABLES.replace("{vector_type}", vector_type)
            conn.execute(self._q(ddl))
        row = conn.execute(
            "SELECT udt_name FROM information_schema.columns WHERE table_schema = %s"
            " AND table_name = 'doc_chunks' AND column_name = 'embedding'",
            (self.schema,),
        ).fetchone()
        return row is not None and row[0] == "vector"

    def _bump(self, conn: Conn) -> None:
        conn.execute(self._q(
            "UPDATE {s}.doc_meta SET value = (value::bigint + 1)::text WHERE key = 'generation'"
        ))  # fmt: skip

    def documents(self) -> dict[str, StoredDocument]:
        query = self._q("SELECT path, root, sha FROM {s}.doc_documents")
        rows = self._run("reading documents", lambda c: c.execute(query).fetchall())
        return {p: StoredDocument(path=p, root=r, sha=s) for p, r, s in rows}

    def replace(
        self,
        document: StoredDocument,
        chunks: Sequence[StoredChunk],
        vectors: Sequence[Vector] | None,
    ) -> None:
        values: list[Any] = [None] * len(chunks)
        if vectors is not None:
            values = [_literal(v) if self.pgvector else list(v) for v in vectors]
        cast = "::vector" if self.pgvector else ""
        insert = self._q(
            f"INSERT INTO {{s}}.doc_chunks ({_COLUMNS}, embedding, tsv)"
            f" VALUES (%s, %s, %s, %s, %s, %s, %s, %s{cast}, setweight(to_tsvector('english', %s),"
            " 'A') || to_tsvector('english', %s))"
        )
        rows = [
            (c.source_id, c.path, c.n, c.title, c.heading, c.text, c.sha, v,
             fold(f"{c.title} {c.heading}"), fold(c.text))
            for c, v in zip(chunks, values, strict=True)
        ]  # fmt: skip

        def work(conn: Conn) -> None:
            with conn.transaction():
                self._delete(conn, [document.path])
                conn.execute(
                    self._q("INSERT INTO {s}.doc_documents VALUES (%s, %s, %s)"),
                    (document.path, document.root, document.sha),
                )
                with conn.cursor() as cursor:
                    cursor.executemany(insert, rows)
                self._bump(conn)

        self._run(f"storing {document.path!r}", work)

    def _delete(self, conn: Conn, paths: Sequence[str]) -> None:
        conn.execute(self._q("DELETE FROM {s}.doc_chunks WHERE path = ANY(%s)"), (list(paths),))
        conn.execute(self._q("DELETE FROM {s}.doc_documents WHERE path = ANY(%s)"), (list(paths),))

    def remove(self, paths: Sequence[str]) -> None:
        def work(conn: Conn) -> None:
            with conn.transaction():
                self._delete(conn, paths)
                self._bump(conn)

        self._run("removing documents", work)

    def keyword(self, words: Sequence[str], limit: int) -> list[tuple[str, float]]:
        if not words:
            return []
        # letters and digits only (the store's tokenizer): no tsquery operator gets through
        query = self._q(
            "SELECT source_id, ts_rank_cd(tsv, q) AS score"
            " FROM {s}.doc_chunks, to_tsquery('english', %s) q WHERE tsv @@ q"
            " ORDER BY score DESC, id LIMIT %s"
        )
        args = (" | ".join(words), limit)
        rows = self._run("full-text search", lambda c: c.execute(query, args).fetchall())
        return [(sid, float(score)) for sid, score in rows]

    def vector(
        self, query: Vector, limit: int, candidates: Sequence[str]
    ) -> list[tuple[str, float]]:
        if self.pgvector:
            statement = self._q(
                "SELECT source_id, 1 - (embedding <=> %s::vector) FROM {s}.doc_chunks"
                " WHERE embedding IS NOT NULL ORDER BY embedding <=> %s::vector, id LIMIT %s"
            )
            args = (_literal(query), _literal(query), limit)
            rows = self._run("vector search", lambda c: c.execute(statement, args).fetchall())
            return [(sid, float(score)) for sid, score in rows]
        from podium.tools.documents._vectors import MatrixCache, cosine_top

        if self._cache is None:
            self._cache = MatrixCache()
        found: list[tuple[str, float]] | None = self._cache.top(
            self.meta("generation") or "0", self._all_vectors, query, limit
        )
        if found is not None:
            return found
        statement = self._q(
            "SELECT source_id, embedding FROM {s}.doc_chunks"
            " WHERE embedding IS NOT NULL AND source_id = ANY(%s)"
        )
        rows = self._run(
            "reading embeddings", lambda c: c.execute(statement, (list(candidates),)).fetchall()
        )
        return cosine_top(rows, query, limit)

    def _all_vectors(self) -> list[tuple[str, Sequence[float]]] | None:
        def work(conn: Conn) -> list[tuple[str, Sequence[float]]] | None:
            where = " FROM {s}.doc_chunks WHERE embedding IS NOT NULL"
            total = conn.execute(self._q("SELECT count(*)" + where)).fetchone()
            if total is None or total[0] > self.max_vector_rows:
                return None
            with conn.cursor(binary=True) as cursor:  # floats as bytes: no text parsing
                return cursor.execute(self._q("SELECT source_id, embedding" + where)).fetchall()

        return self._run("reading embeddings", work)

    def chunks(self, source_ids: Sequence[str]) -> dict[str, StoredChunk]:
        query = self._q(f"SELECT {_COLUMNS} FROM {{s}}.doc_chunks WHERE source_id = ANY(%s)")
        rows = self._run(
            "reading passages", lambda c: c.execute(query, (list(source_ids),)).fetchall()
        )
        return {r[0]: chunk_from_row(r) for r in rows}

    def without_vectors(self, limit: int) -> list[StoredChunk]:
        query = self._q(
            f"SELECT {_COLUMNS} FROM {{s}}.doc_chunks WHERE embedding IS NULL ORDER BY id LIMIT %s"
        )
        rows = self._run("reading passages", lambda c: c.execute(query, (limit,)).fetchall())
        return [chunk_from_row(r) for r in rows]

    def set_vectors(self, vectors: Sequence[tuple[str, Vector]]) -> None:
        cast = "::vector" if self.pgvector else ""
        update = self._q(f"UPDATE {{s}}.doc_chunks SET embedding = %s{cast} WHERE source_id = %s")
        rows = [(_literal(v) if self.pgvector else list(v), sid) for sid, v in vectors]

        def work(conn: Conn) -> None:
            with conn.transaction(), conn.cursor() as cursor:
                cursor.executemany(update, rows)
                self._bump(conn)

        self._run("storing embeddings", work)

    def meta(self, key: str) -> str | None:
        query = self._q("SELECT value FROM {s}.doc_meta WHERE key = %s")
        row = self._run("reading settings", lambda c: c.execute(query, (key,)).fetchone())
        return None if row is None else str(row[0])

    def set_meta(self, key: str, value: str, *, clear_vectors: bool = False) -> None:
        upsert = self._q(
            "INSERT INTO {s}.doc_meta VALUES (%s, %s)"
            " ON CONFLICT (key) DO UPDATE SET value = excluded.value"
        )

        def work(conn: Conn) -> None:
            with conn.transaction():
                conn.execute(upsert, (key, value))
                if clear_vectors:
                    conn.execute(self._q("UPDATE {s}.doc_chunks SET embedding = NULL"))
                self._bump(conn)

        self._run("storing settings", work)

    def count(self) -> tuple[int, int]:
        query = self._q(
            "SELECT (SELECT count(*) FROM {s}.doc_documents), (SELECT count(*) FROM {s}.doc_chunks)"
        )
        row = self._run("counting", lambda c: c.execute(query).fetchone())
        return (0, 0) if row is None else (int(row[0]), int(row[1]))

    def close(self) -> None:
        self._pool.close()


__all__ = ["PostgresBackend"]
