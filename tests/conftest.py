"""Fixtures shared by every test."""

from __future__ import annotations

import os

import psycopg
import pytest

DEFAULT_POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"


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
