"""The pattern, size and schema guardrails: `Deny`, `Allow`, `MaxSize`, `Schema`.

Each is a `Guardrail` with its own rule and an ``action`` for what it finds. None keeps the text
it matched: a finding is the rule that matched and how often, so a journal of decisions never
repeats what it was meant to keep out.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping, Sequence
from typing import Any, Literal

import msgspec

from podium.exceptions import ConfigError
from podium.policy._guardrails import (
    ALLOW,
    Direction,
    Guardrail,
    Stage,
    Subject,
    Verdict,
    map_texts,
    texts,
)
from podium.verify import check_schema
from podium.verify._schema import _validator

JSON = Any
REDACTED = "[REDACTED]"
"""What `Deny` with ``action="redact"`` puts in place of each match."""


def _patterns(name: str, words: Sequence[str], patterns: Sequence[str]) -> list[re.Pattern[str]]:
    """Words (found anywhere, case-insensitive) and regular expressions, compiled."""
    compiled = [re.compile(re.escape(w), re.IGNORECASE) for w in words if w]
    for pattern in patterns:
        try:
            compiled.append(re.compile(pattern))
        except re.error as exc:
            raise ConfigError(
                f"guardrail {name!r}: {pattern!r} is not a regular expression: {exc}"
            ) from None
    return compiled


def _label(pattern: re.Pattern[str]) -> str:
    """A finding's kind: the rule as written (configuration, never the matched text)."""
    text = pattern.pattern
    return text if len(text) <= 80 else text[:77] + "..."


class Deny(Guardrail):
    """Refuses text that matches a deny rule: a word (anywhere, any case) or a regular
    expression.

    Args:
        words: substrings to refuse, case-insensitive.
        patterns: regular expressions to refuse (Python syntax; ``(?i)`` for any case).
        action: ``block`` (default), ``flag``, or ``redact`` (each match becomes
            ``[REDACTED]``).
        fields: look only at these keys of a mapping (a tool's arguments, a run's inputs) at
            any depth; ``None``: every string.
        name, stages, direction, tasks, agents, tools, audit: see `Guardrail` (default stages:
            attempts and tool calls).

    Example:
        ```python
        Deny(patterns=[r"(?i)\\bdrop\\s+table\\b"], stages=["tool"], direction="input")
        ```
    """

    default_stages = ("attempt", "tool")

    def __init__(
        self,
        words: Sequence[str] = (),
        patterns: Sequence[str] = (),
        *,
        action: Literal["block", "flag", "redact"] = "block",
        fields: Collection[str] | None = None,
        name: str = "deny",
        stages: Collection[Stage] | None = None,
        direction: Direction | Literal["both"] = "both",
        tasks: Collection[str] | None = None,
        agents: Collection[str] | None = None,
        tools: Collection[str] | None = None,
        audit: bool = False,
    ) -> None:
        super().__init__(
            name=name,
            stages=stages,
            direction=direction,
            tasks=tasks,
            agents=agents,
            tools=tools,
            audit=audit,
        )
        if action not in ("block", "flag", "redact"):
            raise ConfigError(f"guardrail {name!r}: `action` is block, flag or redact")
        self.rules = _patterns(name, words, patterns)
        if not self.rules:
            raise ConfigError(f"guardrail {name!r}: give `words` or `patterns` to deny")
        self.action = action
        self.fields = None if fields is None else frozenset(fields)

    def check(self, value: JSON, subject: Subject) -> Verdict:
        findings: dict[str, int] = {}
        for text in _selected(value, self.fields):
            for rule in self.rules:
                n = sum(1 for _ in rule.finditer(text))
                if n:
                    findings[_label(rule)] = findings.get(_label(rule), 0) + n
        if not findings:
            return ALLOW
        reason = f"{sum(findings.values())} match(es) of {len(findings)} deny rule(s)"
        if self.action != "redact":
            return Verdict(self.action, reason=reason, findings=findings)

        def scrub(text: str) -> str:
            for rule in self.rules:
                text = rule.sub(REDACTED, text)
            return text

        return Verdict(
            "redact", reason=reason, findings=findings, value=_changed(value, scrub, self.fields)
        )


