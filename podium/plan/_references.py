"""``module:function`` references of a workflow file, resolved two ways.

To run a workflow, `Importer` imports the module: its top-level code runs, as with any import.
To check one (``podium validate``), `SourceLookup` runs nothing: it finds the module's file the
way the import system would, without importing any package on the way, and reads its source for
a top-level definition of the name. The callable it gives is a stand-in that refuses to be called.

Both take the deployment's allow-list (`podium._allowed_modules`): a reference to a module outside
it is refused before anything is found or imported, and what the name turns out to be must be
defined in an allowed module (not merely imported into one).
"""

from __future__ import annotations

import ast
import difflib
import importlib
import importlib.abc
import importlib.util
import inspect
import os
import sys
import types
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from importlib.machinery import ModuleSpec, PathFinder
from typing import Any, NoReturn, Protocol

from podium._allowed_modules import AllowedModules, make_findable
from podium.exceptions import ConfigError


class ReferenceProblem(Exception):
    """Why a reference cannot be resolved (the message of a problem of the file)."""


class References(Protocol):
    """Resolves ``module:function`` to the callable a workflow runs."""

    def resolve(self, spec: str) -> Callable[..., Any]:
        """The callable `spec` names. Raises `ReferenceProblem`."""
        ...


def _split(spec: str) -> tuple[str, list[str]]:
    """``pkg.mod:Class.method`` → ``("pkg.mod", ["Class", "method"])``."""
    module, colon, attr = spec.partition(":")
    names = [*module.split("."), *attr.split(".")]
    if not colon or not all(name.isidentifier() for name in names):
        raise ReferenceProblem(f"{spec!r} is not a reference of the form module:function")
    return module, attr.split(".")


def _cannot_import(attrs: Sequence[str], module: str, defined: Iterable[str]) -> ReferenceProblem:
    word = ".".join(attrs)
    choices = sorted(name for name in defined if not name.startswith("_"))
    close = difflib.get_close_matches(word, choices, n=1)
    hint = (
        f"did you mean {close[0]!r}?"
        if close
        else f"expected one of: {', '.join(choices) or 'none'}"
    )
    return ReferenceProblem(f"cannot import {word!r} from module {module!r} ({hint})")


def _not_found(module: str, base_dir: str | None) -> ReferenceProblem:
    places = "the workflow's folder, " if base_dir else ""
    return ReferenceProblem(
        f"cannot import module {module!r}: not found in {places}the current folder or the "
        "installed packages"
    )


def _refuse(spec: str, allowed: AllowedModules | None) -> None:
    """Raise `ReferenceProblem` if the allow-list refuses `spec` (judged before any import)."""
    why = allowed.refusal(spec) if allowed is not None else None
    if why is not None:
        raise ReferenceProblem(why)


