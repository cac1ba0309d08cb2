"""The ``guardrails`` section of a workflow file: a list of `podium.policy.Guardrail`\\ s.

```yaml
guardrails:
  - pii                                              # redact personal data in attempts
  - {kind: pii, action: block, stages: [tool], direction: output}
  - {kind: deny, patterns: ["(?i)\\\\bdrop\\\\s+table\\\\b"], stages: tool, direction: input}
  - {kind: allow, patterns: ["^https://docs\\\\.example\\\\.com/"], fields: [url], tools: [fetch]}
  - {kind: max_size, max_chars: 20000, direction: output}
  - {kind: schema, schema: {type: object, required: [answer]}, tasks: [final]}
  - {python: "guards:no_competitors", args: {names: [Acme]}}   # one's own, made by a factory
```

Each entry is checked with its kind's model (unknown keys, bad values and regular expressions
reported with their line), then made; a ``python:`` entry's factory is called with `args` and
must return a `Guardrail`. Names default to the kind, numbered when a kind comes back
(``deny``, ``deny-2``), and must be unique: they name the decisions in the journal.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

import pydantic

from podium.exceptions import ConfigError
from podium.plan._references import is_stand_in
from podium.plan._yaml_check import Checker, Resolver, kind_of, suggest
from podium.plan._yaml_nodes import JSON, Loc
from podium.plan._yaml_schema import _Body, _Names, _one_or_many
from podium.policy import PII, Allow, Deny, Guardrail, MaxSize, Schema
from podium.policy._pii import NER_ENTITIES, PATTERN_ENTITIES
from podium.verify import check_schema

_Stages = Annotated[
    list[Literal["attempt", "model", "tool"]], pydantic.BeforeValidator(_one_or_many)
]
_Direction = Literal["input", "output", "both"]


def _regexes(patterns: list[str]) -> list[str]:
    for i, pattern in enumerate(patterns):
        try:
            re.compile(pattern)
        except re.error as exc:
            raise ValueError(
                f"pattern {i + 1} ({pattern!r}) is not a regular expression: {exc}"
            ) from None
    return patterns


_Patterns = Annotated[_Names, pydantic.AfterValidator(_regexes)]


class _ScopedBody(_Body):
    name: str | None = pydantic.Field(None, min_length=1)
    stages: _Stages | None = None
    tasks: _Names | None = None
    agents: _Names | None = None
    tools: _Names | None = None
    audit: bool = False


class _DirectedBody(_ScopedBody):
    direction: _Direction = "both"


def _known_entities(entities: list[str] | None) -> list[str] | None:
    known = (*PATTERN_ENTITIES, *NER_ENTITIES)
    for entity in entities or ():
        if entity not in known:
            raise ValueError(f"unknown entity {entity!r}{suggest(entity, list(known))}")
    return entities


class _PiiGuardBody(_DirectedBody):
    kind: Literal["pii"]
    action: Literal["redact", "block", "flag"] = "redact"
    entities: Annotated[_Names | None, pydantic.AfterValidator(_known_entities)] = None
    min_score: float = pydantic.Field(0.3, ge=0, le=1)
    ner_model: str | None = None
    language: str = "en"


class _DenyGuardBody(_DirectedBody):
    kind: Literal["deny"]
    words: _Names = []
    patterns: _Patterns = []
    action: Literal["block", "flag", "redact"] = "block"
    fields: _Names | None = None


class _AllowGuardBody(_DirectedBody):
    kind: Literal["allow"]
    words: _Names = []
    patterns: _Patterns = []
    action: Literal["block", "flag"] = "block"
    fields: _Names | None = None


class _MaxSizeGuardBody(_DirectedBody):
    kind: Literal["max_size"]
    max_chars: int | None = pydantic.Field(None, ge=1)
    max_bytes: int | None = pydantic.Field(None, ge=1)
    action: Literal["block", "flag"] = "block"


class _SchemaGuardBody(_ScopedBody):
    kind: Literal["schema"]
    schema_: dict[str, JSON] = pydantic.Field(alias="schema")
    action: Literal["block", "flag"] = "block"

    @pydantic.field_validator("schema_")
    @classmethod
    def _valid(cls, schema: dict[str, JSON]) -> dict[str, JSON]:
        problem = check_schema(schema)
        if problem is not None:
            raise ValueError(f"not a valid JSON Schema: {problem}")
        return schema


class _PythonGuardBody(_Body):
    python: str
    args: dict[str, JSON] = {}


GUARDRAIL_BODIES: dict[str, type[_ScopedBody]] = {
    "pii": _PiiGuardBody,
    "deny": _DenyGuardBody,
    "allow": _AllowGuardBody,
    "max_size": _MaxSizeGuardBody,
    "schema": _SchemaGuardBody,
}
_MAKERS: dict[str, type[Guardrail]] = {
    "pii": PII,
    "deny": Deny,
    "allow": Allow,
    "max_size": MaxSize,
    "schema": Schema,
}


def compile_guardrails(check: Checker, resolve: Resolver, raw: JSON) -> list[Guardrail]:
    """The file's guardrails, made (see the module docstring)."""
    loc: Loc = ("guardrails",)
    if raw is None:
        return []
    if not isinstance(raw, list):
        check.add(loc, f"must be a list of guardrails, not a {kind_of(raw)}")
        return []
    made: list[Guardrail] = []
    names: set[str] = set()
    kinds: dict[str, int] = {}
    for i, item in enumerate(raw):
        at: Loc = (*loc, i)
        guard = _entry(check, resolve, item, at, kinds)
        if guard is None:
            continue
        if guard.name in names:
            where = (*at, "name") if isinstance(item, dict) and "name" in item else at
            check.add(where, f"another guardrail is named {guard.name!r}: give each its own `name`")
            continue
        names.add(guard.name)
        made.append(guard)
    return made


