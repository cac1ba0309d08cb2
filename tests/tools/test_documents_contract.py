"""One contract for every document store backend: a SQLite file and Postgres (a schema of its
own per test). Embeddings come from a deterministic fake encoder (`topics`); the real
all-MiniLM-L6-v2 is exercised in ``test_documents_minilm.py``."""

from __future__ import annotations

import asyncio
import sqlite3
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest

from podium.exceptions import StoreError
from podium.tools.documents import DocumentStore, Embedder, SearchResults
from tests.tools.test_documents import PDF_LINES, TOPICS, make_corpus

pytestmark = pytest.mark.anyio

BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@dataclass
class Backend:
    """Opens stores on one storage (a file, a schema) and can break it."""

    name: str
    opener: Callable[..., DocumentStore]
    drop: Callable[[], None]

    def open(self, **options: object) -> DocumentStore:
        return self.opener(**options)


@pytest.fixture
def doc_schema(postgres_url: str) -> Iterator[str]:
    schema = f"podium_doctest_{uuid.uuid4().hex[:12]}"
    yield schema
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    if request.param == "sqlite":
        path = tmp_path / "documents.db"

        def drop_sqlite() -> None:
            with sqlite3.connect(path) as db:
                db.execute("DROP TABLE doc_chunks")

        return Backend(
            "sqlite", lambda **o: DocumentStore.open(f"sqlite:///{path}", **o), drop_sqlite
        )
    url = request.getfixturevalue("postgres_url")
    schema = request.getfixturevalue("doc_schema")

    def drop_postgres() -> None:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')

    return Backend(
        "postgres", lambda **o: DocumentStore.open(url, schema=schema, **o), drop_postgres
    )


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    return make_corpus(tmp_path / "corpus")


@pytest.fixture
async def store(backend: Backend, corpus: Path) -> AsyncIterator[DocumentStore]:
    async with backend.open(embeddings=TOPICS, max_file_bytes=2_000_000) as opened:
        yield opened


def paths(results: SearchResults) -> list[str]:
    return [p.path for p in results.passages]


QUERIES = {
    "how do I rotate the API keys": "handbook/security.md",
    "install Lantern as a Windows service": "handbook/install.md",
    "sourdough starter flour salt": "recipes.txt",
    "photograph the aurora with a tripod": "aurora.html",
    "Acme quarterly invoice": "report.pdf",
    "turbine vibration alarms rpm": "huge.txt",
    "creme brulee": "dessert.txt",
}


async def test_ingest_then_search_finds_the_expected_source_in_the_top_3(
    store: DocumentStore, corpus: Path
) -> None:
    report = await store.ingest(corpus)
    assert sorted(report.added) == [
        "README.md", "aurora.html", "dessert.txt", "handbook/install.md",
        "handbook/security.md", "huge.txt", "recipes.txt", "report.pdf",
    ]  # fmt: skip
    assert report.embedded == report.passages > 300  # the large file makes hundreds
    for query, expected in QUERIES.items():
        results = await store.search(query, k=3)
        assert results.mode == "hybrid", results.note
        assert expected in paths(results)[:3], (query, results)
    # what scripts and styles of the HTML page said is not searchable
    hidden = await store.search("zebrafishtracker font-family", k=10)
    assert [p.source_id for p in hidden.passages if p.bm25 is not None] == []


async def test_passages_carry_citable_ids_score_parts_and_text(
    store: DocumentStore, corpus: Path
) -> None:
    await store.ingest(corpus)
    [best, *_] = (await store.search("rotate API keys", k=3)).passages
    assert best.source_id == "handbook/security.md#chunk-1"
    assert best.title == "Security"
    assert best.heading == "Security > Rotating the API keys"
    assert best.bm25 is not None
    assert best.bm25 > 0
    assert best.bm25_rank == 1
    assert best.cosine is not None
    assert best.cosine_rank is not None
    assert best.score == pytest.approx(1 / 61 + 1 / (60 + best.cosine_rank))
    again = await store.get(best.source_id)
    assert again is not None
    assert (again.text, again.sha, again.score) == (best.text, best.sha, 0.0)
    pdf = await store.get("report.pdf#chunk-0")
    assert pdf is not None
    assert pdf.title == "Acme report"
    assert PDF_LINES[1] in pdf.text
    dessert = await store.get("dessert.txt#chunk-0")
    assert dessert is not None
    assert "Crème brûlée: a café classic, 3 €" in dessert.text
    assert await store.get("handbook/security.md#chunk-99") is None


