"""The README's main job: examples/research_report.yaml, end to end through the CLI."""

from __future__ import annotations

import dataclasses
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from podium import Orchestrator, load_workflow
from podium.models import ModelRequest, UserMessage
from podium.testing import FunctionModel

ROOT = Path(__file__).parent.parent.parent
EXAMPLE = ROOT / "examples" / "research_report.yaml"
PODIUM = str(Path(sys.executable).parent / "podium")


def run_example(tmp_path: Path, *extra: str) -> dict[str, object]:
    proc = subprocess.run(
        [
            PODIUM,
            "run",
            str(EXAMPLE),
            "--store",
            f"sqlite:///{tmp_path / 'p.db'}",
            "--json",
            "--input",
            "question=What causes spring tides?",
            *extra,
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        env={**os.environ, "PODIUM_ALLOW_MODEL_REQUESTS": "1"},
    )
    assert proc.returncode == 0, proc.stderr
    result: dict[str, object] = json.loads(proc.stdout)
    return result


def check_report(result: dict[str, object]) -> str:
    assert result["status"] == "succeeded"
    report = str(result["output"])
    tasks = result["tasks"]
    assert isinstance(tasks, dict)
    retrieved = {p["id"] for p in tasks["retrieve"]["output"]}
    assert any(pid.startswith("tides#") for pid in retrieved)
    cited = re.findall(r"^\[(\d)\] Tides, (tides#\d)$", report, flags=re.M)
    assert cited, report
    assert {pid for _, pid in cited} <= retrieved
    bullets = re.findall(r"^- .+ \[(\d)\]$", report, flags=re.M)
    assert bullets == [n for n, _ in cited]  # every statement cites a retrieved source
    claims = tasks["review"]["output"]["claims"]
    assert len(claims) == len(retrieved)
    return report


@pytest.mark.slow
def test_main_job_on_the_test_model_quotes_ungrounded_drafts(tmp_path: Path) -> None:
    result = run_example(tmp_path, "--model", "test")
    report = check_report(result)
    assert "0 of 3 drafted claims are grounded" in report  # "aaaa…" drafts are not grounded
    assert result["usage"]["input_tokens"] > 0  # type: ignore[index]


@pytest.mark.slow
def test_main_job_on_the_local_model(tmp_path: Path) -> None:
    result = run_example(tmp_path)
    check_report(result)
    usage = result["usage"]
    assert isinstance(usage, dict)
    assert usage["input_tokens"] > 0
    assert usage["output_tokens"] > 0
    assert usage["cost_usd"] == 0.0
    drafts = [t for tid, t in result["tasks"].items() if tid.startswith("draft[")]  # type: ignore[union-attr]
    assert len(drafts) == 3
    assert all(isinstance(d["output"]["claim"], str) for d in drafts)


UNGROUNDED = "Spring weather brings warm winds and blossoming flowers."


def restate_or_invent(request: ModelRequest) -> str:
    """The writer's model: restates its source passage, except a passage about neap tides."""
    prompt = [m.content for m in request.messages if isinstance(m, UserMessage)][-1]
    match = re.search(r"^Source passage: (.+)$", prompt, flags=re.M)
    assert match is not None, prompt
    passage = match.group(1)
    claim = UNGROUNDED if "Neap" in passage else re.split(r"(?<=\.) ", passage)[0]
    return json.dumps({"claim": claim})


@pytest.mark.anyio
async def test_grounded_claims_are_kept_with_their_citations(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(sys, "path", list(sys.path))  # the file imports its agents' module
    workflow = load_workflow(EXAMPLE)
    writer = FunctionModel(restate_or_invent)
    agents = [dataclasses.replace(a, model=writer) if a.model else a for a in workflow.agents]
    question = "What causes spring tides and neap tides?"
    async with Orchestrator(store="memory://") as orch:
        run = await orch.run(
            dataclasses.replace(workflow, agents=agents), inputs={"question": question}
        )
    result: dict[str, object] = {"status": run.status, "output": run.output, "tasks": run.tasks}
    report = check_report(result)
    claims = run.tasks["review"]["output"]["claims"]
    grounded = [c for c in claims if c["verified"]]
    assert grounded
    assert len(grounded) == len(claims) - 1
    [invented] = [c for c in claims if not c["verified"]]
    assert invented["claim"] == UNGROUNDED
    sources = {p["id"]: p["text"] for p in run.tasks["retrieve"]["output"]}
    cited = dict(re.findall(r"^\[(\d)\] Tides, (tides#\d)$", report, flags=re.M))
    bullets = dict((n, text) for text, n in re.findall(r"^- (.+) \[(\d)\]$", report, flags=re.M))
    for n, source in cited.items():
        claim = next(c for c in claims if c["source"] == source)
        if claim["verified"]:  # kept as drafted, citing the passage it came from
            assert bullets[n] == claim["claim"]
            assert sources[source].startswith(claim["claim"])
        else:  # the source is quoted instead of the invented claim
            assert bullets[n].startswith('"')
            assert bullets[n][1:-1] in sources[source]
    assert UNGROUNDED not in report
    assert f"{len(grounded)} of {len(claims)} drafted claims are grounded" in report
