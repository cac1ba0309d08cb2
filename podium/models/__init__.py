"""Models: the `Model` protocol and its messages, the providers, their errors, prices, cassettes.

Providers are imported on first use (``podium.models.OpenAIModel``, or a ``provider:model`` name
given to `resolve_model`), so the base install works without their SDKs.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from podium.models._allow import (
    ModelRequestsRefused,
    allow_model_requests,
    model_requests_allowed,
    override_allow_model_requests,
)
from podium.models._base import (
    AssistantMessage,
    Message,
    Model,
    ModelRequest,
    ModelResponse,
    ModelWrapper,
    SystemMessage,
    TokenUsage,
    ToolCall,
    ToolResultMessage,
    ToolSpec,
    UserMessage,
    approx_tokens,
)
from podium.models._cassette import CassetteDivergence, RecordingModel, ReplayModel
from podium.models._errors import (
    AuthenticationError,
    ContextTooLong,
    InvalidResponse,
    ProviderError,
    ProviderTimeout,
    ProviderUnavailable,
    RateLimited,
)
from podium.models._prices import (
    DEFAULT_PRICES,
    Price,
    PriceTable,
    cost_usd,
    default_prices,
    price_for,
)
from podium.models._registry import register_provider, resolve_model

if TYPE_CHECKING:
    from podium.models._anthropic import AnthropicModel
    from podium.models._local import LocalModel
    from podium.models._openai import OpenAIModel

_PROVIDERS = {
    "AnthropicModel": "podium.models._anthropic",
    "LocalModel": "podium.models._local",
    "OpenAIModel": "podium.models._openai",
}


def __getattr__(name: str) -> Any:
    """Import a provider class (and its SDK) the first time it is asked for."""
    module = _PROVIDERS.get(name)
    if module is None:
        raise AttributeError(f"module 'podium.models' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


__all__ = [
    "DEFAULT_PRICES",
    "AnthropicModel",
    "AssistantMessage",
    "AuthenticationError",
    "CassetteDivergence",
    "ContextTooLong",
    "InvalidResponse",
    "LocalModel",
    "Message",
    "Model",
    "ModelRequest",
    "ModelRequestsRefused",
    "ModelResponse",
    "ModelWrapper",
    "OpenAIModel",
    "Price",
    "PriceTable",
    "ProviderError",
    "ProviderTimeout",
    "ProviderUnavailable",
    "RateLimited",
    "RecordingModel",
    "ReplayModel",
    "SystemMessage",
    "TokenUsage",
    "ToolCall",
    "ToolResultMessage",
    "ToolSpec",
    "UserMessage",
    "allow_model_requests",
    "approx_tokens",
    "cost_usd",
    "default_prices",
    "model_requests_allowed",
    "override_allow_model_requests",
    "price_for",
    "register_provider",
    "resolve_model",
]
