"""examples/research_report/workflow.yaml: internal notes through `documents`, a page through
`web_fetch`, every sentence of the report citing its source, unsupported claims rejected.

The end-to-end tests run the real CLI in a subprocess (on the local model once, on the test
model otherwise) and serve the web page from a real HTTP server on loopback; the in-process one
swaps the writer's model for a `FunctionModel` that invents some claims, to check they are
rejected.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from podium import Orchestrator, load_workflow
from podium.models import ModelRequest, UserMessage
from podium.testing import FunctionModel

ROOT = Path(__file__).parent.parent.parent
FOLDER = ROOT / "examples" / "research_report"
EXAMPLE = FOLDER / "workflow.yaml"
PODIUM = str(Path(sys.executable).parent / "podium")

PAGE = """<!DOCTYPE html><html><head><title>Tide facts for sailors</title></head><body>
<nav>Home | Sailing | Weather</nav>
<article><h1>Tide facts for sailors</h1>
<p>Sailors plan their passages around the tides, because a strong tidal stream against the
boat can halve its speed over the ground.</p>
<p>Tides work because the gravity of the Moon pulls the ocean into a bulge on the side of the
Earth facing the Moon and another bulge on the opposite side.</p>
</article></body></html>"""
PAGE_FACT = "Tides work because the gravity of the Moon pulls the ocean into a bulge"


class Site:
    """A loopback HTTP server with one page, counting the requests it gets."""

    def __init__(self) -> None:
        self.paths: list[str] = []
        site = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                site.paths.append(self.path)
                body = PAGE.encode()
                self.send_response(200 if self.path == "/page.html" else 404)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/page.html"


@pytest.fixture
def site() -> Iterator[Site]:
    s = Site()
    thread = threading.Thread(target=s.server.serve_forever, daemon=True)
    thread.start()
    try:
        yield s
    finally:
        s.server.shutdown()
        s.server.server_close()
        thread.join()


@pytest.fixture
def review(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    monkeypatch.setattr(sys, "path", [str(FOLDER), *sys.path])
    import report_review

    return report_review


def podium_run(
    tmp_path: Path, *inputs: str, model: str | None = None
) -> tuple[int, dict[str, Any], str]:
    """`podium run` of the example, its data in `tmp_path`: exit code, JSON result, stderr."""
    args = [PODIUM, "run", str(EXAMPLE), "--store", f"sqlite:///{tmp_path / 'p.db'}", "--json"]
    args += ["--input", f"data_dir={tmp_path / 'data'}"]
    for pair in inputs:
        args += ["--input", pair]
    if model is not None:
        args += ["--model", model]
    env = {**os.environ, "PODIUM_ALLOW_MODEL_REQUESTS": "1" if model is None else "0"}
    proc = subprocess.run(
        args, cwd=tmp_path, capture_output=True, text=True, timeout=900, check=False, env=env
    )
    assert proc.stdout, proc.stderr
    return proc.returncode, json.loads(proc.stdout), proc.stderr


def cited_report(output: str, passages: list[dict[str, str]]) -> dict[str, list[str]]:
    """The report's statements by the source they cite, after checking its shape: every
    sentence of every bullet ends with the id of a passage that was drafted from, and every
    source is listed once."""
    ids = [p["id"] for p in passages]
    bullets = re.findall(r"^- (.+)$", output.split("\nSources:\n", maxsplit=1)[0], flags=re.M)
    assert len(bullets) == len(passages), output
    statements: dict[str, list[str]] = {}
    for bullet in bullets:
        parts = re.findall(r"(.+?) \[([^\]]+)\](?: |$)", bullet)
        assert parts, bullet
        assert "".join(f"{s} [{i}] " for s, i in parts).strip() == bullet  # nothing uncited
        for sentence, source in parts:
            assert source in ids, (source, ids)
            statements.setdefault(source, []).append(sentence)
    listed = re.findall(r"^- \[([^\]]+)\] ", output.split("\nSources:\n")[1], flags=re.M)
    assert listed == ids
    assert set(statements) == set(ids)
    return statements


@pytest.mark.slow
def test_the_report_on_the_local_model(tmp_path: Path, review: ModuleType) -> None:
    code, result, stderr = podium_run(tmp_path)  # no inputs but where the data goes
    assert code == 0, stderr
    assert result["status"] == "succeeded"
    tasks = result["tasks"]
    passages = tasks["gather"]["output"]
    assert len(passages) == 3
    assert tasks["fetch"]["output"] == []  # no URL given: nothing fetched
    folders = {p["id"].split("/")[0] for p in passages}
    assert folders == {"sources", "corpus"}  # both folders answer "How do tides work?"
    assert all(re.fullmatch(r"[\w-]+/[\w.-]+#chunk-\d+", p["id"]) for p in passages)
    statements = cited_report(result["output"], passages)
    claims = tasks["review"]["output"]["claims"]
    assert [c["source"] for c in claims] == [p["id"] for p in passages]
    for claim, passage in zip(claims, passages, strict=True):
        said = " ".join(statements[passage["id"]])
        problem = review.check_claim(claim["claim"], passage["text"])[1]
        assert claim["verified"] is (problem is None)
        if claim["verified"]:  # kept as drafted
            assert said == claim["claim"]
        else:  # rejected: the passage speaks for itself
            assert said.startswith('"')
            assert said.strip('".') in " ".join(passage["text"].split())
    usage = result["usage"]
    assert usage["input_tokens"] > 0
    assert usage["output_tokens"] > 0
    assert usage["cost_usd"] == 0.0
    assert len(list((tmp_path / "data").glob("*.db"))) == 2  # a store per folder
    assert not (FOLDER / "sources" / ".podium").exists()  # nothing written beside the notes


@pytest.mark.slow
def test_a_page_on_an_allowed_host_is_read_and_cited(tmp_path: Path, site: Site) -> None:
    code, result, stderr = podium_run(
        tmp_path, f"url={site.url}", "allow_hosts=127.0.0.1", "embeddings=off", model="test"
    )
    assert code == 0, stderr
    assert site.paths == ["/page.html"]
    [page] = result["tasks"]["fetch"]["output"]
    assert page["id"] == site.url
    assert page["text"].startswith(PAGE_FACT)  # the paragraph that answers the question
    assert "Home | Sailing" not in page["text"]
    passages = result["tasks"]["gather"]["output"]
    assert passages[-1] == page
    statements = cited_report(result["output"], passages)
    assert statements[site.url][0].startswith(f'"{PAGE_FACT}')  # test drafts are rejected
    assert f"- [{site.url}] Tide facts for sailors (web page, untrusted)" in result["output"]
    # the same data again: the stores are reused, nothing is ingested twice
    code, again, _ = podium_run(tmp_path, "embeddings=off", model="test")
    assert code == 0
    internal = [p["id"] for p in passages if p["kind"] == "document"]
    assert [p["id"] for p in again["tasks"]["gather"]["output"]] == internal


@pytest.mark.slow
def test_a_page_off_the_allow_list_is_not_fetched(tmp_path: Path, site: Site) -> None:
    code, result, _ = podium_run(tmp_path, f"url={site.url}", "embeddings=off", model="test")
    assert code == 1
    assert result["status"] == "partially_succeeded"
    assert "allow_hosts=127.0.0.1" in result["tasks"]["fetch"]["error"]["message"]
    code, result, _ = podium_run(
        tmp_path, f"url={site.url}", "allow_hosts=example.org", "embeddings=off", model="test"
    )
    assert code == 1
    assert "127.0.0.1" in result["tasks"]["fetch"]["error"]["message"]
    assert site.paths == []  # never contacted
    passages = result["tasks"]["gather"]["output"]
    assert len(passages) == 3  # the internal sources still make the report
    cited_report(result["output"], passages)


UNSUPPORTED = {
    "Spring tides,": "Spring tides happen near new moon. Volcanoes erupt when magma rises.",
    "gravity of the Moon": "Tides work because the gravity of the Moon pulls the ocean 12 times.",
}


def restate_or_invent(request: ModelRequest) -> str:
    """The writer: restates its passage's first sentence, but invents for two passages."""
    prompt = [m.content for m in request.messages if isinstance(m, UserMessage)][-1]
    match = re.search(r"^Source passage: (.+?)\nState the main fact", prompt, flags=re.M | re.S)
    assert match is not None, prompt
    passage = " ".join(match.group(1).split())
    for cue, invented in UNSUPPORTED.items():
        if cue in passage:
            return json.dumps({"claim": invented})
    return json.dumps({"claim": re.split(r"(?<=\.) ", passage)[0]})


