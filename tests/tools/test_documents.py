"""The documents tool: text out of files, passages, ingest limits, the tool kind in workflows.

The behaviour every backend shares (search quality, re-ingest, hybrid ranking) is in
``test_documents_contract.py``; this module also holds the corpus both use.
"""

from __future__ import annotations

import itertools
import json
import re
import shutil
import subprocess
import sys
import textwrap
import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from podium import Agent, Orchestrator, Plan, Task
from podium.events import ToolCalled
from podium.exceptions import ConfigError, PlanValidationError, StoreError
from podium.models import ModelRequest, ModelResponse, ToolCall, ToolResultMessage
from podium.plan import load_workflow_text
from podium.testing import FunctionModel
from podium.tools._standard import standard_tools
from podium.tools.documents import DocumentStore, Embedder, document_tools
from podium.tools.documents._chunk import chunk_text
from podium.tools.documents._extract import decode, extract

pytestmark = pytest.mark.anyio

CORPUS = Path(__file__).parent / "data" / "docs"

PDF_LINES = ["Quarterly invoice totals", "The Acme account owes 4,200 euros for the third quarter."]


def tiny_pdf(lines: Sequence[str], title: str) -> bytes:
    """A one-page PDF showing `lines` in Helvetica: the least a PDF reader must understand."""
    text = " ".join(f"({line}) Tj T*" for line in lines)
    content = f"BT /F1 12 Tf 14 TL 72 720 Td {text} ET"
    objects = [
        "<< /Type /Catalog /Pages 2 0 R >>",
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792]"
        " /Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>",
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        f"<< /Length {len(content)} >>\nstream\n{content}\nendstream",
        f"<< /Title ({title}) >>",
    ]
    out = b"%PDF-1.4\n"
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n{body}\nendobj\n".encode()
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{offset:010d} 00000 n \n".encode() for offset in offsets)
    trailer = f"<< /Size {len(objects) + 1} /Root 1 0 R /Info 6 0 R >>"
    return out + f"trailer\n{trailer}\nstartxref\n{xref}\n%%EOF\n".encode()


def make_corpus(folder: Path) -> Path:
    """The checked-in corpus plus what is better made than checked in: a PDF, a large text file,
    a binary file with a text suffix, an unsupported one, a non-UTF-8 file, a hidden file."""
    shutil.copytree(CORPUS, folder)
    (folder / "report.pdf").write_bytes(tiny_pdf(PDF_LINES, "Acme report"))
    paragraph = "Telemetry sample {n}: the turbine ran at {n} rpm without vibration alarms.\n\n"
    (folder / "huge.txt").write_text("".join(paragraph.format(n=n) for n in range(12_000)))
    (folder / "blob.txt").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)))
    (folder / "photo.jpg").write_bytes(b"\xff\xd8\xff\xe0" + bytes(512))
    (folder / "dessert.txt").write_bytes(
        "Crème brûlée: a café classic, 3 € a serving.".encode("cp1252")
    )
    (folder / ".secret.md").write_text("# Hidden\n\nnever ingested hiddenword")
    return folder


def topics(texts: list[str]) -> list[list[float]]:
    """A fake encoder: how much a text is about each of a few topics, plus a faint bag of its
    words (hashed into 32 buckets), so texts about none of the topics still differ."""
    vocab = {
        "security": {"password", "credentials", "login", "secret", "key", "keys", "vulnerability"},
        "baking": {"bread", "dough", "flour", "oven", "loaf", "sourdough", "starter", "baked"},
        "sky": {"aurora", "lights", "northern", "sky", "borealis", "polar"},
        "setup": {"install", "installing", "installer", "setup", "download"},
    }
    out = []
    for text in texts:
        words = [w.strip(".,:;!?()`'\"").lower() for w in text.split()]
        vector = [float(sum(w in v for w in words)) for v in vocab.values()] + [0.0] * 32
        for w in words:
            vector[4 + zlib.crc32(w.encode()) % 32] += 0.2
        out.append(vector)
    return out


TOPICS = Embedder("topics", topics)


# -- text out of files --------------------------------------------------------------------------


def test_html_loses_scripts_styles_and_keeps_headings() -> None:
    got = extract(Path("aurora.html"), (CORPUS / "aurora.html").read_bytes())
    assert got.title == "Watching the northern lights"
    assert "zebrafish" not in got.text
    assert "font-family" not in got.text
    assert "# Watching the northern lights" in got.text
    assert "## Photographing the aurora" in got.text
    assert "Kp index of four" in got.text


def test_text_that_is_not_utf8_or_not_text() -> None:
    assert decode("café".encode("cp1252")) == "café"
    assert decode("\ufeffhi".encode()) == "hi"
    assert decode("hé".encode("utf-16")) == "hé"
    assert extract(Path("a.txt"), b"abc\x00def").skipped == "binary (NUL bytes)"
    assert extract(Path("a.md"), b"  \n\n \t").skipped == "no text"
    broken = extract(Path("x.pdf"), b"%PDF-1.4 this is not really a pdf")
    assert broken.skipped is not None
    assert broken.skipped.startswith("unreadable PDF")


