"""Running a `Check` on an output: a `Verdict` with its evidence.

`run_check` dispatches on the kind. Everything here is offline and model-free except the
``judge`` kind, whose call the runtime supplies (`JudgeFn`): it needs a model, which this layer
does not know. CPU-bound work (embeddings, long texts, a synchronous rule) runs on a worker
thread, so the scheduler's event loop stays free.
"""

from __future__ import annotations

import asyncio
import importlib
import inspect
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from podium._allowed_modules import from_environment
from podium.exceptions import ConfigError, OutputValidationError
from podium.verify import _text as tx
from podium.verify._embed import Encoder, available, cosine, default_encoder
from podium.verify._schema import validate_output
from podium.verify._sources import output_text
from podium.verify._spec import Check

JSON = Any

ERROR_TYPES: dict[str, str] = {
    "schema": "output_invalid",
    "rule": "rule_failed",
    "judge": "judge_rejected",
    "grounding": "grounding",  # what the metrics' hallucination rate counts
    "relevance": "irrelevant",
    "language": "wrong_language",
}
"""`ErrorInfo.type` of a task failed by each kind of check."""

PARAPHRASE_SLACK = 0.15
PARAPHRASE_SIMILARITY = 0.8
"""With embeddings, a claim whose lexical support is short of the threshold by at most
`PARAPHRASE_SLACK` passes when a sentence of its source is this similar (a paraphrase). They
only ever let a claim pass that words alone nearly support: made-up claims on the source's topic
are similar to it too (0.4-0.7 with all-MiniLM-L6-v2, on bench/verify_catch.py's set)."""
UNRELATED_SIMILARITY = 0.15
"""Embedding similarity that unrelated texts share (all-MiniLM-L6-v2: up to ~0.3 on
bench/verify_catch.py's set): relevance counts only what is above it."""

SHOWN = 300
"""Characters of a claim or a text kept in a verdict's evidence."""
MAX_TEXT = 200_000
"""Characters of an output the grounding check reads (a longer one is judged on these)."""
MAX_CLAIMS = 200
"""Claims checked per output (the rest are counted, not checked)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class CheckCall:
    """What a check sees besides the output (the `call` a rule gets).

    Attributes:
        task: the task's id.
        agent: the agent whose output it is.
        instruction: the task's instruction (rendered, without any retry note).
        goal: the run's goal, when it has one.
        inputs: the task's inputs (run inputs and upstream outputs).
        sources: source id → text, what the output may cite (see `collect_sources`).
        attempt: the attempt's number.
    """

    task: str
    agent: str
    instruction: str
    goal: str | None = None
    inputs: Mapping[str, JSON] = field(default_factory=dict)
    sources: Mapping[str, str] = field(default_factory=dict)
    attempt: int = 1


@dataclass(frozen=True, slots=True, kw_only=True)
class Verdict:
    """One check's verdict on one output.

    Attributes:
        check: the check's name.
        kind: its kind.
        passed: whether the output passes.
        reason: why not (the feedback a retry gets), or a short note when it passes.
        score: the kind's score in [0, 1], when it has one.
        evidence: what the verdict rests on (claims and their support, word counts, …).
    """

    check: str
    kind: str
    passed: bool
    reason: str = ""
    score: float | None = None
    evidence: dict[str, JSON] = field(default_factory=dict)

    @property
    def error_type(self) -> str:
        return ERROR_TYPES.get(self.kind, "check_failed")


JudgeFn = Callable[[Check, JSON, CheckCall], Awaitable[Verdict]]
"""Asks a check's judge agent for a verdict (given by the runtime)."""


async def run_check(
    check: Check,
    output: JSON,
    call: CheckCall,
    *,
    judge: JudgeFn | None = None,
    encoder: Encoder | None = None,
) -> Verdict:
    """The verdict of `check` on `output`.

    Raises:
        ConfigError: the check cannot run (a rule that cannot be imported, a judge check with
            no judge, embeddings asked for but not installed).
    """
    if check.kind == "judge":
        if judge is None:
            raise ConfigError(f"check {check.label!r}: judge checks need a runtime with agents")
        return await judge(check, output, call)
    if check.kind == "rule":
        return await _rule(check, output, call)
    if check.kind == "schema":
        return _schema(check, output)
    if check.kind == "language":
        return language(check, output, call)
    scored = grounding if check.kind == "grounding" else relevance
    # on a worker thread: loading the embedding model (the first time) and encoding take a while
    return await asyncio.to_thread(lambda: scored(check, output, call, _encoder(check, encoder)))


def _encoder(check: Check, given: Encoder | None) -> Encoder | None:
    if check.embeddings is False:
        return None
    if given is not None:
        return given
    if check.embeddings is None and not available():
        return None
    return default_encoder()