class Allow(Guardrail):
    """Lets through only text that matches an allow rule: every string looked at must match
    one of the words (anywhere, any case) or regular expressions.

    Args:
        words, patterns: what is allowed, as in `Deny`.
        action: ``block`` (default) or ``flag`` for text that matches none.
        fields: look only at these keys of a mapping at any depth (a tool's ``url``);
            ``None``: every string.
        name, stages, direction, tasks, agents, tools, audit: see `Guardrail` (default stage:
            tool calls, whose arguments are where an allow-list says the most).

    Example:
        ```python
        Allow(patterns=[r"^https://docs\\.example\\.com/"], fields=["url"], tools=["fetch"],
              direction="input")
        ```
    """

    default_stages = ("tool",)

    def __init__(
        self,
        words: Sequence[str] = (),
        patterns: Sequence[str] = (),
        *,
        action: Literal["block", "flag"] = "block",
        fields: Collection[str] | None = None,
        name: str = "allow",
        stages: Collection[Stage] | None = None,
        direction: Direction | Literal["both"] = "both",
        tasks: Collection[str] | None = None,
        agents: Collection[str] | None = None,
        tools: Collection[str] | None = None,
        audit: bool = False,
    ) -> None:
        super().__init__(
            name=name,
            stages=stages,
            direction=direction,
            tasks=tasks,
            agents=agents,
            tools=tools,
            audit=audit,
        )
        if action not in ("block", "flag"):
            raise ConfigError(f"guardrail {name!r}: `action` is block or flag")
        self.rules = _patterns(name, words, patterns)
        if not self.rules:
            raise ConfigError(f"guardrail {name!r}: give `words` or `patterns` to allow")
        self.action = action
        self.fields = None if fields is None else frozenset(fields)

    def check(self, value: JSON, subject: Subject) -> Verdict:
        outside = sum(
            1
            for text in _selected(value, self.fields)
            if not any(rule.search(text) for rule in self.rules)
        )
        if not outside:
            return ALLOW
        reason = f"{outside} value(s) match no allow rule"
        return Verdict(self.action, reason=reason, findings={"not allowed": outside})


class MaxSize(Guardrail):
    """Refuses a value larger than a limit: an attempt's input (instruction and inputs
    together), its output, each context write, each model message or response, a tool call's
    arguments or its result — each measured on its own, as text (a non-string as its JSON).

    Args:
        max_chars: characters at most.
        max_bytes: bytes of UTF-8 at most.
        action: ``block`` (default) or ``flag``.
        name, stages, direction, tasks, agents, tools, audit: see `Guardrail` (default stages:
            attempts and tool calls).
    """

    default_stages = ("attempt", "tool")

    def __init__(
        self,
        *,
        max_chars: int | None = None,
        max_bytes: int | None = None,
        action: Literal["block", "flag"] = "block",
        name: str = "max_size",
        stages: Collection[Stage] | None = None,
        direction: Direction | Literal["both"] = "both",
        tasks: Collection[str] | None = None,
        agents: Collection[str] | None = None,
        tools: Collection[str] | None = None,
        audit: bool = False,
    ) -> None:
        super().__init__(
            name=name,
            stages=stages,
            direction=direction,
            tasks=tasks,
            agents=agents,
            tools=tools,
            audit=audit,
        )
        if max_chars is None and max_bytes is None:
            raise ConfigError(f"guardrail {name!r}: give `max_chars` or `max_bytes`")
        for limit in (max_chars, max_bytes):
            if limit is not None and (isinstance(limit, bool) or limit < 1):
                raise ConfigError(f"guardrail {name!r}: a size limit is a positive integer")
        if action not in ("block", "flag"):
            raise ConfigError(f"guardrail {name!r}: `action` is block or flag")
        self.max_chars = max_chars
        self.max_bytes = max_bytes
        self.action = action

    def check(self, value: JSON, subject: Subject) -> Verdict:
        text = value if isinstance(value, str) else msgspec.json.encode(value).decode()
        over: list[str] = []
        if self.max_chars is not None and len(text) > self.max_chars:
            over.append(f"{len(text):,} characters (at most {self.max_chars:,})")
        if self.max_bytes is not None:
            size = len(text.encode("utf-8", "surrogatepass"))
            if size > self.max_bytes:
                over.append(f"{size:,} bytes (at most {self.max_bytes:,})")
        if not over:
            return ALLOW
        reason = f"the {subject.part} is " + " and ".join(over)
        return Verdict(self.action, reason=reason, findings={"too large": 1})