async def test_embeddings_find_what_shares_no_word_with_the_query(
    backend: Backend, store: DocumentStore, corpus: Path
) -> None:
    await store.ingest(corpus)
    # no passage has the word "credentials": BM25 alone finds nothing, the embedding does
    hybrid = await store.search("credentials", k=3)
    assert paths(hybrid)[0] == "handbook/security.md"
    assert hybrid.passages[0].bm25 is None
    async with backend.open(embeddings=False) as plain:
        alone = await plain.search("credentials", k=3)
        assert (alone.mode, alone.passages) == ("bm25", [])
        assert alone.note == "BM25 only: embeddings are turned off"


async def test_reingesting_unchanged_files_is_a_no_op(store: DocumentStore, corpus: Path) -> None:
    first = await store.ingest(corpus)
    before = await store.count()
    ids = [p.source_id for p in (await store.search("the", k=50)).passages]
    second = await store.ingest(corpus)
    assert (second.added, second.updated, second.removed, second.passages) == ([], [], [], 0)
    assert sorted(second.unchanged) == sorted(first.added)
    assert await store.count() == before
    assert [p.source_id for p in (await store.search("the", k=50)).passages] == ids


async def test_a_changed_file_replaces_its_passages_and_a_gone_one_is_forgotten(
    store: DocumentStore, corpus: Path
) -> None:
    await store.ingest(corpus)
    documents, passages = await store.count()
    (corpus / "recipes.txt").write_text("Rye crackers\n\nRoll the rye dough thin and bake.")
    (corpus / "aurora.html").unlink()
    report = await store.ingest(corpus)
    assert (report.updated, report.removed, report.added) == (["recipes.txt"], ["aurora.html"], [])
    # the old words are gone; by meaning (dough is baking) it is still near
    old_words = await store.search("sourdough starter", k=10)
    assert [p.bm25 for p in old_words.passages if p.path == "recipes.txt"] == [None]
    assert paths(await store.search("rye crackers", k=3))[0] == "recipes.txt"
    assert await store.get("recipes.txt#chunk-1") is None  # the old file had two passages
    assert await store.get("aurora.html#chunk-0") is None
    assert (await store.count())[0] == documents - 1
    assert (await store.count())[1] < passages


async def test_another_encoder_means_bm25_until_ingested_again(
    backend: Backend, store: DocumentStore, corpus: Path
) -> None:
    await store.ingest(corpus)
    other = Embedder("other", TOPICS.encode)
    async with backend.open(embeddings=other) as reopened:
        stale = await reopened.search("credentials")
        assert stale.mode == "bm25"
        assert "made by 'topics', not 'other'" in stale.note
        report = await reopened.ingest(corpus)
        assert report.embedded == (await reopened.count())[1]
        assert (await reopened.search("credentials")).mode == "hybrid"


async def test_hostile_queries_are_words_not_syntax(store: DocumentStore, corpus: Path) -> None:
    await store.ingest(corpus)
    for query in [
        'NEAR("a" "b") OR title:* AND -x ^y',
        "'; DROP TABLE doc_chunks; --",
        "keys:* & !password | (",
        "",
        "\x00\x01 ünïcödé \U0001d518\U0001d52b \u202e",
        "word " * 5000,
    ]:
        results = await store.search(query)
        assert results.query == query
    assert paths(await store.search("'; keys --"))[0] == "handbook/security.md"


async def test_concurrent_searches_and_ingests_agree(store: DocumentStore, corpus: Path) -> None:
    await store.ingest(corpus)
    expected = [p.source_id for p in (await store.search("rotate API keys", k=5)).passages]
    results = await asyncio.gather(
        *(store.search("rotate API keys", k=5) for _ in range(20)), store.ingest(corpus)
    )
    for result in results[:-1]:
        assert isinstance(result, SearchResults)
        assert [p.source_id for p in result.passages] == expected


async def test_a_store_that_goes_away_is_a_store_error(
    backend: Backend, store: DocumentStore, corpus: Path
) -> None:
    await store.ingest(corpus)
    backend.drop()
    with pytest.raises(StoreError, match="full-text search"):
        await store.search("rotate API keys")


async def test_past_max_vector_rows_only_full_text_candidates_are_compared(
    backend: Backend, corpus: Path
) -> None:
    async with backend.open(embeddings=TOPICS, max_vector_rows=0) as store:
        await store.ingest(corpus)
        assert (await store.search("credentials")).passages == []  # no candidate to compare
        results = await store.search("rotate API keys", k=5)
        assert results.mode == "hybrid"
        assert results.passages[0].path == "handbook/security.md"
        assert all(p.bm25 is not None for p in results.passages)
        assert any(p.cosine is not None for p in results.passages)
