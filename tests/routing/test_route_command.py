"""`podium route` and agents files."""

from __future__ import annotations

import asyncio
import json
import sys
import textwrap
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from podium.cli import app
from podium.cli._store import user_store_path
from podium.plan import load_workflow
from podium.store import Outcome, open_store

TEAM = """\
agents:
  translator:
    description: Translates documents between English, French and German.
    capabilities: [language]
    model: test
    metadata: {cost_tier: low}
  writer:
    description: Writes reports, summaries and blog posts from notes.
    capabilities: [writing, language]
    model: test
    metadata: {expected_cost_usd: 0.02, expected_latency_s: 12}
  coder:
    description: Writes, reviews and fixes Python code and unit tests.
    capabilities: [code]
    model: test
"""


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "path", list(sys.path))
    monkeypatch.delenv("PODIUM_STORE", raising=False)
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def team(tmp_path: Path) -> Path:
    path = tmp_path / "team.yaml"
    path.write_text(TEAM, encoding="utf-8")
    return path


def invoke(*args: object) -> Result:
    result = CliRunner().invoke(app, [str(a) for a in args])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result


def route_json(*args: object) -> dict[str, object]:
    result = invoke("route", *args, "--json", "--relevance", "bm25")
    assert result.exit_code == 0, result.output
    payload: dict[str, object] = json.loads(result.stdout)
    return payload


def test_route_shows_the_choice_and_every_candidate(team: Path) -> None:
    result = invoke("route", team, "Translate the release notes into German", "-r", "bm25")
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    header = ["agent", "score", "relevance", "bm25", "success", "runs", "cost", "latency"]
    assert lines[0].split() == header
    assert lines[1].split()[0] == "translator"
    assert lines[1].split()[-1] == "chosen"
    coder = next(line for line in lines if line.startswith("coder"))
    assert coder.split()[1:] == ["shares", "no"]  # wrapped: "shares no words with the task"
    assert "→ translator: best score" in result.stdout
    assert not user_store_path().exists()  # no store was made to answer


def test_route_json(team: Path) -> None:
    payload = route_json(
        team, "Summarise these notes as a short report", "--capability", "language"
    )
    assert payload["agent"] == "writer"
    assert payload["kind"] == "language/not+report+short+summariz"
    assert "capability 'language'" in str(payload["reason"])
    candidates = payload["candidates"]
    assert isinstance(candidates, list)
    assert [c["agent"] for c in candidates] == ["translator", "writer"]
    writer = candidates[1]
    assert {"agent", "score", "relevance", "success", "cost", "latency", "runs"} <= set(writer)
    assert (writer["cost"], writer["cost_source"], writer["latency"]) == (0.02, "metadata", 12.0)


def test_route_cost_aware(team: Path) -> None:
    payload = route_json(team, "Handle this one", "-c", "language", "--cost-aware")
    assert payload["agent"] == "translator"
    assert str(payload["reason"]).startswith("cheapest")


def test_route_learns_from_the_store(team: Path, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'learned.db'}"
    text = "Translate the release notes into German"
    before = route_json(team, text, "-c", "language", "--store", url)
    assert before["agent"] == "translator"

    async def record() -> None:
        store = open_store(url)
        await store.open()
        kind = str(before["kind"])
        await store.record_outcomes(
            [Outcome(kind=kind, agent="translator", success=False) for _ in range(30)]
            + [Outcome(kind=kind, agent="writer", success=True) for _ in range(30)]
        )
        await store.close()

    asyncio.run(record())
    after = route_json(team, text, "-c", "language", "--store", url)
    assert after["agent"] == "writer"
    assert "over 30 runs" in str(after["reason"])


