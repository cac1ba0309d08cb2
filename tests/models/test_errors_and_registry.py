"""Provider errors (hierarchy, retry-after parsing) and lazy provider registration."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from podium.exceptions import ConfigError, ModelError, RunError
from podium.models import resolve_model
from podium.models._errors import (
    AuthenticationError,
    ContextTooLong,
    InvalidResponse,
    ProviderError,
    ProviderTimeout,
    ProviderUnavailable,
    RateLimited,
    retry_after_from_headers,
)
from podium.models._local import LocalModel
from podium.models._registry import _lazy


@pytest.mark.parametrize(
    ("error", "retryable"),
    [
        (AuthenticationError, False),
        (RateLimited, True),
        (ProviderTimeout, True),
        (ContextTooLong, False),
        (InvalidResponse, False),
        (ProviderUnavailable, True),
    ],
)
def test_provider_errors_are_model_errors_with_a_default_retryability(
    error: type[ProviderError], retryable: bool
) -> None:
    exc = error("it broke", provider="openai", status_code=500)
    assert isinstance(exc, ModelError)
    assert isinstance(exc, RunError)
    assert exc.retryable is retryable
    assert (exc.provider, exc.status_code) == ("openai", 500)
    assert str(exc) == "openai: it broke"
    assert error("x", provider="p", retryable=not retryable).retryable is not retryable


def test_rate_limited_carries_retry_after() -> None:
    assert RateLimited("slow down", provider="anthropic", retry_after_s=2.5).retry_after_s == 2.5
    assert RateLimited("slow down", provider="anthropic").retry_after_s is None


def test_retry_after_headers() -> None:
    assert retry_after_from_headers({"retry-after": "12"}) == 12.0
    assert retry_after_from_headers({"retry-after-ms": "250"}) == 0.25
    assert retry_after_from_headers({"retry-after-ms": "soon", "retry-after": "3"}) == 3.0
    assert retry_after_from_headers({"retry-after": "-4"}) == 0.0
    assert retry_after_from_headers({}) is None
    assert retry_after_from_headers({"retry-after": "whenever"}) is None


def test_retry_after_as_an_http_date() -> None:
    later = datetime.now(UTC) + timedelta(seconds=120)
    seconds = retry_after_from_headers({"retry-after": format_datetime(later, usegmt=True)})
    assert seconds is not None
    assert 100 < seconds <= 120
    past = format_datetime(datetime.now(UTC) - timedelta(hours=1), usegmt=True)
    assert retry_after_from_headers({"retry-after": past}) == 0.0


def test_local_names_resolve_lazily() -> None:
    model = resolve_model("local:smollm2")
    assert isinstance(model, LocalModel)
    assert (model.name, model.provider) == ("local:smollm2", "local")


def test_a_provider_whose_packages_are_missing_is_a_config_error() -> None:
    factory = _lazy("podium.models._no_such_provider", "nosuch")
    with pytest.raises(ConfigError, match=r"pip install 'podium\[nosuch\]'"):
        factory("model")