def _schema(check: Check, output: JSON) -> Verdict:
    assert check.schema is not None  # the check's own validation makes sure
    try:
        validate_output(output, check.schema)
    except OutputValidationError as exc:
        return Verdict(check=check.label, kind="schema", passed=False, reason=str(exc))
    return Verdict(check=check.label, kind="schema", passed=True, reason="matches the schema")


_rules: dict[str, Callable[..., Any]] = {}


def resolve_rule(spec: str) -> Callable[..., Any]:
    """The callable a rule check names (``module:function``), imported once, if
    ``PODIUM_ALLOWED_MODULES`` allows it (a workflow file's rules were judged when it loaded;
    this covers rules given in Python too)."""
    found = _rules.get(spec)
    if found is not None:
        return found
    allowed = from_environment()
    why = allowed.refusal(spec) if allowed is not None else None
    if why is not None:
        raise ConfigError(f"rule {spec!r} is refused: {why}")
    module_name, _, attr = spec.partition(":")
    reached: list[object] = []
    try:
        target: Any = importlib.import_module(module_name)
        for name in attr.split("."):
            target = getattr(target, name)
            reached.append(target)
            why = allowed.refusal_of(spec, reached) if allowed is not None else None
            if why is not None:
                raise ConfigError(f"rule {spec!r} is refused: {why}")
    except (ImportError, AttributeError) as exc:
        raise ConfigError(f"rule {spec!r} cannot be imported: {exc}") from None
    if not callable(target):
        raise ConfigError(f"rule {spec!r} is not callable")
    function: Callable[..., Any] = target
    _rules[spec] = function
    return function


async def _rule(check: Check, output: JSON, call: CheckCall) -> Verdict:
    assert check.rule is not None
    function = resolve_rule(check.rule)
    if inspect.iscoroutinefunction(function):
        said = await function(output, call)
    else:
        said = await asyncio.to_thread(function, output, call)
    if said is None or said == "":
        return Verdict(check=check.label, kind="rule", passed=True, reason="no objection")
    return Verdict(
        check=check.label,
        kind="rule",
        passed=False,
        reason=str(said),
        evidence={"rule": check.rule},
    )


class _Sources:
    """The task's sources, with their words and numbers worked out once per check."""

    def __init__(self, texts: Mapping[str, str]) -> None:
        self.texts = texts
        self._words: dict[str, set[str]] = {}
        self._numbers: dict[str, set[str]] = {}
        self._vectors: dict[str, list[Sequence[float]]] = {}

    def __contains__(self, sid: str) -> bool:
        return sid in self.texts

    def words(self, ids: list[str]) -> set[str]:
        for sid in ids:
            if sid not in self._words:
                self._words[sid] = tx.content_words(self.texts[sid])
        return set().union(*(self._words[sid] for sid in ids))

    def vectors(self, ids: list[str], encode: Encoder) -> list[Sequence[float]]:
        """Embeddings of the sentences of the sources `ids` (each source encoded once)."""
        out: list[Sequence[float]] = []
        for sid in ids:
            if sid not in self._vectors:
                text = self.texts[sid]
                sentences = tx.claims(text)[:MAX_CLAIMS] or [text[:2000]]
                self._vectors[sid] = list(encode(sentences))
            out.extend(self._vectors[sid])
        return out

    def numbers(self, ids: list[str]) -> set[str]:
        for sid in ids:
            if sid not in self._numbers:
                self._numbers[sid] = tx.numbers(self.texts[sid])
        return set().union(*(self._numbers[sid] for sid in ids))


def _claim_support(
    claim: str, sources: _Sources, encode: Encoder | None, threshold: float
) -> dict[str, JSON]:
    """One claim's citations and how well the cited sources support it."""
    cited = tx.citations(claim)
    row: dict[str, JSON] = {"claim": claim[:SHOWN], "cites": cited[:10]}
    known = [c for c in cited if c in sources]
    if not cited or not known:
        row["supported"] = False
        row["problem"] = (
            "cites no source" if not cited else f"cites unknown source {', '.join(cited[:5])}"
        )
        return row
    bare = tx.strip_citations(claim)
    words = tx.content_words(bare)
    lexical = tx.overlap(words, sources.words(known))
    score = lexical
    row["lexical"] = round(lexical, 3)
    if encode is not None and threshold - PARAPHRASE_SLACK <= lexical < threshold:
        # a paraphrase: close in meaning to a sentence of its source, in other words
        [claim_vector] = encode([bare])
        similarity = max(cosine(claim_vector, v) for v in sources.vectors(known, encode))
        row["embedding"] = round(similarity, 3)
        if similarity >= PARAPHRASE_SIMILARITY:
            score = threshold
    unsupported = sorted(tx.numbers(bare) - sources.numbers(known))
    row["score"] = round(score, 3)
    row["supported"] = score >= threshold and not unsupported
    if unsupported:
        row["problem"] = f"states {', '.join(unsupported[:5])}, which its sources do not"
    elif not row["supported"]:
        row["problem"] = f"support {score:.2f} is below {threshold:.2f}"
    return row


