"""Bearer tokens with roles; who did what is recorded; no open bind without auth."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from podium.cli import app
from podium.exceptions import ConfigError
from podium.server import AuthConfig, check_bind, load_auth, token_digest
from tests.server.conftest import Served, StartServer

TOKENS = {"viewer": "v-secret", "operator": "o-secret", "approver": "a-secret"}


def auth_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("TEST_APPROVER_TOKEN", TOKENS["approver"])
    path = tmp_path / "auth.yaml"
    path.write_text(
        "tokens:\n"
        f"  - {{user: vera, roles: [viewer], token_sha256: {token_digest(TOKENS['viewer'])}}}\n"
        f"  - {{user: otto, roles: [operator], token_sha256: {token_digest(TOKENS['operator'])}}}\n"
        "  - {user: alice, roles: [approver], token_env: TEST_APPROVER_TOKEN}\n",
        encoding="utf-8",
    )
    return path


@pytest.fixture
def guarded(start_server: StartServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Served:
    config: AuthConfig = load_auth(auth_file(tmp_path, monkeypatch))
    return start_server(auth=config, token=TOKENS["operator"])


def test_no_or_unknown_token_is_401(guarded: Served) -> None:
    for token in ("", "wrong"):
        response = guarded.client(token=token).get("/api/runs")
        assert response.status_code == 401
        assert response.headers["www-authenticate"] == "Bearer"
        assert response.json()["error"]["type"] == "unauthorized"


def test_roles_decide_what_each_caller_may_do(guarded: Served) -> None:
    viewer = guarded.client(token=TOKENS["viewer"])
    operator = guarded.client(token=TOKENS["operator"])
    approver = guarded.client(token=TOKENS["approver"])
    assert viewer.get("/api/me").json() == {"user": "vera", "roles": ["viewer"], "auth": True}
    assert viewer.get("/api/runs").status_code == 200
    refused = viewer.post("/api/runs", json={"workflow": "gated"})
    assert refused.status_code == 403
    assert refused.json()["error"]["type"] == "forbidden"
    assert approver.post("/api/runs", json={"workflow": "gated"}).status_code == 403

    run_id = guarded.park()
    assert operator.post(f"/api/runs/{run_id}/approvals/send/approve", json={}).status_code == 403
    decided = approver.post(f"/api/runs/{run_id}/approvals/send/approve", json={})
    assert decided.status_code == 200, decided.text
    assert decided.json()["approval"]["by"] == "alice"
    assert guarded.wait(run_id)["decisions"][0]["by"] == "alice"
    assert viewer.post(f"/api/runs/{run_id}/feedback", json={"score": 3}).status_code == 403
    rated = operator.post(f"/api/runs/{run_id}/feedback", json={"score": 3})
    assert rated.json()["by"] == "otto"


def test_the_stream_takes_the_token_as_a_query_parameter(guarded: Served) -> None:
    run_id = guarded.submit("hello")["run_id"]
    guarded.wait(run_id)
    anonymous = guarded.client(token="")
    assert anonymous.get(f"/api/runs/{run_id}/stream").status_code == 401
    assert anonymous.get("/api/runs", params={"access_token": TOKENS["viewer"]}).status_code == 401
    streamed = anonymous.get(
        f"/api/runs/{run_id}/stream", params={"access_token": TOKENS["viewer"]}
    )
    assert streamed.status_code == 200
    assert "RunSucceeded" in streamed.text


def test_a_non_local_bind_needs_auth(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigError, match="without auth"):
        check_bind("0.0.0.0", None)
    with pytest.raises(ConfigError, match="without auth"):
        check_bind("192.168.1.4", None)
    check_bind("127.0.0.1", None)
    check_bind("::1", None)
    check_bind("localhost", None)
    check_bind("0.0.0.0", load_auth(auth_file(tmp_path, monkeypatch)))
    result = CliRunner().invoke(app, ["serve", "--host", "0.0.0.0", "--store", "memory://"])
    assert result.exit_code == 2
    assert "refusing to listen on '0.0.0.0' without auth" in result.stderr


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("tokens:\n  - {user: a, roles: [viewer], token: plain}\n", "plain text"),
        ("tokens:\n  - {user: a, roles: [boss], token_sha256: " + "0" * 64 + "}\n", "roles"),
        ("tokens:\n  - {user: a, roles: [viewer], token_sha256: abc}\n", "64 hex"),
        ("tokens:\n  - {user: a, roles: [viewer], token_env: PODIUM_NOT_SET_X}\n", "not set"),
        ("tokens:\n  - {user: '', roles: [viewer], token_sha256: " + "0" * 64 + "}\n", "user"),
        ("tokens: []\n", "expected `tokens:`"),
        ("tokens: [unclosed\n", "not valid YAML"),
    ],
)
def test_bad_auth_files_are_refused(tmp_path: Path, text: str, problem: str) -> None:
    path = tmp_path / "auth.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=problem):
        load_auth(path)
    with pytest.raises(ConfigError, match="cannot read"):
        load_auth(tmp_path / "missing.yaml")