@pytest.mark.anyio
async def test_claims_their_passage_does_not_support_are_rejected(
    tmp_path: Path, site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "path", list(sys.path))  # the file imports its agents' modules
    workflow = load_workflow(EXAMPLE)
    writer = FunctionModel(restate_or_invent)
    agents = [dataclasses.replace(a, model=writer) if a.model else a for a in workflow.agents]
    inputs = {
        "question": "What causes spring tides?",
        "url": site.url,
        "allow_hosts": "127.0.0.1",
        "embeddings": "off",
        "data_dir": str(tmp_path),
    }
    async with Orchestrator(store="memory://") as orch:
        run = await orch.run(dataclasses.replace(workflow, agents=agents), inputs=inputs)
    assert run.status == "succeeded"
    passages = run.tasks["gather"]["output"]
    claims = {c["source"]: c for c in run.tasks["review"]["output"]["claims"]}
    [spring] = [p["id"] for p in passages if p["text"].startswith("Spring tides,")]
    assert claims[spring]["problem"].startswith("a sentence is not grounded")  # the 2nd one
    assert claims[site.url]["problem"] == "numbers not in its source: 12"
    kept = [c for c in claims.values() if c["verified"]]
    assert len(kept) == len(passages) - 2
    statements = cited_report(str(run.output), passages)
    for source, claim in claims.items():
        said = " ".join(statements[source])
        assert (said == claim["claim"]) is claim["verified"]
    for invented in UNSUPPORTED.values():
        assert invented.split(". ")[-1] not in str(run.output)
    assert "2 of 4 drafted claims are supported" in str(run.output)


