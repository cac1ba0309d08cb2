"""The documentation site builds with ``mkdocs build --strict``, offline, and says true things.

The site is built the way a reader builds it (a subprocess running mkdocs on mkdocs.yml), into
a temporary folder. Strict mode turns every broken link, missing page and docstring MkDocs or
mkdocstrings cannot read into a failure. The generated references are checked against the code
they come from, and the runnable examples of the pages are written out, loaded and run.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from html import unescape
from pathlib import Path

import pytest
from typer.main import get_command

import podium
from podium import Orchestrator, load_workflow
from podium.cli import app
from podium.plan._file_schema import workflow_schema

ROOT = Path(__file__).parents[1]
DOCS = ROOT / "docs"
API = {
    "podium": "podium",
    "runtime": "podium.runtime",
    "tools": "podium.tools",
    "testing": "podium.testing",
    "metrics": "podium.metrics",
    "telemetry": "podium.telemetry",
    "server": "podium.server",
}
CONCEPTS = ["plan", "run", "journal", "agents", "tools", "routing", "approvals", "reliability"]
TITLED_BLOCK = re.compile(r'^```\w+ title="([^"]+)"\n(.*?)^```$', re.MULTILINE | re.DOTALL)


def build(config_dir: Path, site: Path) -> subprocess.CompletedProcess[str]:
    """``mkdocs build --strict`` of the mkdocs.yml in `config_dir`, offline."""
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    env.pop("PYTHONWARNINGS", None)
    return subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
        cwd=config_dir,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("site")
    done = build(ROOT, out)
    assert done.returncode == 0, done.stderr[-4000:]
    assert "Aborted" not in done.stderr
    return out


def page(site: Path, path: str) -> str:
    return (site / path / "index.html").read_text(encoding="utf-8")


def text(html: str) -> str:
    return unescape(re.sub(r"<[^>]+>", "", html))


def test_the_main_pages_are_built(site: Path) -> None:
    for path in [
        "",
        "getting-started",
        "tutorials",
        "reference",
        *(f"concepts/{c}" for c in CONCEPTS),
    ]:
        assert (site / path / "index.html").is_file(), path
    for path in ["architecture", "tracing", "metrics", "server", "dashboard", "mcp", "a2a"]:
        assert (site / path / "index.html").is_file(), path
    assert not (site / "hooks.py").exists()
    # offline: no web font, no request to Google's font service
    assert "fonts.googleapis.com" not in page(site, "")


def test_the_workflow_file_reference_has_every_section_and_key(site: Path) -> None:
    schema = workflow_schema()
    html = page(site, "reference/workflow-file")
    words = text(html)
    for section in schema["properties"]:
        assert f"<code>{section}</code>" in html, section
    for name, body in schema["$defs"].items():
        assert f'id="{name.lower()}"' in html, name
        for key, prop in body.get("properties", {}).items():
            assert f"<code>{key}</code>" in html, (name, key)
            assert " ".join(prop["description"].split()[:4]).replace("`", "") in words, (name, key)
    assert "integer ≥ 1" in words  # bounds are shown (Agent.max_rounds)
    assert "number from 0 to 1" in words  # Retry.jitter


def _commands(group: object, path: str) -> Iterator[tuple[str, object]]:
    for name, command in getattr(group, "commands", {}).items():
        yield f"{path} {name}", command
        yield from _commands(command, f"{path} {name}")


def test_the_cli_reference_has_every_command_and_option(site: Path) -> None:
    html = page(site, "reference/cli")
    commands = list(_commands(get_command(app), "podium"))
    assert len(commands) > 15
    for path, command in commands:
        anchor = path.replace(" ", "-")
        assert f'id="{anchor}"' in html, path
        for param in getattr(command, "params", []):
            for opt in getattr(param, "opts", []):
                if opt.startswith("-"):
                    assert f"<code>{opt}</code>" in html, (path, opt)


@pytest.mark.parametrize(("file", "module"), API.items())
def test_the_api_reference_has_every_public_name(site: Path, file: str, module: str) -> None:
    html = page(site, f"reference/api/{file}")
    names = [n for n in __import__(module, fromlist=["__all__"]).__all__ if not n.startswith("__")]
    missing = [n for n in names if f'id="{module}.{n}"' not in html]
    assert missing == []


def test_a_page_added_to_tools_or_tutorials_is_in_the_nav(tmp_path: Path) -> None:
    copy = tmp_path / "project"
    copy.mkdir()
    shutil.copy(ROOT / "mkdocs.yml", copy / "mkdocs.yml")
    shutil.copytree(DOCS, copy / "docs")
    (copy / "docs" / "tools").mkdir(exist_ok=True)  # beside the tools' own pages
    (copy / "docs" / "tools" / "zeta.md").write_text("# Zeta tool\n\nComputes zeta.\n")
    (copy / "docs" / "tools" / "alpha.md").write_text("# Alpha tool\n\nSee [zeta](zeta.md).\n")
    (copy / "docs" / "tutorials" / "first.md").write_text("# A first tutorial\n")
    done = build(copy, tmp_path / "site")
    assert done.returncode == 0, done.stderr[-4000:]
    home = page(tmp_path / "site", "")
    assert "Alpha tool" in home
    assert "A first tutorial" in home
    assert home.index("Alpha tool") < home.index("Zeta tool")  # sorted by file name
    # a broken link in a new page fails the strict build
    (copy / "docs" / "tools" / "alpha.md").write_text("# Alpha\n\nSee [nothing](nothing.md).\n")
    broken = build(copy, tmp_path / "site2")
    assert broken.returncode != 0
    assert "nothing.md" in broken.stderr


def _blocks(page_path: Path) -> dict[str, str]:
    """The code blocks of a page that have a file name (``title="..."``), by name."""
    return dict(TITLED_BLOCK.findall(page_path.read_text(encoding="utf-8")))


@pytest.mark.parametrize(
    "page_path", [DOCS / "getting-started.md", *(DOCS / "concepts" / f"{c}.md" for c in CONCEPTS)]
)
def test_every_workflow_file_in_the_pages_loads(
    page_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "path", list(sys.path))  # loading puts the file's folder on it
    blocks = _blocks(page_path)
    for name, body in blocks.items():
        (tmp_path / name).write_text(body, encoding="utf-8")
    for name in blocks:
        if name.endswith(".yaml"):
            workflow = load_workflow(tmp_path / name)
            assert len(workflow.plan) >= 1


def test_the_getting_started_workflow_runs_as_the_page_says(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "path", list(sys.path))
    monkeypatch.setattr(sys, "modules", dict(sys.modules))  # notes_agents is imported fresh
    for name, body in _blocks(DOCS / "getting-started.md").items():
        (tmp_path / name).write_text(body, encoding="utf-8")

    async def main() -> podium.RunResult:
        async with Orchestrator(store="memory://") as orch:
            return await orch.run(
                load_workflow(tmp_path / "notes.yaml"), inputs={"audience": "pupils"}
            )

    result = asyncio.run(main())
    assert result.status == "succeeded"
    assert result.output == ["notes on tides for pupils", "notes on volcanoes for pupils"]


def test_the_getting_started_python_example_runs(tmp_path: Path) -> None:
    source = (DOCS / "getting-started.md").read_text(encoding="utf-8")
    blocks = _blocks(DOCS / "getting-started.md")
    (tmp_path / "notes_agents.py").write_text(blocks["notes_agents.py"], encoding="utf-8")
    (example,) = re.findall(r"^```python\n(import asyncio\n.*?)^```$", source, re.M | re.S)
    done = subprocess.run(
        [sys.executable, "-c", example],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(tmp_path), "PODIUM_STORE": ""},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip() == (
        "succeeded ['notes on tides for pupils', 'notes on volcanoes for pupils']"
    )
    assert (tmp_path / "podium.db").is_file()
