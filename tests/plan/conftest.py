import sys

import pytest


@pytest.fixture(autouse=True)
def _restore_sys_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """Loading a workflow puts its folder on sys.path; keep that within each test."""
    monkeypatch.setattr(sys, "path", list(sys.path))
