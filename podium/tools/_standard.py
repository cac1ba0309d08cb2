"""Podium's standard tools by name: what a workflow file's ``tools: {NAME: {use: KIND}}`` builds.

Each kind is a factory, imported only when a file uses it (a kind's dependencies live in an
extra), that takes the entry's ``with:`` options and returns the tools it makes. A factory
validates its options with a pydantic model (`options`) so a bad option is reported with its
field, and raises `ConfigError` for what it cannot set up.
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

import pydantic

from podium.exceptions import ConfigError
from podium.tools._tool import Tool

JSON = Any
Factory = Callable[[Mapping[str, JSON]], Sequence[Tool]]
Options = TypeVar("Options", bound=pydantic.BaseModel)

STANDARD: dict[str, str] = {
    # kind: "module:factory"
    "documents": "podium.tools.documents:make",
    "web_fetch": "podium.tools.web:make_fetch",
    "web_search": "podium.tools.web:make_search",
    "send_email": "podium.tools.email:make",
    "openapi": "podium.tools.openapi:make",
    "python_sandbox": "podium.tools.sandbox:make",
    "calculator": "podium.tools.calculator:make",
    "sql_query": "podium.tools.sql:make_query",
    "sql_write": "podium.tools.sql:make_write",
    "sql_schema": "podium.tools.sql:make_schema",
}
"""The standard tool kinds, each the import path of its factory."""


def options(model: type[Options], raw: Mapping[str, JSON], kind: str) -> Options:
    """`raw` (a ``with:`` mapping) validated by `model`; a `ConfigError` naming each bad field."""
    try:
        return model.model_validate(dict(raw))
    except pydantic.ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'with'}: {err['msg']}"
            for err in exc.errors()
        )
        raise ConfigError(f"tool kind {kind!r}: {problems}") from None


def standard_tools(
    kind: str, raw: Mapping[str, JSON], name: str, *, base_dir: Path | None = None
) -> list[Tool]:
    """The tools of standard `kind` set up with `raw` options, named after the entry `name`
    (one tool takes the name; several are ``{name}_{tool}``). A factory with a ``base_dir``
    parameter is given `base_dir`: the folder relative paths in its options are from (the
    workflow file's).

    Raises:
        ConfigError: an unknown kind, bad options, or a kind whose extra is not installed.
    """
    path = STANDARD.get(kind)
    if path is None:
        known = ", ".join(sorted(STANDARD)) or "none"
        raise ConfigError(f"unknown standard tool {kind!r} (standard tools: {known})")
    module, _, attr = path.partition(":")
    try:
        factory: Factory = getattr(importlib.import_module(module), attr)
    except ImportError as exc:
        raise ConfigError(
            f"standard tool {kind!r} needs {exc.name!r}, which is not installed"
            " (see the tool's documentation for its extra)"
        ) from None
    takes_dir = "base_dir" in inspect.signature(factory).parameters
    made = list(factory(raw, base_dir=base_dir) if takes_dir else factory(raw))  # type: ignore[call-arg]
    if len(made) == 1:
        return [dataclasses.replace(made[0], name=name)]
    return [dataclasses.replace(t, name=f"{name}_{t.name}") for t in made]


__all__ = ["STANDARD", "options", "standard_tools"]
