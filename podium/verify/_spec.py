"""`Check`: one verifier declared on a task or an agent, as data (it is journaled with the plan).

The kinds:

- ``schema``: the output matches a JSON Schema (`schema`);
- ``rule``: a Python callable by import path (`rule`, ``module:function(output, call)``) returns
  ``None`` when the output is fine, else why it is not;
- ``judge``: a judge agent (`judge`, a model-driven agent of the team) reads the instruction, the
  output and a `rubric`, and answers ``{"pass": bool, "reason": str}``;
- ``grounding``: every claim (sentence) of the output cites a source id in brackets
  (``[doc-3]``) that the task was given — in its inputs or its blackboard entries' sources — and
  the cited text supports it (lexical overlap, plus embedding similarity when the ``embeddings``
  extra is installed), at least `threshold`;
- ``relevance``: the output answers the instruction (and the run's goal): the share of the
  instruction's content words it uses, or its embedding similarity, at least `threshold`;
- ``language``: the output is written in `language` (an ISO 639-1 code; default: the
  instruction's own language), told by stopword profiles.

A failing check, as `on_fail` says: ``retry`` (the default) tries again with the checker's
reason in the prompt, up to `retries` times, then hands the task to a backup agent, then fails
it; ``escalate`` does the same but asks a person at the end instead of failing (an approval of
the result, showing the failed check's evidence); ``fail`` fails the task at once.
"""

from __future__ import annotations

from typing import Any, Literal

import msgspec

from podium.exceptions import ConfigError

JSON = Any

CheckKind = Literal["schema", "rule", "judge", "grounding", "relevance", "language"]
OnFail = Literal["retry", "escalate", "fail"]

KINDS: tuple[str, ...] = ("schema", "rule", "judge", "grounding", "relevance", "language")
LANGUAGES: tuple[str, ...] = ("en", "es", "fr", "de", "it", "pt", "nl")
"""The languages the ``language`` check can tell apart."""

DEFAULT_THRESHOLDS: dict[str, float] = {"grounding": 0.5, "relevance": 0.2}


class Check(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """One verifier (see the module docstring for the kinds).

    Args:
        kind: what it checks.
        name: how verdicts and errors name it (default: its kind).
        on_fail: ``retry``, ``escalate`` or ``fail``.
        retries: retries with the checker's feedback on the same agent before a backup.
        threshold: the lowest passing score of ``grounding`` (per claim) and ``relevance``.
        schema: the JSON Schema of a ``schema`` check.
        rule: ``module:function`` of a ``rule`` check.
        judge: the judge agent's name, for a ``judge`` check.
        rubric: what the judge looks for.
        language: the expected language of a ``language`` check.
        embeddings: use sentence embeddings (``None``: when the extra is installed).

    Example:
        ```python
        Task(id="answer", agent="writer", checks=(Check(kind="relevance"),
                                                  Check(kind="language", language="en")))
        ```
    """

    kind: CheckKind
    name: str = ""
    on_fail: OnFail = "retry"
    retries: int = 2
    threshold: float | None = None
    schema: dict[str, JSON] | None = None
    rule: str | None = None
    judge: str | None = None
    rubric: str = ""
    language: str | None = None
    embeddings: bool | None = None

    def __post_init__(self) -> None:
        problem = check_problem(self)
        if problem is not None:
            raise ConfigError(f"check {self.label!r}: {problem}")

    @property
    def label(self) -> str:
        """Its name, or its kind when it has none."""
        return self.name or self.kind

    @property
    def min_score(self) -> float:
        """`threshold`, or the kind's default."""
        if self.threshold is not None:
            return self.threshold
        return DEFAULT_THRESHOLDS.get(self.kind, 0.5)


def check_problem(check: Check) -> str | None:
    """What is wrong with `check`'s settings, if anything (the message of a `ConfigError`)."""
    if check.kind not in KINDS:
        return f"unknown kind {check.kind!r}; expected one of {', '.join(KINDS)}"
    if check.retries < 0:
        return f"retries must be 0 or more, not {check.retries}"
    if check.threshold is not None and not 0 <= check.threshold <= 1:
        return f"threshold must be between 0 and 1, not {check.threshold}"
    needs = {"schema": "schema", "rule": "rule", "judge": "judge"}.get(check.kind)
    if needs is not None and getattr(check, needs) is None:
        return f"a {check.kind} check needs `{needs}`"
    return _reference_problem(check.rule) or _language_problem(check.language)


def _reference_problem(rule: str | None) -> str | None:
    if rule is None:
        return None
    module, colon, attr = rule.partition(":")
    names = [*module.split("."), *attr.split(".")]
    if not colon or not all(n.isidentifier() for n in names):
        return f"rule {rule!r} is not a reference of the form module:function"
    return None


def _language_problem(language: str | None) -> str | None:
    if language is not None and language not in LANGUAGES:
        return f"language {language!r} is not one of {', '.join(LANGUAGES)}"
    return None


__all__ = ["KINDS", "LANGUAGES", "Check", "CheckKind", "OnFail", "check_problem"]
