"""Which workflows a server offers: by name, by a path inside its locations, nothing else."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import httpx
import pytest

from podium import Agent, Orchestrator
from podium.exceptions import ConfigError
from podium.server import ServerSettings, create_app
from tests.server.conftest import DATA, ServerThread


def test_a_missing_location_is_refused() -> None:
    with pytest.raises(ConfigError, match="no such file or folder"):
        create_app(ServerSettings(store="memory://", workflows=(Path("/nonexistent/flows"),)))


def test_broken_files_are_listed_with_why_and_paths_are_confined(tmp_path: Path) -> None:
    flows = tmp_path / "flows"
    flows.mkdir()
    shutil.copy(DATA / "server_agents.py", flows)
    shutil.copy(DATA / "hello.yaml", flows)
    (flows / "broken.yaml").write_text("name: broken\ntasks: [{id: a, agent: nobody}]\n")
    (tmp_path / "outside.yaml").write_text((DATA / "hello.yaml").read_text())
    thread = ServerThread(create_app(ServerSettings(store="memory://", workflows=(flows,))))
    url = thread.start()
    try:
        with httpx.Client(base_url=url, timeout=60) as client:
            listed = {w["name"]: w for w in client.get("/api/workflows").json()["workflows"]}
            assert listed["hello"]["error"] is None
            assert listed["hello"]["tasks"] == ["outline", "write"]
            assert "nobody" in listed["broken"]["error"]
            broken = client.post("/api/runs", json={"workflow": "broken"})
            assert broken.status_code == 422
            by_path = client.post("/api/runs", json={"workflow": str(flows / "hello.yaml")})
            assert by_path.status_code == 201
            assert by_path.json()["workflow"] == "hello"
            outside = client.post("/api/runs", json={"workflow": str(tmp_path / "outside.yaml")})
            assert outside.status_code == 404
            climbing = client.post(
                "/api/runs", json={"workflow": str(flows / ".." / "outside.yaml")}
            )
            assert climbing.status_code == 404
    finally:
        thread.stop()


def test_an_orchestrator_of_ones_own_is_served_and_left_open(tmp_path: Path) -> None:
    def shout(call: object) -> str:
        return "HELLO"

    orch = Orchestrator(agents=[Agent(name="shouter", function=shout)], store="memory://")
    thread = ServerThread(create_app(orch, ServerSettings(workflows=(DATA,))))
    url = thread.start()
    try:
        with httpx.Client(base_url=url, timeout=60) as client:
            agents = [a["name"] for a in client.get("/api/agents").json()["agents"]]
            assert "shouter" in agents
            assert "writer" in agents
    finally:
        thread.stop()
    assert orch._opened  # the app opened it and, not owning it, left it open
    asyncio.run(orch.close())