class Importer:
    """Imports the module (its top-level code runs) and takes the attribute.

    Without an allow-list the workflow's folder and the current one go first on ``sys.path``;
    with one, only an allowed top-level name is looked for there, after the installed modules.
    """

    def __init__(self, base_dir: str | None, allowed: AllowedModules | None = None) -> None:
        self.base_dir = base_dir
        self.allowed = allowed

    def resolve(self, spec: str) -> Callable[..., Any]:
        module_name, attrs = _split(spec)
        _refuse(spec, self.allowed)
        if self.allowed is not None:
            folders = [f for f in (self.base_dir, os.getcwd()) if f is not None]
            make_findable(module_name, folders, self.allowed)
        else:  # kept on sys.path: the module may import its neighbours lazily; resume reloads it
            for folder in (os.getcwd(), self.base_dir):
                if folder is not None and folder not in sys.path:
                    sys.path.insert(0, folder)
        importlib.invalidate_caches()
        module = self._import(module_name)
        target: Any = module
        reached: list[object] = []
        for part in attrs:
            try:
                target = getattr(target, part, None)
            except Exception as exc:  # a module __getattr__ or a property that fails
                raise ReferenceProblem(
                    f"reading {'.'.join(attrs)!r} from module {module_name!r} failed: "
                    f"{_described(exc)}"
                ) from None
            if target is None:
                defined = [
                    name
                    for name, value in vars(module).items()
                    if isinstance(value, types.FunctionType | type)
                    and value.__module__ == module_name
                ]
                raise _cannot_import(attrs, module_name, defined)
            reached.append(target)  # judged at each step: no attribute of a refused module is read
            why = self.allowed.refusal_of(spec, reached) if self.allowed is not None else None
            if why is not None:
                raise ReferenceProblem(why)
        if not callable(target):
            raise ReferenceProblem(f"{spec!r} is not callable (it is a {type(target).__name__})")
        return target  # type: ignore[no-any-return]

    def _import(self, name: str) -> types.ModuleType:
        try:
            return importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name is not None and f"{name}.".startswith(f"{exc.name}."):
                raise _not_found(name, self.base_dir) from None
            raise ReferenceProblem(
                f"importing module {name!r} failed: {exc}"  # one line: No module named …
            ) from None
        except SystemExit as exc:  # the module's own code ended the import, not a person
            raise ReferenceProblem(
                f"importing module {name!r} failed: its code called sys.exit({exc.code!r}) "
                'at import; keep that under `if __name__ == "__main__":`'
            ) from None
        except KeyboardInterrupt:
            raise ReferenceProblem(
                f"importing module {name!r} failed: interrupted (KeyboardInterrupt)"
            ) from None
        except Exception as exc:  # the module's own code failed; report it, don't crash
            raise ReferenceProblem(f"importing module {name!r} failed: {_described(exc)}") from None


def _described(exc: BaseException, limit: int = 300) -> str:
    """``Type: message`` on one line, cut short: what user code raised, fit for one problem."""
    text = f"{type(exc).__name__}: {' '.join(str(exc).split())}"
    return text if len(text) <= limit else text[: limit - 1] + "…"


# -- finding without importing ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Source:
    """What a module's source binds at its top level."""

    bound: dict[str, ast.AST]  # name → the statement that binds it last
    defined: list[str]  # the functions and classes it defines (for "did you mean")
    dynamic: bool  # __getattr__, a star import or globals(): names it may have that no one reads