def _entry(
    check: Checker, resolve: Resolver, item: JSON, at: Loc, kinds: dict[str, int]
) -> Guardrail | None:
    body = {"kind": item} if isinstance(item, str) else item
    if not isinstance(body, dict):
        check.add(at, f"must be a kind (`pii`) or a mapping, not a {kind_of(item)}")
        return None
    if "python" in body:
        return _python(check, resolve, body, at)
    kind = body.get("kind")
    if kind not in GUARDRAIL_BODIES:
        where = at if isinstance(item, str) or "kind" not in body else (*at, "kind")
        said = "missing `kind`" if kind is None else f"unknown kind {kind!r}"
        check.add(where, f"{said}{suggest(str(kind), list(GUARDRAIL_BODIES))}; or `python:`")
        return None
    kinds[kind] = seen = kinds.get(kind, 0) + 1
    m = check.model(GUARDRAIL_BODIES[kind], body, at)
    if m is None:
        return None
    options: dict[str, Any] = m.model_dump(exclude={"kind", "schema_"}, exclude_none=True)
    if isinstance(m, _SchemaGuardBody):
        options["schema"] = m.schema_
    options.setdefault("name", kind if seen == 1 else f"{kind}-{seen}")
    try:
        return _MAKERS[kind](**options)
    except ConfigError as exc:
        check.add(at if isinstance(item, str) else (*at, "kind"), str(exc))
        return None


def _python(check: Checker, resolve: Resolver, body: dict[str, JSON], at: Loc) -> Guardrail | None:
    m = check.model(_PythonGuardBody, body, at)
    if m is None:
        return None
    maker = resolve(m.python, (*at, "python"))
    if maker is None or is_stand_in(maker):
        return None
    try:
        made = maker(**m.args)
    except Exception as exc:  # the user's factory: say what it said
        check.add(at, f"making the guardrail {m.python!r} failed: {type(exc).__name__}: {exc}")
        return None
    if not isinstance(made, Guardrail):
        check.add(
            (*at, "python"),
            f"{m.python!r} made a {type(made).__name__}, not a `podium.policy.Guardrail`",
        )
        return None
    return made


__all__ = ["GUARDRAIL_BODIES", "compile_guardrails"]