def test_a_pdf_is_read_with_its_title() -> None:
    got = extract(Path("r.pdf"), tiny_pdf(PDF_LINES, "Acme report"))
    assert got.title == "Acme report"
    assert "Acme account owes 4,200 euros" in got.text


def test_without_pypdf_a_pdf_is_skipped_not_fatal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pypdf", None)  # importing it raises ImportError
    got = extract(Path("r.pdf"), tiny_pdf(PDF_LINES, "Acme report"))
    assert got.skipped == "a PDF, and pypdf is not installed (pip install 'podium[tools]')"


def test_passages_follow_headings_within_a_bound_with_overlap() -> None:
    text = "# Guide\n\nIntro.\n\n## Part one\n\n" + " ".join(f"word{n}." for n in range(400))
    text += "\n\n### Detail\n\nDeep text.\n\n## Part two\n\nThe end."
    chunks = chunk_text(text, max_chars=300, overlap=60)
    assert [c.heading for c in chunks][:1] == ["Guide"]
    assert chunks[-1].heading == "Guide > Part two"
    assert any(c.heading == "Guide > Part one > Detail" for c in chunks)
    assert all(len(c.text) <= 300 for c in chunks)
    part_one = [c.text for c in chunks if c.heading == "Guide > Part one"]
    assert len(part_one) > 5
    for before, after in itertools.pairwise(part_one):
        assert after.split()[0] in before  # the next passage starts inside the previous one
    # a single word longer than the bound is cut, not kept whole
    assert all(len(c.text) <= 300 for c in chunk_text("x" * 5000, max_chars=300, overlap=0))


# -- ingest limits ------------------------------------------------------------------------------


async def test_ingest_skips_what_it_cannot_read_and_says_why(tmp_path: Path) -> None:
    folder = make_corpus(tmp_path / "docs")
    (tmp_path / "outside.md").write_text("# Outside\n\nexfiltrated words")
    (folder / "link.md").symlink_to(tmp_path / "outside.md")
    async with DocumentStore.open(tmp_path / "d.db", embeddings=False, max_file_bytes=500_000) as s:
        report = await s.ingest(folder)
        skipped = dict(report.skipped)
        assert skipped["blob.txt"] == "binary (NUL bytes)"
        assert skipped["photo.jpg"] == "unsupported type '.jpg'"
        assert skipped["link.md"] == "a link out of the folder"
        assert skipped["huge.txt"].startswith("larger than 500000 bytes")
        assert ".secret.md" not in skipped
        assert "hiddenword" not in json.dumps(
            [p.text for p in (await s.search("hiddenword")).passages]
        )
        assert sorted(report.added) == [
            "README.md", "aurora.html", "dessert.txt", "handbook/install.md",
            "handbook/security.md", "recipes.txt", "report.pdf",
        ]  # fmt: skip
        assert (await s.search("exfiltrated")).passages == []


async def test_a_folder_past_max_files_stops_and_removes_nothing(tmp_path: Path) -> None:
    folder = make_corpus(tmp_path / "docs")
    async with DocumentStore.open(tmp_path / "d.db", embeddings=False) as full:
        first = await full.ingest(folder)
    async with DocumentStore.open(tmp_path / "d.db", embeddings=False, max_files=2) as capped:
        report = await capped.ingest(folder)
        assert report.removed == []
        assert report.skipped[-1][1] == "the folder has more than 2 files: stopped"
        assert (await capped.count())[0] == len(first.added)


async def test_misuse_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="unknown document store URL"):
        DocumentStore.open("mysql://x")
    with pytest.raises(ConfigError, match="overlap"):
        DocumentStore.open(tmp_path / "d.db", chunk_chars=200, overlap=150)
    store = DocumentStore.open(tmp_path / "d.db", embeddings=False)
    with pytest.raises(ConfigError, match="not a folder"):
        await store.ingest(tmp_path / "nope")
    await store.close()
    with pytest.raises(ConfigError, match="closed"):
        await store.search("x")