class SourceLookup:
    """Finds the module's source without importing anything and looks the name up in it.

    Where the source cannot tell (a compiled module, a namespace package, a class with bases),
    the reference is accepted: the run imports it and reports what this could not see.
    """

    def __init__(self, base_dir: str | None, allowed: AllowedModules | None = None) -> None:
        self.base_dir = base_dir
        self.allowed = allowed
        self.folders = [f for f in (base_dir, os.getcwd()) if f is not None]
        self.sources: dict[str, _Source | None] = {}
        self.packages: set[str] = set()  # the modules read that are packages
        importlib.invalidate_caches()  # the finders cache folder listings; a file may be new

    def resolve(self, spec: str) -> Callable[..., Any]:
        module_name, attrs = _split(spec)
        _refuse(spec, self.allowed)
        if module_name not in self.sources:
            self.sources[module_name] = self._read(module_name)
        source = self.sources[module_name]
        if source is not None:
            _look_up(source, spec, module_name, attrs)
            if self.allowed is not None:
                self._imported(self.allowed, source, spec, module_name, attrs[0])
        return stand_in(spec)

    def _imported(
        self, allowed: AllowedModules, source: _Source, spec: str, module: str, name: str
    ) -> None:
        """Refuse `name` if the module imports it from a module `allowed` refuses."""
        package = module if module in self.packages else module.rpartition(".")[0]
        origins = _imported_from(source.bound.get(name), name, package)
        why = allowed.refusal_of_origin(spec, origins)
        if why is not None:
            raise ReferenceProblem(why)

    def _read(self, name: str) -> _Source | None:
        """The module's bindings, or ``None`` when its source cannot be had."""
        module_spec = self._find(name)
        if module_spec.submodule_search_locations is not None:
            self.packages.add(name)
        loader = module_spec.loader
        if not isinstance(loader, importlib.abc.InspectLoader):
            return None  # a namespace package or a loader that keeps its source to itself
        try:
            text = loader.get_source(name)
        except (ImportError, OSError, UnicodeDecodeError, SyntaxError) as exc:
            raise ReferenceProblem(f"cannot read module {name!r}: {_described(exc)}") from None
        if text is None:  # compiled: an extension, a builtin, bytecode only
            return None
        try:
            tree = ast.parse(text, filename=module_spec.origin or name)
        except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
            raise ReferenceProblem(
                f"importing module {name!r} would fail: {_described(exc)}"
            ) from None
        return _bindings(tree)

    def _find(self, name: str) -> ModuleSpec:
        """The module's spec, found as the import system would, no package imported."""
        loaded = sys.modules.get(name)  # e.g. os.path, which os puts there
        if loaded is not None and loaded.__spec__ is not None:
            return loaded.__spec__
        top, *rest = name.split(".")
        try:
            if self.allowed is None:
                found = PathFinder.find_spec(top, self.folders) or importlib.util.find_spec(top)
            else:  # installed first, and the folders only for an allowed name: as `Importer`
                found = importlib.util.find_spec(top)
                if found is None and self.allowed.permits(top):
                    found = PathFinder.find_spec(top, self.folders)
        except (ImportError, ValueError):
            found = None
        path = top
        for part in rest:
            search = found.submodule_search_locations if found is not None else None
            if search is None:
                raise _not_found(name, self.base_dir)
            path += f".{part}"
            try:
                found = PathFinder.find_spec(path, list(search))
            except (ImportError, KeyError, ValueError):  # a namespace package inside another
                return ModuleSpec(name, None)
        if found is None:
            raise _not_found(name, self.base_dir)
        return found


def _look_up(source: _Source, spec: str, module: str, attrs: Sequence[str]) -> None:
    """Raise `ReferenceProblem` if the source shows `attrs` is missing or not callable."""
    binding = source.bound.get(attrs[0])
    if binding is None:
        if source.dynamic:
            return
        raise _cannot_import(attrs, module, source.defined)
    if len(attrs) > 1:
        if isinstance(binding, ast.ClassDef) and not (binding.bases or binding.keywords):
            members = _bindings(ast.Module(body=binding.body, type_ignores=[])).bound
            if attrs[1] not in members:
                raise ReferenceProblem(
                    f"cannot import {'.'.join(attrs)!r} from module {module!r}: class "
                    f"{attrs[0]!r} defines no {attrs[1]!r}"
                )
        return  # deeper, or inherited: only the import can tell
    kind = _literal_kind(binding)
    if kind is not None:
        raise ReferenceProblem(f"{spec!r} is not callable (it is a {kind})")


def _imported_from(binding: ast.AST | None, name: str, package: str) -> list[str]:
    """The modules `name` may come from, if `binding` imports it (``from os import system``:
    ``os`` or ``os.system``); empty when it is not an import. `package`: the module's
    package, for relative imports."""
    if isinstance(binding, ast.Import):
        for alias in binding.names:
            if alias.asname == name:
                return [alias.name]
            if alias.asname is None and alias.name.partition(".")[0] == name:
                return [name]
    if isinstance(binding, ast.ImportFrom):
        base = binding.module or ""
        if binding.level:
            parts = package.split(".") if package else []
            parts = parts[: len(parts) - (binding.level - 1)] if binding.level > 1 else parts
            base = ".".join([*parts, *([binding.module] if binding.module else [])])
        for alias in binding.names:
            if (alias.asname or alias.name) == name:
                return [m for m in (base, f"{base}.{alias.name}".lstrip(".")) if m]
    return []


