"""Resolve ``provider:model`` names to `Model` instances.

A provider is a factory under a prefix. Providers come from two places:

- **entry points** in the ``podium.models`` group, which is how Podium's own ``openai``,
  ``anthropic``, ``local`` and ``test`` providers are declared (in ``pyproject.toml``) and how a
  separate distribution adds one. They are looked up once, the first time a prefix is not
  registered, and a provider's module (and its SDK) is imported only when a name with its prefix
  is first resolved, so the base install works without the SDKs;
- `register_provider`, for code that registers a factory itself (it wins over an entry point).

```toml
[project.entry-points."podium.models"]
mine = "my_package.models:model_from_name"   # "mine:NAME" → model_from_name("NAME")
```
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from importlib.metadata import EntryPoint, entry_points
from typing import cast

from podium.exceptions import ConfigError
from podium.models._base import Model

ProviderFactory = Callable[[str], Model]
"""Builds a model from the part of the name after ``provider:``."""

ENTRY_POINT_GROUP = "podium.models"


def installed_providers() -> Iterable[EntryPoint]:
    """The ``podium.models`` entry points of the installed distributions."""
    return entry_points(group=ENTRY_POINT_GROUP)


class ProviderRegistry:
    """Model providers by prefix: registered in code, or found as entry points on first use.

    Args:
        discover: where entry points are found (default: the installed distributions); called
            at most once, the first time a name's prefix is not registered.
    """

    def __init__(self, discover: Callable[[], Iterable[EntryPoint]] = installed_providers) -> None:
        self.factories: dict[str, ProviderFactory] = {}
        self._discover = discover
        self._entry_points: dict[str, EntryPoint] | None = None

    def register(self, prefix: str, factory: ProviderFactory) -> None:
        """Make ``prefix:NAME`` resolve through `factory(NAME)`."""
        self.factories[prefix] = factory

    def resolve(self, spec: str | Model) -> Model:
        """Turn a ``provider:model`` name into a model; a `Model` passes through unchanged."""
        if not isinstance(spec, str):
            return spec
        prefix, _, rest = spec.partition(":")
        return self._factory(prefix, spec)(rest)

    def known(self) -> list[str]:
        """Every provider prefix: registered, or declared by an entry point."""
        return sorted({*self.factories, *self._found()})

    def _factory(self, prefix: str, spec: str) -> ProviderFactory:
        factory = self.factories.get(prefix)
        if factory is not None:
            return factory
        entry = self._found().get(prefix)
        if entry is None:
            known = ", ".join(self.known())
            raise ConfigError(f"unknown model provider {prefix!r} in {spec!r} (known: {known})")
        factory = self.factories[prefix] = _load(entry)
        return factory

    def _found(self) -> dict[str, EntryPoint]:
        if self._entry_points is None:
            found: dict[str, EntryPoint] = {}
            for entry in self._discover():
                found.setdefault(entry.name, entry)  # the first on sys.path wins, as imports do
            self._entry_points = found
        return self._entry_points


def _load(entry: EntryPoint) -> ProviderFactory:
    """The factory an entry point names: its module is imported here, SDK and all."""
    try:
        factory = entry.load()
    except ImportError as exc:
        raise ConfigError(
            f"model provider {entry.name!r} needs extra packages ({exc}): {_install_hint(entry)}"
        ) from exc
    if not callable(factory):
        raise ConfigError(
            f"the entry point of model provider {entry.name!r} ({entry.value!r}) is not callable: "
            "it must name a function of the model's name"
        )
    return cast(ProviderFactory, factory)


def _install_hint(entry: EntryPoint) -> str:
    # Podium's own providers each have the extra of their name (pyproject.toml)
    if entry.module.startswith("podium."):
        return f"pip install 'podium[{entry.name}]'"
    return f"install what {entry.value!r} needs"


_registry = ProviderRegistry()
_providers = _registry.factories
"""The process's providers by prefix (tests unregister theirs here)."""


def register_provider(prefix: str, factory: ProviderFactory) -> None:
    """Make ``prefix:NAME`` resolve through `factory(NAME)` (over any entry point of `prefix`)."""
    _registry.register(prefix, factory)


def resolve_model(spec: str | Model) -> Model:
    """Turn a ``provider:model`` name into a model; a `Model` passes through unchanged.

    Raises:
        ConfigError: the provider is unknown, or its extra packages are not installed.
    """
    return _registry.resolve(spec)
