"""Provider errors (hierarchy, retry-after parsing) and providers found by entry point."""

from __future__ import annotations

import sys
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from importlib.metadata import EntryPoint

import pytest

from podium.exceptions import ConfigError, ModelError, RunError
from podium.models import Model, resolve_model
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
from podium.models._registry import ENTRY_POINT_GROUP, ProviderRegistry
from podium.testing import FunctionModel, TestModel


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


def plugin_model(name: str) -> Model:
    """A provider of another distribution, found by its entry point."""
    return FunctionModel(lambda _request: name, name=name)


ENTRY_NOT_CALLABLE = "not a factory"


def entry(name: str, value: str) -> EntryPoint:
    return EntryPoint(name=name, value=value, group=ENTRY_POINT_GROUP)


def registry(*entries: EntryPoint) -> tuple[ProviderRegistry, list[int]]:
    """A registry over `entries`, and how many times it looked them up."""
    lookups: list[int] = []

    def discover() -> Iterable[EntryPoint]:
        lookups.append(1)
        return entries

    return ProviderRegistry(discover), lookups


def test_an_entry_point_provider_resolves_and_is_looked_up_once() -> None:
    plugins, lookups = registry(entry("plugin", f"{__name__}:plugin_model"))
    model = plugins.resolve("plugin:small")
    assert isinstance(model, FunctionModel)
    assert model.name == "test:small"  # a FunctionModel named after the rest of the name
    assert plugins.resolve("plugin:large").name == "test:large"
    assert lookups == [1]


def test_entry_points_are_not_looked_up_for_registered_providers() -> None:
    plugins, lookups = registry()
    plugins.register("mine", lambda name: TestModel())
    assert isinstance(plugins.resolve("mine:x"), TestModel)
    assert lookups == []


def test_a_registered_provider_wins_over_an_entry_point() -> None:
    plugins, _ = registry(entry("plugin", f"{__name__}:plugin_model"))
    plugins.register("plugin", lambda name: TestModel())
    assert isinstance(plugins.resolve("plugin:small"), TestModel)


def test_the_installed_test_provider_is_an_entry_point() -> None:
    assert isinstance(ProviderRegistry().resolve("test"), TestModel)
    assert isinstance(resolve_model("test:anything"), TestModel)


def test_a_provider_whose_packages_are_missing_is_a_config_error() -> None:
    plugins, _ = registry(entry("nosuch", "podium.models._no_such_provider:model_from_name"))
    with pytest.raises(ConfigError, match=r"pip install 'podium\[nosuch\]'"):
        plugins.resolve("nosuch:model")


def test_the_installed_openai_provider_without_its_sdk_names_the_extra(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "openai", None)  # `import openai` raises ImportError
    monkeypatch.delitem(sys.modules, "podium.models._openai", raising=False)
    with pytest.raises(
        ConfigError, match=r"model provider 'openai' needs extra packages \(.*openai"
    ):
        ProviderRegistry().resolve("openai:gpt-5.4-mini")


def test_a_plugin_whose_packages_are_missing_names_its_entry_point() -> None:
    plugins, _ = registry(entry("elsewhere", "no_such_package.models:build"))
    with pytest.raises(ConfigError, match=r"install what 'no_such_package.models:build' needs"):
        plugins.resolve("elsewhere:model")


def test_an_entry_point_that_is_not_a_factory_is_a_config_error() -> None:
    plugins, _ = registry(entry("constant", f"{__name__}:ENTRY_NOT_CALLABLE"))
    with pytest.raises(ConfigError, match=r"'constant'.* is not callable"):
        plugins.resolve("constant:x")


def test_an_unknown_provider_lists_the_known_ones() -> None:
    plugins, _ = registry(entry("plugin", f"{__name__}:plugin_model"))
    plugins.register("mine", lambda name: TestModel())
    with pytest.raises(
        ConfigError, match=r"unknown model provider 'nope' in 'nope:x' \(known: mine, plugin\)"
    ):
        plugins.resolve("nope:x")


def test_the_installed_providers_are_known() -> None:
    with pytest.raises(ConfigError) as info:
        ProviderRegistry().resolve("nope:x")
    assert "(known: anthropic, local, openai, test)" in str(info.value)
