"""`PII`: personal data found by Microsoft Presidio, redacted, blocked or flagged.

Presidio (the ``guardrails`` extra: ``presidio-analyzer``, ``presidio-anonymizer``) finds
entities with recognizers. Its pattern recognizers — e-mail addresses, phone numbers, credit
cards (with the Luhn check), IBANs (with their checksum), IP addresses, US social security
numbers, URLs and more — need no model, and that is what `PII` uses by default, through an NLP
engine that does no linguistic analysis at all: nothing is downloaded, ever. Names, places and
organisations need named-entity recognition: give ``ner_model``, a spaCy pipeline that is
installed (a package name such as ``en_core_web_sm``, or a folder); Podium never downloads one.

Presidio's e-mail recognizer checks domains with `tldextract`, which by default fetches the
public suffix list from the internet on first use; here it reads the copy `tldextract` ships.
Recognizing is CPU work (a few milliseconds a text), done on a worker thread; the analyzer of
one configuration is built once per process and shared.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Collection, Sequence
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from podium.exceptions import ConfigError
from podium.policy._guardrails import (
    ALLOW,
    Direction,
    Guardrail,
    Stage,
    Subject,
    Verdict,
    counted,
    map_texts,
    texts,
)

if TYPE_CHECKING:
    from presidio_analyzer import AnalyzerEngine
    from presidio_anonymizer import AnonymizerEngine

JSON = Any

PATTERN_ENTITIES: dict[str, str] = {
    "CREDIT_CARD": "CreditCardRecognizer",
    "CRYPTO": "CryptoRecognizer",
    "DATE_TIME": "DateRecognizer",
    "EMAIL_ADDRESS": "EmailRecognizer",
    "IBAN_CODE": "IbanRecognizer",
    "IP_ADDRESS": "IpRecognizer",
    "MEDICAL_LICENSE": "MedicalLicenseRecognizer",
    "PHONE_NUMBER": "PhoneRecognizer",
    "UK_NHS": "NhsRecognizer",
    "URL": "UrlRecognizer",
    "US_BANK_NUMBER": "UsBankRecognizer",
    "US_DRIVER_LICENSE": "UsLicenseRecognizer",
    "US_ITIN": "UsItinRecognizer",
    "US_PASSPORT": "UsPassportRecognizer",
    "US_SSN": "UsSsnRecognizer",
}
"""Entities found by patterns (no model), with the Presidio recognizer of each."""
NER_ENTITIES = ("PERSON", "LOCATION", "ORGANIZATION", "NRP")
"""Entities found by named-entity recognition (`PII.ner_model`)."""
DEFAULT_ENTITIES = (
    "CREDIT_CARD",
    "CRYPTO",
    "EMAIL_ADDRESS",
    "IBAN_CODE",
    "IP_ADDRESS",
    "PHONE_NUMBER",
    "US_SSN",
)
"""What `PII` looks for unless told (with a `ner_model`, ``PERSON`` and ``LOCATION`` too)."""
EXTRA = "pip install 'podium[guardrails]'"


class PII(Guardrail):
    """Finds personal data with Microsoft Presidio and redacts, blocks or flags it.

    A redacted entity becomes its type in angle brackets (``<EMAIL_ADDRESS>``). Findings count
    entities by type; the values found are never journaled.

    Args:
        action: ``redact`` (default), ``block`` or ``flag``.
        entities: the entity types to look for (default `DEFAULT_ENTITIES`, and ``PERSON`` and
            ``LOCATION`` with a `ner_model`); see `PATTERN_ENTITIES` and `NER_ENTITIES`.
        min_score: Presidio's confidence below which a match is ignored.
        ner_model: an installed spaCy pipeline (package name or folder) for names, places
            and organisations; ``None``: patterns only.
        language: the text's language, as Presidio's recognizers and the pipeline know it.
        name, stages, direction, tasks, agents, tools, audit: see `Guardrail` (default stage:
            attempts — their instruction and inputs, their output and context writes).

    Raises:
        ConfigError: Presidio is not installed, an entity is unknown, or the `ner_model` is
            not installed (or an entity needs one that is not given).

    Example:
        ```python
        Policy(guardrails=[PII(action="redact", stages=["attempt", "tool"])])
        ```
    """

    threaded = True

    def __init__(
        self,
        *,
        action: Literal["redact", "block", "flag"] = "redact",
        entities: Collection[str] | None = None,
        min_score: float = 0.3,
        ner_model: str | None = None,
        language: str = "en",
        name: str = "pii",
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
        if action not in ("redact", "block", "flag"):
            raise ConfigError(f"guardrail {name!r}: `action` is redact, block or flag")
        if not 0.0 <= min_score <= 1.0:
            raise ConfigError(f"guardrail {name!r}: `min_score` is within [0, 1]")
        missing = [m for m in ("presidio_analyzer", "presidio_anonymizer") if not _installed(m)]
        if missing:
            raise ConfigError(f"guardrail {name!r}: PII detection needs Presidio: {EXTRA}")
        self.action = action
        self.min_score = min_score
        self.language = language
        self.ner_model = ner_model
        self.entities = _entities(name, entities, ner_model)
        if ner_model is not None:
            _check_model(name, ner_model)

    def check(self, value: JSON, subject: Subject) -> Verdict:
        from presidio_anonymizer.entities import RecognizerResult as Span

        analyzer, anonymizer = _engines(self.entities, self.ner_model, self.language)
        findings: dict[str, int] = {}
        redacted: dict[str, str] = {}
        for text in texts(value):
            if not text.strip() or text in redacted:
                continue
            found = analyzer.analyze(
                text=text,
                language=self.language,
                entities=list(self.entities),
                score_threshold=self.min_score,
            )
            if not found:
                continue
            spans = [Span(r.entity_type, r.start, r.end, r.score) for r in found]
            result = anonymizer.anonymize(text=text, analyzer_results=spans)
            for item in result.items:  # overlapping matches resolved, one per entity kept
                findings[item.entity_type] = findings.get(item.entity_type, 0) + 1
            redacted[text] = result.text
        if not findings:
            return ALLOW
        reason = f"found {counted(findings)}"
        if self.action != "redact":
            return Verdict(self.action, reason=reason, findings=findings)
        clean = map_texts(value, lambda text: redacted.get(text, text))
        return Verdict("redact", reason=reason, findings=findings, value=clean)


def _installed(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def _entities(name: str, asked: Collection[str] | None, ner_model: str | None) -> tuple[str, ...]:
    if asked is None:
        return DEFAULT_ENTITIES + (("PERSON", "LOCATION") if ner_model is not None else ())
    if isinstance(asked, str):
        asked = [asked]
    known = (*PATTERN_ENTITIES, *NER_ENTITIES)
    for entity in asked:
        if entity not in known:
            raise ConfigError(
                f"guardrail {name!r}: unknown entity {entity!r}; known: {', '.join(known)}"
            )
        if entity in NER_ENTITIES and ner_model is None:
            raise ConfigError(
                f"guardrail {name!r}: {entity} is found by named-entity recognition: give"
                " `ner_model`, an installed spaCy pipeline (such as en_core_web_sm)"
            )
    if not asked:
        raise ConfigError(f"guardrail {name!r}: `entities` is empty")
    return tuple(dict.fromkeys(asked))


def _check_model(name: str, model: str) -> None:
    """Refuse a pipeline that is not installed: Presidio would download it."""
    import spacy.util

    if not (spacy.util.is_package(model) or Path(model).is_dir()):
        raise ConfigError(
            f"guardrail {name!r}: the spaCy pipeline {model!r} is not installed (Podium never"
            " downloads one): install its package, or give the folder of a saved pipeline"
        )


@lru_cache(maxsize=8)
def _engines(
    entities: Sequence[str], ner_model: str | None, language: str
) -> tuple[AnalyzerEngine, AnonymizerEngine]:
    """The analyzer (only the recognizers `entities` need) and the anonymizer."""
    from presidio_analyzer import AnalyzerEngine, RecognizerRegistry
    from presidio_analyzer import predefined_recognizers as recognizers
    from presidio_anonymizer import AnonymizerEngine

    made: list[Any] = []
    for entity in entities:
        if entity in PATTERN_ENTITIES:
            maker = (
                _offline_email()
                if entity == "EMAIL_ADDRESS"
                else getattr(recognizers, PATTERN_ENTITIES[entity])
            )
            made.append(maker(supported_language=language))
    if ner_model is not None:
        from presidio_analyzer.nlp_engine import SpacyNlpEngine

        engine: Any = SpacyNlpEngine(models=[{"lang_code": language, "model_name": ner_model}])
        wanted = [e for e in entities if e in NER_ENTITIES]
        if wanted:
            made.append(
                recognizers.SpacyRecognizer(supported_language=language, supported_entities=wanted)
            )
    else:
        engine = _patterns_only(language)
    engine.load()
    registry = RecognizerRegistry(recognizers=made, supported_languages=[language])
    analyzer = AnalyzerEngine(registry=registry, nlp_engine=engine, supported_languages=[language])
    return analyzer, AnonymizerEngine()  # type: ignore[no-untyped-call]


def _offline_email() -> Any:
    """Presidio's e-mail recognizer, its domains checked against tldextract's shipped copy of
    the public suffix list (the default fetches it from the internet)."""
    import tldextract
    from presidio_analyzer.predefined_recognizers import EmailRecognizer

    extract = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)

    class OfflineEmailRecognizer(EmailRecognizer):
        def validate_result(self, pattern_text: str) -> bool:
            return extract(pattern_text).fqdn != ""

    return OfflineEmailRecognizer


def _patterns_only(language: str) -> Any:
    """An NLP engine that analyses nothing: pattern recognizers need no tokens, and no
    model is loaded (Presidio's default engine wants a spaCy model that is not on PyPI)."""
    from presidio_analyzer.nlp_engine import NlpArtifacts, NlpEngine
    from spacy.tokens import Doc
    from spacy.vocab import Vocab

    class PatternsOnly(NlpEngine):
        def __init__(self) -> None:
            self.vocab = Vocab()

        def load(self) -> None:
            pass

        def is_loaded(self) -> bool:
            return True

        def process_text(self, text: str, language: str) -> Any:
            return NlpArtifacts(
                entities=[],
                tokens=Doc(self.vocab, words=[]),
                tokens_indices=[],
                lemmas=[],
                nlp_engine=self,
                language=language,
            )

        def process_batch(
            self, texts: Any, language: str, batch_size: int = 1, n_process: int = 1, **kw: Any
        ) -> Any:
            for text in texts:
                yield text, self.process_text(str(text), language)

        def is_stopword(self, word: str, language: str) -> bool:
            return False

        def is_punct(self, word: str, language: str) -> bool:
            return False

        def get_supported_entities(self) -> list[str]:
            return []

        def get_supported_languages(self) -> list[str]:
            return [language]

    return PatternsOnly()


__all__ = ["DEFAULT_ENTITIES", "NER_ENTITIES", "PATTERN_ENTITIES", "PII"]
