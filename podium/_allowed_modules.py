"""Which modules a ``module:function`` reference may load: a deployment's allow-list.

A workflow file (or an agents file, or ``--mount``) that names Python code makes Podium import
it, and importing runs the module's top-level code. `PODIUM_ALLOWED_MODULES` lets a deployment
say which modules that may be:

- unset: any module (Podium's behaviour without an allow-list);
- ``mycompany.agents,tools``: those modules and their submodules, nothing else;
- ``none``: no Python code at all.

The check is made on the reference's text, before anything is imported, and again on what the
attribute walk after the colon reaches (``mycompany.agents:os.system`` passes through ``os``;
``mycompany.agents:system``, after ``from os import system``, is a function of ``os``): a
reference names a function or class that an allowed module defines, not whatever it imported.

Under an allow-list, the workflow's folder is not put on ``sys.path``: an installed module always
wins over a file of the same name there, and a folder module is found only by an allowed
top-level name (`make_findable`), so a file the author drops next to the workflow cannot stand in
for a module someone else imports later.
"""

from __future__ import annotations

import importlib.abc
import importlib.util
import os
import sys
import types
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from importlib.machinery import ModuleSpec, PathFinder

from podium.exceptions import ConfigError

ENV = "PODIUM_ALLOWED_MODULES"
"""The environment variable of a deployment's allow-list."""

NONE = "none"
"""The value of `ENV` that allows no Python code (unset allows any)."""

PODIUM_REFERENCES = frozenset({"podium.a2a._client:A2AAgent", "podium.verify:complete"})
"""Podium's own references that workflow files use (an ``a2a:`` agent, the shipped rule):
always allowed, as Podium itself is."""


@dataclass(frozen=True, slots=True)
class AllowedModules:
    """The modules references may name: each name allows itself and its submodules.

    Attributes:
        names: the allowed module names (empty: no Python code at all).
        source: where the list came from, for messages (`ENV` or ``allowed_modules``).
    """

    names: frozenset[str]
    source: str = ENV

    def permits(self, module: str) -> bool:
        """Whether `module` is one of `names` or a submodule of one."""
        return any(module == name or module.startswith(f"{name}.") for name in self.names)

    def refusal(self, spec: str) -> str | None:
        """Why `spec` (``module:attr``) may not be imported, judged on its text alone."""
        if spec in PODIUM_REFERENCES:
            return None
        module, _, attr = spec.partition(":")
        if not self.permits(module):
            return f"{spec!r} names module {module!r}, {self._not_allowed()}"
        dunder = next((part for part in attr.split(".") if part.startswith("__")), None)
        if dunder is not None:
            return (
                f"{spec!r} reaches {dunder!r}: with {self.source} set, a reference names a "
                "function or class of an allowed module, not a special attribute"
            )
        return None

    def refusal_of(self, spec: str, reached: Sequence[object]) -> str | None:
        """Why what importing `spec` reached may not be used: a module walked through, or a
        target defined outside the allowed modules. `reached`: the object of each attribute
        after the colon, the target last."""
        if spec in PODIUM_REFERENCES or not reached:
            return None
        for step in reached:
            if isinstance(step, types.ModuleType) and not self.permits(step.__name__):
                return f"{spec!r} goes through module {step.__name__!r}, {self._not_allowed()}"
        target = reached[-1]
        home = _home(target)
        return None if home is None else self.refusal_of_origin(spec, [home])

    def refusal_of_origin(self, spec: str, origins: Sequence[str]) -> str | None:
        """Why `spec` may not be used when what it names comes from one of `origins` (the
        module that defines it; for an import seen in source, the candidates)."""
        if spec in PODIUM_REFERENCES or not origins or any(map(self.permits, origins)):
            return None
        home = origins[0]
        return (
            f"{spec!r} is defined in module {home!r} (an allowed module imported it), "
            f"{self._not_allowed()}; name it where it is defined, if that module is trusted"
        )

    def shown(self) -> str:
        """The list as a person would write it in `ENV`."""
        return ",".join(sorted(self.names)) or NONE

    def _not_allowed(self) -> str:
        if not self.names:
            empty = f"is {NONE!r}" if self.source == ENV else "is empty"
            return f"and {self.source} {empty}: workflow files may not load Python code here"
        return (
            f"which {self.source} does not allow (it allows {self.shown()}); add the module "
            "there if you trust its code"
        )


