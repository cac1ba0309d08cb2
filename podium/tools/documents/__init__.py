"""Documents: ingest a folder (Markdown, text, HTML, PDF) and search it, by BM25 and meaning.

```python
from podium.tools.documents import DocumentStore

async with DocumentStore.open("sqlite:///docs.db") as store:
    await store.ingest("handbook/")
    results = await store.search("how do I reset my password?", k=5)
    for passage in results.passages:
        print(passage.source_id, passage.text)
```

In a workflow file, ``tools: {docs: {use: documents, with: {ingest: handbook/}}}`` gives agents
``docs_search`` and ``docs_get``. SQLite is the embedded default; ``postgresql://…`` serves a
team. Embeddings (all-MiniLM-L6-v2) need the ``embeddings`` extra; without it, BM25 alone.
"""

from podium.tools.documents._embed import MINILM, Embedder, Encoder, minilm, minilm_installed
from podium.tools.documents._store import DocumentStore
from podium.tools.documents._tools import DocumentsOptions, document_tools, make
from podium.tools.documents._types import IngestReport, Passage, SearchMode, SearchResults

__all__ = [
    "MINILM",
    "DocumentStore",
    "DocumentsOptions",
    "Embedder",
    "Encoder",
    "IngestReport",
    "Passage",
    "SearchMode",
    "SearchResults",
    "document_tools",
    "make",
    "minilm",
    "minilm_installed",
]