def test_route_reads_podium_store_and_the_per_user_store(
    team: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def record(url: str) -> None:
        store = open_store(url)
        await store.open()
        await store.record_outcomes([Outcome(kind="code/", agent="coder", success=True)])
        await store.close()

    user_store_path().parent.mkdir(parents=True, exist_ok=True)
    asyncio.run(record(str(user_store_path())))
    payload = route_json(team, "", "-c", "code")
    assert payload["candidates"][0]["runs"] == 1  # type: ignore[index]
    monkeypatch.setenv("PODIUM_STORE", "memory://")
    payload = route_json(team, "", "-c", "code")
    assert payload["candidates"][0]["runs"] == 0  # type: ignore[index]


def test_route_usage_errors(team: Path, tmp_path: Path) -> None:
    unknown = invoke("route", team, "x", "-c", "flying")
    assert unknown.exit_code == 2
    assert "no agent in" in unknown.stderr
    assert "capability 'flying' (capabilities: code, language, writing)" in unknown.stderr
    missing = invoke("route", tmp_path / "nope.yaml", "x")
    assert missing.exit_code == 2
    assert "no agents file" in missing.stderr
    empty = tmp_path / "empty.yaml"
    empty.write_text("name: nobody\n", encoding="utf-8")
    nobody = invoke("route", empty, "x")
    assert nobody.exit_code == 2
    assert "defines no agents" in nobody.stderr
    bad = tmp_path / "bad.yaml"
    bad.write_text("agents:\n  a:\n    model: test\n    cost: 3\n", encoding="utf-8")
    broken = invoke("route", bad, "x")
    assert broken.exit_code == 2
    assert "bad.yaml:4: agents.a: unknown key 'cost'" in broken.stderr


def test_route_takes_a_workflow_file() -> None:
    report = Path(__file__).parent.parent / "cli" / "data" / "report.yaml"
    payload = route_json(report, "Outline the topic")
    assert payload["agent"] == "planner"


def test_an_agents_file_keeps_metadata_and_tools(tmp_path: Path) -> None:
    (tmp_path / "team_tools.py").write_text(
        "def lookup(term: str) -> str:\n    'Look a term up.'\n    return term\n",
        encoding="utf-8",
    )
    path = tmp_path / "agents.yaml"
    path.write_text(
        textwrap.dedent(
            """\
            name: team
            description: the people
            tools:
              lookup: {python: "team_tools:lookup"}
            agents:
              librarian:
                model: test
                tools: [lookup]
                metadata: {cost_tier: medium, team: research}
            """
        ),
        encoding="utf-8",
    )
    (agent,) = load_workflow(path, require_tasks=False).agents
    assert agent.name == "librarian"
    assert dict(agent.metadata) == {"cost_tier": "medium", "team": "research"}
    assert [t.name for t in agent.tools] == ["lookup"]


def test_route_says_when_no_agent_fits_by_the_files_router_section(tmp_path: Path) -> None:
    path = tmp_path / "team.yaml"
    path.write_text(TEAM + "router: {relevance: bm25, min_score: 0.05}\n", encoding="utf-8")
    payload = route_json(path, "Bake a birthday cake")  # --relevance bm25: the same here
    assert (payload["agent"], payload["no_fit"], payload["relevance"]) == (None, True, "bm25")
    assert "best fit 0.000 is under the threshold 0.05 (BM25 relevance)" in str(payload["reason"])
    assert len(payload["candidates"]) == 3  # type: ignore[arg-type]
    shown = invoke("route", path, "Bake a birthday cake")
    assert shown.exit_code == 0
    assert "✗ no agent fits: best fit 0.000" in shown.stdout
    assert "relevance: auto" not in shown.stdout
    forced = route_json(path, "Bake a birthday cake", "--min-score", "0")
    assert forced["no_fit"] is False
    assert forced["agent"] in ("translator", "writer", "coder")
    fits = route_json(path, "Translate the notes into French")
    assert fits["agent"] == "translator"


def test_route_refuses_an_unknown_relevance(team: Path) -> None:
    result = invoke("route", team, "x", "--relevance", "magic")
    assert result.exit_code == 2
    assert "--relevance must be auto, hybrid, bm25 or embeddings, not 'magic'" in result.stderr
