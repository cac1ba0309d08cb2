"""Typed errors from model providers, translated where the SDK's exceptions enter Podium.

```
ModelError                  (podium.exceptions)
└── ProviderError             a provider call failed (`provider`, `retryable`)
    ├── AuthenticationError     the key is missing, wrong or not allowed to use the model
    ├── RateLimited             the provider asked us to slow down (`retry_after_s` when it said)
    ├── ProviderTimeout         no answer in time
    ├── ContextTooLong          the request does not fit in the model's context window
    ├── InvalidResponse         the provider answered something that is not a usable completion
    └── ProviderUnavailable     could not connect, or the provider is down or overloaded
```

Podium's runtime owns retries, so SDK clients run with ``max_retries=0`` and the runtime reads
`ProviderError.retryable` (and `RateLimited.retry_after_s`) to decide what to do next.
"""

from __future__ import annotations

import email.utils
from collections.abc import Mapping
from datetime import UTC, datetime

from podium.exceptions import ModelError


class ProviderError(ModelError):
    """A call to a model provider failed.

    Attributes:
        provider: the provider prefix (``"openai"``, ``"anthropic"``, ``"local"``).
        retryable: whether trying the same request again later may succeed.
        status_code: the HTTP status the provider answered with, when there was one.
    """

    retryable_by_default = True

    def __init__(
        self,
        message: str,
        *,
        provider: str,
        retryable: bool | None = None,
        status_code: int | None = None,
    ) -> None:
        self.provider = provider
        self.retryable = self.retryable_by_default if retryable is None else retryable
        self.status_code = status_code
        super().__init__(f"{provider}: {message}")


class AuthenticationError(ProviderError):
    """The API key is missing, wrong, or not allowed to use this model."""

    retryable_by_default = False


class RateLimited(ProviderError):
    """The provider rejected the call for rate or quota reasons.

    Attributes:
        retry_after_s: how long the provider asked us to wait, when it said.
    """

    def __init__(
        self,
        message: str,
        *,
        provider: str,
        retry_after_s: float | None = None,
        retryable: bool | None = None,
        status_code: int | None = None,
    ) -> None:
        self.retry_after_s = retry_after_s
        super().__init__(message, provider=provider, retryable=retryable, status_code=status_code)


class ProviderTimeout(ProviderError):
    """The provider did not answer in time."""


class ContextTooLong(ProviderError):
    """The request does not fit in the model's context window; shorten it or pick another model."""

    retryable_by_default = False


class InvalidResponse(ProviderError):
    """The provider answered, but not with a usable completion (bad JSON, no content)."""

    retryable_by_default = False


class ProviderUnavailable(ProviderError):
    """The provider could not be reached, or said it is down or overloaded."""


def retry_after_from_headers(headers: Mapping[str, str]) -> float | None:
    """Seconds to wait from ``retry-after-ms`` or ``retry-after`` (seconds or an HTTP date)."""
    millis = headers.get("retry-after-ms")
    if millis is not None:
        try:
            return max(0.0, float(millis) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


__all__ = [
    "AuthenticationError",
    "ContextTooLong",
    "InvalidResponse",
    "ProviderError",
    "ProviderTimeout",
    "ProviderUnavailable",
    "RateLimited",
    "retry_after_from_headers",
]
