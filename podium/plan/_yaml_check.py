"""Checking a workflow file: its problems with their lines, bodies checked against the file-format
models, and ``module:function`` references resolved (see `_references`).

`Checker` collects the problems of one file; every part of the compiler is handed the same one.
`Resolver` turns references into callables and reports those that cannot be had.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import pydantic

from podium.exceptions import Problem
from podium.plan._references import ReferenceProblem, References
from podium.plan._yaml_nodes import JSON, Loc, _line, _where
from podium.plan._yaml_schema import _Body

_B = TypeVar("_B", bound=_Body)


def kind_of(value: JSON) -> str:
    """The YAML word for the type of `value` (``mapping``, ``string``, …)."""
    kinds = {
        str: "string",
        bool: "boolean",
        int: "integer",
        float: "number",
        list: "list",
        dict: "mapping",
        type(None): "null",
    }
    return kinds.get(type(value), type(value).__name__)


_SUGGESTED_FROM = 200  # names at most that a "did you mean" compares a word with
_SHOWN = 25  # names listed at most


def _keys_at(cls: type[pydantic.BaseModel], path: tuple[Any, ...]) -> list[str]:
    """The keys of the body at `path` inside a `cls` body (a nested ``retry:``, a check in a
    list), so an unknown key there is matched against its own body's keys."""
    model: Any = cls
    for part in path:
        field = model.model_fields.get(part) if isinstance(part, str) else None
        if field is None:
            continue  # a list index or a mapping key: the same element type
        model = next((t for t in _types(field.annotation) if _is_body(t)), None)
        if model is None:
            return []
    return [f.alias or name for name, f in model.model_fields.items()]


def _types(annotation: Any) -> list[Any]:
    """`annotation` and the types nested in it (``list[X] | None`` → X among them)."""
    found, stack = [], [annotation]
    while stack:
        item = stack.pop()
        found.append(item)
        stack.extend(getattr(item, "__args__", ()))
        origin = getattr(item, "__origin__", None)
        if origin is not None:
            stack.append(origin)
    return found


def _is_body(item: Any) -> bool:
    return isinstance(item, type) and issubclass(item, pydantic.BaseModel)


def suggest(word: str, choices: list[str]) -> str:
    """`` (did you mean 'x'?)``, or the names `word` could have been."""
    if len(choices) > _SUGGESTED_FROM:  # difflib over thousands of names, thousands of times
        return f" (none of the {len(choices):,} known)"
    close = difflib.get_close_matches(word, choices, n=1)
    if close:
        return f" (did you mean {close[0]!r}?)"
    shown = ", ".join(sorted(choices)[:_SHOWN]) or "none"
    more = f", … ({len(choices)} in all)" if len(choices) > _SHOWN else ""
    return f" (expected one of: {shown}{more})"


class Checker:
    """Collects the problems of one file, each with its line.

    Args:
        file: the file's path (shown in messages), if it has one.
        lines: the line of every key and list item.
    """

    def __init__(self, file: str | None, lines: Mapping[Loc, int]) -> None:
        self.file = file
        self.lines = lines
        self.problems: list[Problem] = []

    def add(self, loc: Loc, message: str, *, at: Loc | None = None) -> None:
        """A problem about `loc`, shown on the line of `at` (default: `loc`)."""
        line = _line(self.lines, loc if at is None else at)
        self.problems.append(Problem(message, where=_where(loc), file=self.file, line=line))

    def entries(self, raw: JSON, loc: Loc, what: str) -> list[tuple[str, JSON]] | None:
        """The (name, body) pairs of a mapping section; ``None`` (reported) if it is not one."""
        if raw is None:
            return []
        if not isinstance(raw, dict):
            self.add(loc, f"must be a mapping of {what}, not a {kind_of(raw)}")
            return None
        out = []
        for key, body in raw.items():
            if isinstance(key, str):
                out.append((key, body))
            else:
                self.add(
                    (*loc, key), f"names must be strings, not {kind_of(key)} {key!r} (quote it)"
                )
        return out

    def model(self, cls: type[_B], body: JSON, loc: Loc) -> _B | None:
        return self.checked(cls, body, loc)[0]

    def checked(self, cls: type[_B], body: JSON, loc: Loc) -> tuple[_B | None, set[str]]:
        """`body` checked against `cls`, and the keys that had errors (all reported).

        Without its faulty keys the body is checked again, so that the rest of it can still be
        compiled and checked; ``None`` when even that fails.
        """
        if body is None:
            body = {}
        if not isinstance(body, dict):
            self.add(loc, f"must be a mapping, not a {kind_of(body)}")
            return None, set()
        try:
            return cls.model_validate(body), set()
        except pydantic.ValidationError as exc:
            errors = exc.errors(include_url=False)
        for err in errors:
            self._pydantic_error(err, loc, _keys_at(cls, err["loc"][:-1]))
        bad = {str(err["loc"][0]) for err in errors if err["loc"]}
        try:
            return cls.model_validate({k: v for k, v in body.items() if k not in bad}), bad
        except pydantic.ValidationError:
            return None, bad

    def _pydantic_error(self, err: Any, loc: Loc, fields: list[str]) -> None:
        where = (*loc, *err["loc"])
        kind, value = err["type"], err.get("input")
        if kind == "extra_forbidden":
            key = str(err["loc"][-1])
            self.add(where[:-1], f"unknown key {key!r}{suggest(key, fields)}", at=where)
        elif kind == "missing":
            self.add(where[:-1], f"missing required key {err['loc'][-1]!r}")
        elif kind == "value_error":  # a model's own check: its message says it all
            self.add(where, str(err["ctx"]["error"]))
        elif kind == "literal_error":
            expected = err["ctx"]["expected"]
            close = difflib.get_close_matches(str(value), re.findall(r"'([^']*)'", expected), 1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            self.add(where, f"{value!r} is not one of {expected}{hint}")
        else:
            message = re.sub(r"^Input should", "should", err["msg"])
            self.add(where, f"{message}, got {kind_of(value)} {value!r}")


@dataclass(frozen=True, slots=True)
class Resolver:
    """Resolves the file's ``module:function`` references, reporting those it cannot."""

    check: Checker
    references: References

    def __call__(self, spec: str, loc: Loc) -> Callable[..., Any] | None:
        """The callable of a ``module:function`` reference (dots after the colon walk
        attributes); ``None`` (reported) when it cannot be had."""
        try:
            return self.references.resolve(spec)
        except ReferenceProblem as exc:
            self.check.add(loc, str(exc))
            return None