def test_heavy_libraries_stay_unimported() -> None:
    code = (
        "import sys, podium, podium.tools, podium.tools.documents\n"
        "heavy = {'numpy', 'pypdf', 'psycopg', 'sentence_transformers', 'torch'}\n"
        "print(sorted(heavy & set(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# -- the tool kind ------------------------------------------------------------------------------


def flow(folder: Path, store: Path | str, extra: str = "") -> str:
    return textwrap.dedent(
        f"""\
        name: ask
        tools:
          docs: {{use: documents, with: {{ingest: "{folder}", store: "{store}", k: 3{extra}}}}}
        agents:
          reader:
            model: test
            tools: [docs_search, docs_get]
        tasks:
          - id: t
            agent: reader
        """
    )


def test_the_kind_from_a_workflow_file_and_its_bad_options(tmp_path: Path) -> None:
    wf = load_workflow_text(flow(tmp_path, tmp_path / "d.db"), path="f.yaml")
    [agent] = wf.agents
    assert [(t.name, t.effect) for t in agent.tools] == [
        ("docs_search", "read"),
        ("docs_get", "read"),
    ]
    assert agent.tools[0].parameters["properties"]["k"]["default"] == 3
    with pytest.raises(PlanValidationError) as info:
        load_workflow_text(flow(tmp_path, tmp_path / "d.db", ", colour: blue"), path="f.yaml")
    [problem] = [p for p in info.value.problems if p.where.startswith("tools.")]
    assert (problem.where, problem.line) == ("tools.docs.with", 3)
    assert "colour: Extra inputs are not permitted" in problem.message
    with pytest.raises(ConfigError, match="give `store`"):
        standard_tools("documents", {}, "docs")
    with pytest.raises(ConfigError, match="schema: String should match"):
        standard_tools("documents", {"store": "x.db", "schema": 'a"; drop'}, "docs")


async def test_an_agent_searches_and_cites_a_source_id(tmp_path: Path) -> None:
    folder = make_corpus(tmp_path / "docs")
    tools = standard_tools("documents", {"ingest": str(folder), "embeddings": "off"}, "docs")

    def model(request: ModelRequest) -> ModelResponse | str:
        results = [m for m in request.messages if isinstance(m, ToolResultMessage)]
        if not results:
            call = ToolCall(
                id="1", name="docs_search", arguments={"query": "rotate API keys", "k": 2}
            )
            return ModelResponse(tool_calls=(call,))
        if len(results) == 1:
            best = json.loads(results[0].content)["passages"][0]["source_id"]
            return ModelResponse(
                tool_calls=(ToolCall(id="2", name="docs_get", arguments={"source_id": best}),)
            )
        passage = json.loads(results[-1].content)
        return f"Create the new key first [{passage['source_id']}]"

    agent = Agent(name="reader", model=FunctionModel(model), tools=tuple(tools))
    async with Orchestrator(agents=[agent], store="memory://") as orch:
        result = await orch.run(
            Plan([Task(id="t", agent="reader", instruction="How to rotate keys?")])
        )
        journal = await orch.events(result.run_id)
    assert result.status == "succeeded"
    calls = [e for e in journal if isinstance(e, ToolCalled)]
    assert [(c.tool, c.error) for c in calls] == [("docs_search", None), ("docs_get", None)]
    assert calls[0].result["mode"] == "bm25"
    assert 1 <= len(calls[0].result["passages"]) <= 2
    cited = calls[1].result["source_id"]
    assert cited.startswith("handbook/security.md#chunk-")
    assert "revoke the old key" in calls[1].result["text"]
    assert result.output == f"Create the new key first [{cited}]"
    # the folder's store was made inside it, hidden, and is not ingested as a document
    assert (folder / ".podium" / "documents.db").is_file()


async def test_the_python_constructor_and_a_missing_passage(tmp_path: Path) -> None:
    folder = make_corpus(tmp_path / "docs")
    store = DocumentStore.open(tmp_path / "d.db", embeddings=TOPICS, max_passage_chars=120)
    search, get = document_tools(store, ingest=folder, name="kb", max_k=2)
    assert (search.name, get.name) == ("kb_search", "kb_get")
    found = await search.function(query="sourdough starter and the bread", k=50)
    assert len(found["passages"]) == 2  # k is capped by max_k
    assert found["passages"][0]["source_id"] == "recipes.txt#chunk-0"
    assert len(found["passages"][0]["text"]) <= 120
    assert found["passages"][0]["text"].endswith("…")
    with pytest.raises(Exception, match="no passage 'nope#chunk-0'"):
        await get.function(source_id="nope#chunk-0")
    await store.close()


async def test_the_python_example_of_the_docs_runs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    page = (Path(__file__).parents[2] / "docs" / "tools" / "documents.md").read_text()
    [code] = re.findall(r"```python\n(.*?)```", page, re.DOTALL)
    names: dict[str, Any] = {}
    exec(compile(code, "docs/tools/documents.md", "exec"), names)
    await names["main"](str(make_corpus(tmp_path / "docs")), str(tmp_path / "d.db"))
    out = capsys.readouterr().out
    assert "8 files added, 2 skipped" in out
    assert "handbook/security.md#chunk-1" in out


async def test_an_unreachable_postgres_is_a_store_error_at_once(tmp_path: Path) -> None:
    store = DocumentStore.open("postgresql://postgres@127.0.0.1:1/test", embeddings=False)
    for _ in range(2):  # not remembered as broken: each call tries again
        with pytest.raises(StoreError, match=r"cannot open the document store.*refused"):
            await store.search("x")
    await store.close()


async def test_relative_paths_are_from_the_workflow_files_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_corpus(tmp_path / "flows" / "kb")
    text = flow(Path("kb"), "sqlite:///index/kb.db", ", embeddings: off")
    (tmp_path / "flows" / "flow.yaml").write_text(text)
    monkeypatch.chdir(tmp_path)  # not the workflow's folder
    wf = load_workflow_text(text, path=str(tmp_path / "flows" / "flow.yaml"))
    search = next(t for t in wf.agents[0].tools if t.name == "docs_search")
    found = await search.function(query="sourdough")
    assert found["passages"][0]["source_id"] == "recipes.txt#chunk-0"
    assert (tmp_path / "flows" / "index" / "kb.db").is_file()