def _literal_kind(binding: ast.AST) -> str | None:
    """The type of the value a statement binds, if it is a literal (never callable)."""
    value = binding.value if isinstance(binding, ast.Assign | ast.AnnAssign) else None
    if value is None:
        return None
    try:
        return type(ast.literal_eval(value)).__name__
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return None


_DYNAMIC_CALLS = frozenset({"globals", "exec", "vars"})


def _bindings(tree: ast.Module) -> _Source:
    """The names a module's top level binds (also in `if`, `try`, `with` and loop blocks)."""
    bound: dict[str, ast.AST] = {}
    defined: list[str] = []
    dynamic = False
    blocks: list[list[ast.stmt]] = [tree.body]
    while blocks:
        for stmt in blocks.pop():
            if isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                bound[stmt.name] = stmt
                defined.append(stmt.name)
                dynamic = dynamic or stmt.name == "__getattr__"
                continue
            for name in _targets(stmt):
                bound[name] = stmt
                if isinstance(stmt, ast.Assign) and isinstance(stmt.value, ast.Lambda):
                    defined.append(name)
            if isinstance(stmt, ast.ImportFrom) and any(a.name == "*" for a in stmt.names):
                dynamic = True
            blocks.extend(_blocks(stmt))
    for node in ast.walk(tree):
        if isinstance(node, ast.Global) or (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in _DYNAMIC_CALLS
        ):
            dynamic = True  # a function may bind names at the top level, unseen here
            break
    return _Source(bound, defined, dynamic)


def _targets(stmt: ast.stmt) -> Iterable[str]:
    """The names a simple statement binds."""
    if isinstance(stmt, ast.Import | ast.ImportFrom):
        return [a.asname or a.name.partition(".")[0] for a in stmt.names if a.name != "*"]
    targets: list[ast.expr] = []
    if isinstance(stmt, ast.Assign):
        targets = list(stmt.targets)
    elif (
        isinstance(stmt, ast.AnnAssign | ast.AugAssign)
        and (isinstance(stmt, ast.AugAssign) or stmt.value is not None)
    ) or isinstance(stmt, ast.For | ast.AsyncFor):
        targets = [stmt.target]
    elif isinstance(stmt, ast.With | ast.AsyncWith):
        targets = [item.optional_vars for item in stmt.items if item.optional_vars is not None]
    return [n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)]


def _blocks(stmt: ast.stmt) -> list[list[ast.stmt]]:
    """The statement lists nested in a compound statement that run at the module's level."""
    if isinstance(stmt, ast.If | ast.While | ast.For | ast.AsyncFor):
        return [stmt.body, stmt.orelse]
    if isinstance(stmt, ast.With | ast.AsyncWith):
        return [stmt.body]
    if isinstance(stmt, ast.Try | ast.TryStar):
        return [stmt.body, stmt.orelse, stmt.finalbody, *(h.body for h in stmt.handlers)]
    if isinstance(stmt, ast.Match):
        return [case.body for case in stmt.cases]
    return []


def stand_in(spec: str) -> Callable[..., NoReturn]:
    """What `spec` compiles to when code is not imported: a callable that refuses to run.

    It shows no parameters (a tool made of it describes none) and accepts any when called.
    """

    def not_imported(*_args: object, **_kwargs: object) -> NoReturn:
        raise ConfigError(
            f"{spec!r} was not imported: the workflow was loaded with import_code=False, to be "
            "checked, not run"
        )

    not_imported.__name__ = spec.rpartition(":")[2].rpartition(".")[2]
    not_imported.__qualname__ = not_imported.__name__
    not_imported.__doc__ = f"{spec} (not imported)"
    not_imported.__dict__["__signature__"] = inspect.Signature()
    not_imported.__dict__["podium_stand_in"] = True
    return not_imported


def is_stand_in(obj: object) -> bool:
    """Whether `obj` is what a reference compiles to when code is not imported."""
    return getattr(obj, "podium_stand_in", False) is True