class Schema(Guardrail):
    """Refuses an attempt's output (or a tool's result) that does not validate against a JSON
    Schema. Other values it is shown pass.

    Unlike a task's ``output_schema`` (which the agent is asked to meet, and retried on), this
    is a gate: an output outside the schema is blocked, not repaired. Its reason names where the
    output fails and the schema's rule, never the value.

    Args:
        schema: the JSON Schema.
        action: ``block`` (default) or ``flag``.
        name, tasks, agents, tools, audit: see `Guardrail`; it looks at outputs only
            (``stages``: ``attempt`` by default, or ``tool`` for results).
    """

    def __init__(
        self,
        schema: Mapping[str, JSON],
        *,
        action: Literal["block", "flag"] = "block",
        name: str = "schema",
        stages: Collection[Stage] | None = None,
        tasks: Collection[str] | None = None,
        agents: Collection[str] | None = None,
        tools: Collection[str] | None = None,
        audit: bool = False,
    ) -> None:
        super().__init__(
            name=name,
            stages=stages,
            direction="output",
            tasks=tasks,
            agents=agents,
            tools=tools,
            audit=audit,
        )
        if not isinstance(schema, Mapping):
            raise ConfigError(f"guardrail {name!r}: `schema` is a JSON Schema (a mapping)")
        problem = check_schema(schema)
        if problem is not None:
            raise ConfigError(f"guardrail {name!r}: `schema` is not a valid JSON Schema: {problem}")
        if action not in ("block", "flag"):
            raise ConfigError(f"guardrail {name!r}: `action` is block or flag")
        self.schema = dict(schema)
        self.action = action
        self._key = msgspec.json.encode(self.schema, order="sorted")

    def check(self, value: JSON, subject: Subject) -> Verdict:
        if subject.part not in ("output", "result"):
            return ALLOW
        from jsonschema.exceptions import best_match  # slow to import; loaded with the schema

        error = best_match(_validator(self._key).iter_errors(value))
        if error is None:
            return ALLOW
        where = "/".join(str(p) for p in error.absolute_path) or "(root)"
        rule = msgspec.json.encode(error.validator_value).decode()
        if len(rule) > 120:
            rule = rule[:117] + "..."
        reason = (
            f"the {subject.part} does not match the schema at {where} ({error.validator}: {rule})"
        )
        return Verdict(self.action, reason=reason, findings={str(error.validator): 1})


def _selected(value: JSON, fields: frozenset[str] | None) -> list[str]:
    """The strings of `value` a pattern rule looks at."""
    if fields is None:
        return list(texts(value))
    found: list[str] = []
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, Mapping):
            for key, sub in item.items():
                if key in fields:
                    found.extend(texts(sub))
                else:
                    stack.append(sub)
        elif isinstance(item, list | tuple):
            stack.extend(item)
    return found


def _changed(value: JSON, change: Any, fields: frozenset[str] | None) -> JSON:
    """`value` with `change` applied to the strings `_selected` picks."""
    if fields is None:
        return map_texts(value, change)
    if isinstance(value, Mapping):
        return {
            k: map_texts(v, change) if k in fields else _changed(v, change, fields)
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [_changed(v, change, fields) for v in value]
    return value


__all__ = ["REDACTED", "Allow", "Deny", "MaxSize", "Schema"]
