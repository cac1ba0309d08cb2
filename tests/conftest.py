"""Fixtures shared by every test."""

from __future__ import annotations

import os
from collections.abc import Iterator

import psycopg
import pytest

from podium.models import allow_model_requests, override_allow_model_requests
from podium.models._allow import ENV_VAR as ALLOW_MODEL_REQUESTS

DEFAULT_POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"
_SAVED_ALLOW = pytest.StashKey[str | None]()


def pytest_configure(config: pytest.Config) -> None:
    """No real model requests in the suite, nor in the processes it starts: tests use fakes and
    cassettes, and a test that means to call a real model says so with
    ``@pytest.mark.model_requests``."""
    config.stash[_SAVED_ALLOW] = os.environ.get(ALLOW_MODEL_REQUESTS)
    os.environ[ALLOW_MODEL_REQUESTS] = "0"
    allow_model_requests(False)


def pytest_unconfigure(config: pytest.Config) -> None:
    allow_model_requests(None)
    saved = config.stash.get(_SAVED_ALLOW, None)
    if saved is None:
        os.environ.pop(ALLOW_MODEL_REQUESTS, None)
    else:
        os.environ[ALLOW_MODEL_REQUESTS] = saved


@pytest.fixture(autouse=True)
def _model_requests(request: pytest.FixtureRequest) -> Iterator[None]:
    """Model requests are allowed in tests marked ``model_requests`` (a real local model or a
    provider behind a loopback server or a mock transport), and refused everywhere else."""
    if request.node.get_closest_marker("model_requests") is None:
        yield
        return
    with override_allow_model_requests(True):
        yield


@pytest.fixture(autouse=True)
def _user_data_home(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The user's data folder is a temporary one, for the tests and the processes they start:
    a command given no store uses the per-user store there, never the real one."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path_factory.mktemp("data-home")))


@pytest.fixture
def anyio_backend() -> str:
    """Async tests (``@pytest.mark.anyio``) run on asyncio."""
    return "asyncio"


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """The URL of the test Postgres server (``PODIUM_TEST_POSTGRES``), checked reachable once.

    An unreachable server fails the tests that need it, so a broken setup is never mistaken for a
    green run; set ``PODIUM_SKIP_POSTGRES=1`` to skip them instead.
    """
    url = os.environ.get("PODIUM_TEST_POSTGRES", DEFAULT_POSTGRES)
    try:
        with psycopg.connect(url, connect_timeout=5):
            pass
    except psycopg.Error as exc:
        if os.environ.get("PODIUM_SKIP_POSTGRES") == "1":
            pytest.skip(f"Postgres at {url} is unreachable and PODIUM_SKIP_POSTGRES=1: {exc}")
        pytest.fail(
            f"Postgres at {url} is unreachable ({exc}); start it, point PODIUM_TEST_POSTGRES at"
            " one, or set PODIUM_SKIP_POSTGRES=1 to skip the Postgres tests"
        )
    return url
