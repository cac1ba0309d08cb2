"""`podium.models` is the one public namespace of the models package."""

from __future__ import annotations

import pytest

import podium.models
from podium import exceptions
from podium.models import _anthropic, _local, _openai


def test_every_public_name_resolves() -> None:
    for name in podium.models.__all__:
        assert getattr(podium.models, name) is not None, name


def test_providers_are_the_implementations() -> None:
    assert podium.models.OpenAIModel is _openai.OpenAIModel
    assert podium.models.AnthropicModel is _anthropic.AnthropicModel
    assert podium.models.LocalModel is _local.LocalModel
    with pytest.raises(AttributeError, match="has no attribute 'GeminiModel'"):
        _ = podium.models.GeminiModel


@pytest.mark.parametrize(
    "name",
    [
        "ProviderError",
        "AuthenticationError",
        "RateLimited",
        "ProviderTimeout",
        "ContextTooLong",
        "InvalidResponse",
        "ProviderUnavailable",
        "ModelRequestsRefused",
        "CassetteDivergence",
    ],
)
def test_model_errors_are_in_the_error_tree(name: str) -> None:
    error = getattr(podium.models, name)
    assert issubclass(error, exceptions.ModelError)
    assert f"── {name} " in (exceptions.__doc__ or "")