def test_a_claim_must_be_grounded_sentence_by_sentence(review: ModuleType) -> None:
    source = "Spring tides happen near new moon and full moon, up to 16 metres at Fundy."
    check = review.check_claim
    assert check("Spring tides happen near new moon and full moon.", source)[1] is None
    assert check("Spring tides reach 16 metres at Fundy.", source)[1] is None
    assert check("Spring tides reach 18 metres at Fundy.", source)[1] == (
        "numbers not in its source: 18"
    )
    grounded_then_not = "Spring tides happen near full moon. Coffee grows on tropical hills."
    assert check(grounded_then_not, source)[1].startswith("a sentence is not grounded")
    assert check("   ", source)[1] == "empty claim"
    assert review.cite("One. Two!", "a.md#chunk-0") == "One. [a.md#chunk-0] Two! [a.md#chunk-0]"


@pytest.mark.slow
def test_a_broken_store_or_folder_is_named_with_what_to_do(tmp_path: Path) -> None:
    code, result, _ = podium_run(tmp_path, "embeddings=off", model="test")
    assert code == 0
    [store] = (tmp_path / "data").glob("sources-*.db")
    store.write_bytes(b"not a database" * 400)
    for extra in (".db-wal", ".db-shm"):
        store.with_suffix(extra).unlink(missing_ok=True)
    code, result, _ = podium_run(tmp_path, "embeddings=off", model="test")
    assert code == 1
    assert result["status"] == "failed"
    message = result["tasks"]["search"]["error"]["message"]
    assert f"{store} is only a cache of its folder: delete it and run again" in message
    store.unlink()
    code, result, _ = podium_run(tmp_path, "embeddings=off", model="test")
    assert code == 0  # rebuilt from the folder
    nowhere = json.dumps([str(tmp_path / "nope")])
    code, result, _ = podium_run(tmp_path, f"folders={nowhere}", model="test")
    assert code == 1
    assert "is not a folder" in result["tasks"]["search"]["error"]["message"]
    code, result, _ = podium_run(tmp_path, "question=" + "tides " * 100, model="test")
    assert code == 1
    assert "characters: at most 500" in result["tasks"]["search"]["error"]["message"]
