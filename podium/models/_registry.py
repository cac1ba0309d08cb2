"""Resolve ``provider:model`` names to `Model` instances.

Providers register a factory under their prefix. ``test`` (the `podium.testing.TestModel`) is always
available. ``openai``, ``anthropic`` and ``local`` are registered lazily: their module (and SDK) is
imported the first time a name with that prefix is resolved, so the base install works without them.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable

from podium.exceptions import ConfigError
from podium.models._base import Model

ProviderFactory = Callable[[str], Model]
"""Builds a model from the part of the name after ``provider:``."""

_providers: dict[str, ProviderFactory] = {}


def register_provider(prefix: str, factory: ProviderFactory) -> None:
    """Make ``prefix:NAME`` resolve through `factory(NAME)`."""
    _providers[prefix] = factory


def _test_model(_name: str) -> Model:
    from podium.testing import TestModel

    return TestModel()


register_provider("test", _test_model)


def _lazy(module: str, extra: str) -> ProviderFactory:
    """A factory that imports `module` (which registers the real factory) on first use."""

    def factory(name: str) -> Model:
        try:
            loaded = importlib.import_module(module)
        except ImportError as exc:
            raise ConfigError(
                f"model provider {extra!r} needs extra packages ({exc}): "
                f"pip install 'podium[{extra}]'"
            ) from exc
        build: ProviderFactory = loaded.model_from_name
        return build(name)

    return factory


register_provider("openai", _lazy("podium.models._openai", "openai"))
register_provider("anthropic", _lazy("podium.models._anthropic", "anthropic"))
register_provider("local", _lazy("podium.models._local", "local"))


def resolve_model(spec: str | Model) -> Model:
    """Turn a ``provider:model`` name into a model; a `Model` passes through unchanged."""
    if not isinstance(spec, str):
        return spec
    prefix, _, rest = spec.partition(":")
    factory = _providers.get(prefix)
    if factory is None:
        known = ", ".join(sorted(_providers))
        raise ConfigError(f"unknown model provider {prefix!r} in {spec!r} (known: {known})")
    return factory(rest)