def grounding(check: Check, output: JSON, call: CheckCall, encode: Encoder | None) -> Verdict:
    """Every claim cites a known source that supports it (see `Check`)."""
    claims = tx.claims(output_text(output)[:MAX_TEXT])
    sources = _Sources(call.sources)
    rows = [_claim_support(c, sources, encode, check.min_score) for c in claims[:MAX_CLAIMS]]
    bad = [r for r in rows if not r["supported"]]
    evidence: dict[str, JSON] = {
        "claims": len(claims),
        "checked": len(rows),
        "unsupported": bad[:20],
        "supported": [r for r in rows if r["supported"]][:10],
        "sources": sorted(call.sources)[:50],
        "embeddings": encode is not None,
    }
    score = 1.0 - len(bad) / len(rows) if rows else 1.0
    if not bad:
        note = f"all {len(rows)} claims cite a source that supports them"
        return Verdict(
            check=check.label,
            kind="grounding",
            passed=True,
            reason=note,
            score=score,
            evidence=evidence,
        )
    shown = "; ".join(f"{r['claim'][:120]!r} {r['problem']}" for r in bad[:3])
    more = f" (and {len(bad) - 3} more)" if len(bad) > 3 else ""
    reason = (
        f"{len(bad)} of {len(rows)} claims are not grounded in the given sources: {shown}{more}."
        f" Cite each claim's source id in brackets, from: {', '.join(sorted(call.sources)[:20])}"
        if call.sources
        else f"{len(bad)} claims are not grounded: the task was given no sources to cite"
    )
    return Verdict(
        check=check.label,
        kind="grounding",
        passed=False,
        reason=reason,
        score=score,
        evidence=evidence,
    )


def relevance(check: Check, output: JSON, call: CheckCall, encode: Encoder | None) -> Verdict:
    """The output is about what the instruction (and the goal) asks (see `Check`)."""
    asked = call.instruction if not call.goal else f"{call.goal}\n{call.instruction}"
    text = output_text(output)[:MAX_TEXT]
    wanted = tx.content_words(asked, drop=tx.ASKING_WORDS)
    lexical = tx.overlap(wanted, tx.content_words(text)) if text.strip() else 0.0
    score = lexical
    evidence: dict[str, JSON] = {"asked": sorted(wanted)[:40], "lexical": round(lexical, 3)}
    if encode is not None and text.strip() and wanted:
        vectors = encode([asked[:2000], text[:2000]])
        similarity = cosine(vectors[0], vectors[1])
        evidence["embedding"] = round(similarity, 3)
        score = max(lexical, similarity - UNRELATED_SIMILARITY)
    evidence["missing"] = sorted(wanted - tx.content_words(text))[:20]
    passed = score >= check.min_score
    reason = (
        f"relevance {score:.2f}"
        if passed
        else f"the answer does not address the instruction (relevance {score:.2f} <"
        f" {check.min_score:.2f}); it should be about: {', '.join(evidence['missing'][:10])}"
    )
    return Verdict(
        check=check.label,
        kind="relevance",
        passed=passed,
        reason=reason,
        score=round(score, 3),
        evidence=evidence,
    )


def language(check: Check, output: JSON, call: CheckCall) -> Verdict:
    """The output is in the expected language (see `Check`)."""
    # an instruction is short: the languages whose function words it uses most are candidates
    expected = [check.language] if check.language else tx.likely_languages(call.instruction)
    text = output_text(output)[:20_000]
    found = tx.detect_language(text)
    evidence: dict[str, JSON] = {
        "expected": expected,
        "found": found,
        "stopwords": tx.language_scores(text),
    }
    if not expected or found is None or found in expected:
        why = "cannot tell" if not expected or found is None else f"written in {found}"
        return Verdict(
            check=check.label, kind="language", passed=True, reason=why, evidence=evidence
        )
    wanted = " or ".join(repr(lang) for lang in expected)
    reason = f"the answer is written in {found!r}, but {wanted} is expected: write it in {wanted}"
    return Verdict(
        check=check.label, kind="language", passed=False, reason=reason, evidence=evidence
    )


__all__ = ["ERROR_TYPES", "CheckCall", "JudgeFn", "Verdict", "resolve_rule", "run_check"]
