"""Cosine similarity in numpy, for backends without a vector index (SQLite here; Postgres
without pgvector).

Every embedding is held in one float32 matrix (384 floats a passage for all-MiniLM-L6-v2: 1.5 KB,
so 10,000 passages are 15 MB) and reloaded only when the store's generation has moved. A query is
one matrix-vector product: a few milliseconds for tens of thousands of passages. Past `max_rows`
passages the matrix is not built and only the full-text candidates are scored.

Imported only when embeddings are in use: numpy comes with the ``embeddings`` extra.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence

import numpy as np
import numpy.typing as npt

from podium.tools.documents._backend import Vector

Matrix = npt.NDArray[np.float32]
RawVector = bytes | Sequence[float]
Loader = Callable[[], list[tuple[str, RawVector]] | None]
"""Every embedding of a store, or `None` when there are too many to hold."""

DEFAULT_MAX_ROWS = 200_000
"""Passages held in memory for exact cosine search at most (about 300 MB at 384 dimensions)."""


def to_blob(vector: Vector) -> bytes:
    """An embedding as float32 bytes (how SQLite stores it)."""
    return np.asarray(vector, dtype=np.float32).tobytes()


def _matrix(rows: list[tuple[str, RawVector]], dim: int) -> tuple[list[str], Matrix]:
    ids: list[str] = []
    vectors: list[Matrix] = []
    for source_id, raw in rows:
        v = np.frombuffer(raw, dtype=np.float32) if isinstance(raw, bytes) else np.asarray(raw)
        if v.shape == (dim,):  # an embedding of another size is from another encoder: ignored
            ids.append(source_id)
            vectors.append(v.astype(np.float32))
    if not vectors:
        return [], np.zeros((0, dim), dtype=np.float32)
    matrix = np.vstack(vectors)
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return ids, (matrix / norms).astype(np.float32)


def _top(ids: list[str], matrix: Matrix, query: Vector, limit: int) -> list[tuple[str, float]]:
    q = np.asarray(query, dtype=np.float32)
    q = q / (float(np.linalg.norm(q)) or 1.0)
    if not ids or limit <= 0:
        return []
    scores = matrix @ q
    take = min(limit, len(ids))
    best = np.argpartition(-scores, take - 1)[:take]
    best = best[np.argsort(-scores[best], kind="stable")]
    return [(ids[i], float(scores[i])) for i in best]


def cosine_top(
    rows: list[tuple[str, RawVector]], query: Vector, limit: int
) -> list[tuple[str, float]]:
    """The `limit` rows most similar to `query`, best first."""
    ids, matrix = _matrix(rows, len(query))
    return _top(ids, matrix, query, limit)


class MatrixCache:
    """Every embedding of a store in memory, reloaded when the generation moves."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._key: tuple[str, int] | None = None
        self._ids: list[str] = []
        self._matrix: Matrix | None = None

    def top(
        self, generation: str, load: Loader, query: Vector, limit: int
    ) -> list[tuple[str, float]] | None:
        """The `limit` passages most similar to `query`, or `None` when `load` found too many.

        `load` runs when `generation` (or the query's size) is new.
        """
        with self._lock:  # one reload at a time; searches meanwhile wait rather than reload too
            key = (generation, len(query))
            if key != self._key:
                rows = load()
                self._ids, self._matrix = ([], None) if rows is None else _matrix(rows, len(query))
                self._key = key
            ids, matrix = self._ids, self._matrix
        return None if matrix is None else _top(ids, matrix, query, limit)


__all__ = ["DEFAULT_MAX_ROWS", "MatrixCache", "cosine_top", "to_blob"]