def _home(target: object) -> str | None:
    """The module that defines `target`, when it is a definition (a function, a class, a
    method); ``"?"`` when such a thing does not say. ``None`` for other callables (an instance
    an allowed module made, a `functools.partial`): what made them is allowed code."""
    if isinstance(target, types.MethodType):
        target = target.__func__
    if isinstance(target, types.FunctionType | types.BuiltinFunctionType | type):
        home = getattr(target, "__module__", None)
        return home if isinstance(home, str) else "?"
    return None


def parse(text: str, *, source: str = ENV) -> AllowedModules:
    """`text` as `ENV` holds it: comma-separated module names, or ``none``.

    Raises:
        ConfigError: the text is blank, or a name is not a module name.
    """
    if not text.strip():
        raise ConfigError(
            f"{source} is set but empty: list the modules workflow files may load code from "
            f"(comma-separated, e.g. mycompany.agents,tools), write {NONE!r} to allow no Python "
            "code, or unset it to allow any module"
        )
    if text.strip().lower() == NONE:
        return AllowedModules(frozenset(), source)
    names = [name.strip() for name in text.split(",") if name.strip()]
    if any(name.lower() == NONE for name in names):
        raise ConfigError(
            f"{source}={text!r}: {NONE!r} allows no module, so it stands alone; list modules "
            f"or write {NONE!r}, not both"
        )
    return of(names, source=source)


def of(names: Collection[str], *, source: str = "allowed_modules") -> AllowedModules:
    """An allow-list of `names` (empty: no Python code).

    Raises:
        ConfigError: `names` is a string, or one of them is not a module name.
    """
    if isinstance(names, str):
        raise ConfigError(
            f"{source} takes a collection of module names, not the string {names!r}: "
            f"write [{names!r}]"
        )
    for name in names:
        if isinstance(name, str) and name.endswith(".*"):
            raise ConfigError(
                f"{source}: {name!r} is not a module name; write {name[:-2]!r}, which allows "
                "its submodules too"
            )
        if not isinstance(name, str) or not all(p.isidentifier() for p in name.split(".")):
            raise ConfigError(
                f"{source}: {name!r} is not a module name (dotted identifiers, e.g. "
                "mycompany.agents; or none)"
            )
    return AllowedModules(frozenset(names), source)


def from_environment(environ: Mapping[str, str] | None = None) -> AllowedModules | None:
    """The deployment's allow-list (`ENV`); ``None`` when it is unset (any module)."""
    text = (os.environ if environ is None else environ).get(ENV)
    return None if text is None else parse(text)


def allowed_from(given: Collection[str] | None) -> AllowedModules | None:
    """The allow-list a caller gave (``None``: the environment's, `from_environment`)."""
    return from_environment() if given is None else of(given)


# -- finding allowed modules in the workflow's folder, without sys.path ----------------------


class _FolderFinder(importlib.abc.MetaPathFinder):
    """Finds the top-level modules `make_findable` registered, each in its folder.

    It sits last on ``sys.meta_path``: whatever the usual finders find (the standard library,
    installed packages) wins. Submodules are found through their package's ``__path__``.
    """

    def __init__(self) -> None:
        self.roots: dict[str, str] = {}  # top-level name → its folder

    def find_spec(
        self,
        fullname: str,
        path: Sequence[str] | None,
        target: types.ModuleType | None = None,
    ) -> ModuleSpec | None:
        folder = self.roots.get(fullname)
        if folder is None or path is not None:
            return None
        return PathFinder.find_spec(fullname, [folder])


_FINDER = _FolderFinder()


def make_findable(module: str, folders: Sequence[str], allowed: AllowedModules) -> None:
    """Let `module` be imported from the first of `folders` that has it, if its top-level name
    is allowed and nothing installed has that name (an installed module is never shadowed)."""
    top = module.partition(".")[0]
    if not allowed.permits(top) or top in sys.modules or top in _FINDER.roots:
        return
    try:
        if importlib.util.find_spec(top) is not None:
            return
    except (ImportError, ValueError):
        return
    for folder in folders:
        if PathFinder.find_spec(top, [folder]) is not None:
            _FINDER.roots[top] = folder
            if _FINDER not in sys.meta_path:
                sys.meta_path.append(_FINDER)
            return


def folder_roots() -> tuple[str, ...]:
    """The folders allowed modules were found in (for shipping user code to Ray workers)."""
    return tuple(sorted(set(_FINDER.roots.values())))


__all__ = [
    "ENV",
    "NONE",
    "PODIUM_REFERENCES",
    "AllowedModules",
    "allowed_from",
    "folder_roots",
    "from_environment",
    "make_findable",
    "of",
    "parse",
]
