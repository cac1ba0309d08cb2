"""`PII` on its own: Presidio's pattern recognizers with no model and no network, names and
places from an installed spaCy pipeline, and the mistakes it refuses early."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import pytest

from podium.exceptions import ConfigError
from podium.policy import PII, Subject
from podium.policy import _pii as pii_module

SUBJECT = Subject(stage="attempt", direction="output", part="output", task="t", agent="a")


def found(guard: PII, value: Any) -> dict[str, int]:
    return dict(guard.check(value, SUBJECT).findings)


def test_pattern_entities_are_found_with_their_checks() -> None:
    guard = PII()
    text = (
        "card 4111 1111 1111 1111, not 4111 1111 1111 1112; IBAN GB82WEST12345698765432;"
        " host 192.168.1.20; SSN 536-90-4399; wallet 1BoatSLRHtKNngkdXEeobR76b53LETtpyT"
    )
    assert found(guard, text) == {
        "CREDIT_CARD": 1,  # the second number fails the Luhn check
        "IBAN_CODE": 1,
        "IP_ADDRESS": 1,
        "US_SSN": 1,
        "CRYPTO": 1,
    }
    assert found(guard, "see https://example.org on 2024-01-02") == {}  # not by default
    assert found(PII(entities=["URL"]), "see https://example.org") == {"URL": 1}


def test_a_redacted_value_keeps_its_shape() -> None:
    value = {"to": ["ann@example.com", "plain"], "n": 3, "note": "call +1 415-555-0132"}
    verdict = PII().check(value, SUBJECT)
    assert verdict.decision == "redact"
    assert verdict.value == {
        "to": ["<EMAIL_ADDRESS>", "plain"],
        "n": 3,
        "note": "call <PHONE_NUMBER>",
    }
    assert PII().check({"n": 3, "ok": "nothing here"}, SUBJECT).decision == "allow"


def test_nothing_is_fetched_from_the_network(monkeypatch: pytest.MonkeyPatch) -> None:
    tried: list[Any] = []

    def refuse(*args: Any, **kwargs: Any) -> Any:
        tried.append(args)
        raise OSError("no network in this test")

    pii_module._engines.cache_clear()  # a new analyzer, its e-mail domains checked anew
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)
    assert found(PII(), "write to ann@mail.example.co.uk") == {"EMAIL_ADDRESS": 1}
    assert tried == []


def test_names_and_places_come_from_an_installed_pipeline(tmp_path: Path) -> None:
    import spacy

    nlp = spacy.blank("en")
    ruler = nlp.add_pipe("entity_ruler")
    ruler.add_patterns(  # type: ignore[attr-defined]
        [{"label": "PERSON", "pattern": "Ada Lovelace"}, {"label": "GPE", "pattern": "London"}]
    )
    nlp.to_disk(tmp_path / "pipeline")
    guard = PII(ner_model=str(tmp_path / "pipeline"))
    verdict = guard.check("Ada Lovelace of London, ada@example.com", SUBJECT)
    assert dict(verdict.findings) == {"PERSON": 1, "LOCATION": 1, "EMAIL_ADDRESS": 1}
    assert verdict.value == "<PERSON> of <LOCATION>, <EMAIL_ADDRESS>"


def test_mistakes_are_refused_when_it_is_made(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigError, match="unknown entity 'EMAIL'"):
        PII(entities=["EMAIL"])
    with pytest.raises(ConfigError, match="PERSON is found by named-entity recognition"):
        PII(entities=["PERSON"])
    with pytest.raises(ConfigError, match="'xx_nothing_sm' is not installed"):
        PII(ner_model="xx_nothing_sm")
    with pytest.raises(ConfigError, match="`action` is redact, block or flag"):
        PII(action="erase")  # type: ignore[arg-type]
    monkeypatch.setattr(pii_module, "_installed", lambda module: False)
    with pytest.raises(ConfigError, match=r"pip install 'podium\[guardrails\]'"):
        PII()
