"""A process-wide switch that refuses real model requests (for test suites).

Every provider that sends a request somewhere (OpenAI-compatible servers, Anthropic, the embedded
local model) calls `check_model_requests` first. A test suite turns requests off once, and turns
them back on only for the tests that mean to use a real model::

    # conftest.py
    def pytest_configure(config):
        podium.models.allow_model_requests(False)

    # a test that talks to a real model
    with podium.models.override_allow_model_requests(True):
        ...

Until `allow_model_requests` is called the environment decides: ``PODIUM_ALLOW_MODEL_REQUESTS=0``
(or ``false``, ``no``, ``off``) refuses requests, so a child process (``podium run``) can be told
too. The fakes of `podium.testing` and replayed cassettes never ask.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

from podium.exceptions import ModelError

ENV_VAR = "PODIUM_ALLOW_MODEL_REQUESTS"
_FALSE = frozenset({"0", "false", "no", "off"})

_allowed: bool | None = None
"""Set by `allow_model_requests`; ``None`` defers to `ENV_VAR`."""


class ModelRequestsRefused(ModelError):
    """A real model request was made while model requests are turned off."""

    retryable = False


def allow_model_requests(allowed: bool | None = True) -> None:
    """Allow or refuse real model requests in this process.

    Args:
        allowed: ``True`` or ``False``; ``None`` lets ``PODIUM_ALLOW_MODEL_REQUESTS`` decide
            again.
    """
    global _allowed  # noqa: PLW0603 - the switch is process-wide by design
    _allowed = allowed


def model_requests_allowed() -> bool:
    """Whether providers may send requests now (default: yes)."""
    if _allowed is not None:
        return _allowed
    return os.environ.get(ENV_VAR, "1").strip().lower() not in _FALSE


@contextmanager
def override_allow_model_requests(allowed: bool) -> Iterator[None]:
    """Allow (or refuse) model requests inside a ``with`` block, then restore the switch."""
    previous = _allowed
    allow_model_requests(allowed)
    try:
        yield
    finally:
        allow_model_requests(previous)


def check_model_requests(model_name: str) -> None:
    """Raise `ModelRequestsRefused` when requests are turned off.

    Raises:
        ModelRequestsRefused: with how to opt in.
    """
    if model_requests_allowed():
        return
    raise ModelRequestsRefused(
        f"model requests are turned off, so {model_name!r} was not called. Use a fake model "
        "(podium.testing) or a cassette; to really call it, opt in with "
        "podium.models.allow_model_requests(True), override_allow_model_requests(True), "
        f"the pytest marker @pytest.mark.model_requests, or {ENV_VAR}=1"
    )


__all__ = [
    "ENV_VAR",
    "ModelRequestsRefused",
    "allow_model_requests",
    "check_model_requests",
    "model_requests_allowed",
    "override_allow_model_requests",
]
