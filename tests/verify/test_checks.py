"""Each kind of check on its own: verdicts, scores and the evidence they rest on."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from podium.context import Entry
from podium.exceptions import ConfigError
from podium.verify import Check, CheckCall, collect_sources, complete, output_text, run_check
from podium.verify._text import claims, detect_language

pytestmark = pytest.mark.anyio

DOCS = [
    {
        "id": "noaa-1",
        "title": "Reefs",
        "text": "Coral reefs cover less than one percent of the ocean floor but support"
        " about 25 percent of all marine species.",
    },
    {
        "id": "noaa-2",
        "text": "Coral bleaching happens when water is too warm and corals expel the algae"
        " living in their tissues.",
    },
]


def call(instruction: str = "Summarize the sources on coral reefs.", **kw: Any) -> CheckCall:
    sources = collect_sources({"docs": DOCS})
    return CheckCall(task="t", agent="a", instruction=instruction, sources=sources, **kw)


LEXICAL = {"embeddings": False}


async def test_grounding_passes_claims_that_cite_a_source_that_supports_them() -> None:
    text = (
        "Coral reefs cover less than one percent of the ocean floor [noaa-1]. Bleaching"
        " happens when warm water makes corals expel their algae. [noaa-2]"
    )
    verdict = await run_check(Check(kind="grounding", **LEXICAL), text, call())
    assert verdict.passed, verdict.reason
    assert verdict.score == 1.0


async def test_grounding_rejects_uncited_unknown_and_unsupported_claims() -> None:
    text = (
        "Coral reefs cover less than one percent of the ocean floor [noaa-1]. "
        "Reefs grow forty centimetres every year in Arctic waters [noaa-1]. "
        "They host 25 percent of marine species [wiki-9]. "
        "Most reefs will vanish within a decade according to experts. "
        "Reefs support about 40 percent of all marine species [noaa-1]."
    )
    verdict = await run_check(Check(kind="grounding", **LEXICAL), text, call())
    assert not verdict.passed
    assert verdict.score == pytest.approx(0.2)
    problems = [row["problem"] for row in verdict.evidence["unsupported"]]
    assert problems == [
        "support 0.12 is below 0.50",
        "cites unknown source wiki-9",
        "cites no source",
        "states 40, which its sources do not",
    ]
    assert verdict.evidence["sources"] == ["noaa-1", "noaa-2"]
    assert verdict.reason.startswith("4 of 5 claims are not grounded in the given sources")
    assert "from: noaa-1, noaa-2" in verdict.reason


async def test_grounding_without_sources_says_so() -> None:
    bare = CheckCall(task="t", agent="a", instruction="Tell me about reefs.")
    verdict = await run_check(
        Check(kind="grounding", **LEXICAL), "Reefs host many marine species [x].", bare
    )
    assert not verdict.passed
    assert "the task was given no sources to cite" in verdict.reason


def about_reefs(texts: list[str]) -> Sequence[Sequence[float]]:
    """A deterministic stand-in encoder: texts about reef life are one point, the rest another."""
    words = ("coral", "reef", "algae", "bleach")
    return [[1.0, 0.0] if any(w in t.lower() for w in words) else [0.0, 1.0] for t in texts]


def apart(texts: list[str]) -> Sequence[Sequence[float]]:
    """A stand-in encoder that puts the far claim away from every other text."""
    return [[0.0, 1.0] if "water and go pale" in t else [1.0, 0.0] for t in texts]


async def test_embeddings_let_a_near_paraphrase_pass_and_only_that() -> None:
    # lexical support 3/7: short of 0.5, within the paraphrase slack
    text = "Heat makes corals expel algae and go pale [noaa-2]."
    lexical = await run_check(Check(kind="grounding", **LEXICAL), text, call())
    assert not lexical.passed
    check = Check(kind="grounding", embeddings=True)
    verdict = await run_check(check, text, call(), encoder=about_reefs)
    assert verdict.passed, verdict.evidence
    assert verdict.evidence["embeddings"] is True
    # as close in words, far in meaning (this stand-in puts the claim away from every sentence)
    far = "Heat makes corals expel water and go pale [noaa-2]."
    rejected = await run_check(check, far, call(), encoder=apart)
    assert not rejected.passed
    assert rejected.evidence["unsupported"][0]["embedding"] == 0.0


async def test_relevance_rejects_an_answer_about_something_else() -> None:
    ask = call("What is the GDP of France?")
    check = Check(kind="relevance", **LEXICAL)
    off = await run_check(check, "Coffee is brewed from roasted beans.", ask)
    assert not off.passed
    assert off.evidence["asked"] == ["france", "gdp"]
    assert "it should be about: france, gdp" in off.reason
    on = await run_check(check, "France's GDP was about 3 trillion dollars in 2023.", ask)
    assert on.passed
    assert on.score == 1.0
    assert not (await run_check(check, "", ask)).passed


async def test_relevance_with_embeddings_counts_only_similarity_above_unrelated() -> None:
    ask = call("Why do coral reefs bleach?")
    check = Check(kind="relevance", embeddings=True)
    on = await run_check(check, "Warm water makes the algae leave.", ask, encoder=about_reefs)
    assert on.evidence["lexical"] == 0.0
    assert on.passed


async def test_language_finds_an_answer_in_another_language() -> None:
    ask = call("Explain why the sky is blue.")
    spanish = "El cielo es azul porque la luz del sol se dispersa en la atmósfera de la tierra."
    verdict = await run_check(Check(kind="language"), spanish, ask)
    assert not verdict.passed
    assert (verdict.evidence["expected"], verdict.evidence["found"]) == (["en"], "es")
    assert "written in 'es', but 'en' is expected" in verdict.reason
    english = "The sky is blue because the air scatters the blue light of the sun the most."
    assert (await run_check(Check(kind="language"), english, ask)).passed
    german = Check(kind="language", language="de")
    assert not (await run_check(german, english, ask)).passed
    assert (await run_check(german, "Ok.", ask)).reason == "cannot tell"


def test_language_detection_tells_the_profiles_apart() -> None:
    samples = {
        "en": "The report is about the state of the economy and what it means for us.",
        "fr": "Le rapport est sur l'état de l'économie et ce que cela veut dire pour nous.",
        "de": "Der Bericht ist über den Zustand der Wirtschaft und was das für uns heißt.",
        "it": "Il rapporto è sullo stato della economia e che cosa questo vuol dire per noi.",
        "pt": "O relatório é sobre o estado da economia e o que isso quer dizer para nós.",
        "nl": "Het verslag gaat over de staat van de economie en wat dat voor ons betekent.",
    }
    assert {lang: detect_language(text) for lang, text in samples.items()} == {
        lang: lang for lang in samples
    }
    assert detect_language("OK") is None


async def test_schema_check() -> None:
    check = Check(kind="schema", schema={"type": "object", "required": ["n"]})
    assert (await run_check(check, {"n": 1}, call())).passed
    bad = await run_check(check, {"m": 1}, call())
    assert not bad.passed
    assert "'n' is a required property" in bad.reason
    assert bad.error_type == "output_invalid"


def objects(output: Any, call: CheckCall) -> str | None:
    return None if isinstance(output, dict) else f"{call.task}: not an object"


async def async_rule(output: Any, call: CheckCall) -> str | None:
    return "never" if output == "no" else None


async def test_rules_by_import_path_sync_and_async() -> None:
    check = Check(kind="rule", rule="tests.verify.test_checks:objects")
    assert (await run_check(check, {}, call())).passed
    verdict = await run_check(check, "text", call())
    assert (verdict.passed, verdict.reason, verdict.evidence) == (
        False,
        "t: not an object",
        {"rule": "tests.verify.test_checks:objects"},
    )
    check = Check(kind="rule", rule="tests.verify.test_checks:async_rule")
    assert not (await run_check(check, "no", call())).passed
    with pytest.raises(ConfigError, match="cannot be imported"):
        await run_check(Check(kind="rule", rule="tests.verify.test_checks:nope"), "x", call())
    with pytest.raises(ConfigError, match="judge checks need a runtime"):
        await run_check(Check(kind="judge", judge="j"), "x", call())


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("", "the output is empty"),
        ("Reefs are warm and they are also", "stops mid-sentence"),
        ("See:\n```python\nprint(1)\n", "a code block is opened"),
        ("The list (of reefs, bays.", "'(' is opened"),
    ],
)
def test_complete_finds_cut_off_answers(text: str, why: str) -> None:
    said = complete(text)
    assert said is not None
    assert why in said


@pytest.mark.parametrize(
    "text",
    [
        "Reefs are warm.",
        "Key points:\n- reefs are warm\n- bleaching",
        "# Title",
        "Short one",
        "He said “it is done”",
    ],
)
def test_complete_passes_whole_answers(text: str) -> None:
    assert complete(text) is None
    assert complete({"a": 1}) is None


def test_checks_refuse_bad_settings() -> None:
    with pytest.raises(ConfigError, match="a schema check needs `schema`"):
        Check(kind="schema")
    with pytest.raises(ConfigError, match="threshold must be between 0 and 1"):
        Check(kind="grounding", threshold=1.5)
    with pytest.raises(ConfigError, match="retries must be 0 or more"):
        Check(kind="relevance", retries=-1)
    with pytest.raises(ConfigError, match="unknown kind"):
        Check(kind="vibes")  # type: ignore[arg-type]


def test_sources_come_from_inputs_and_context_entries() -> None:
    entries = [
        Entry(key="notes", value="first", version=1, task="x"),
        Entry(key="notes", value={"summary": "reefs"}, version=2, task="x", sources=("web-3",)),
    ]
    found = collect_sources(
        {"question": "Why?", "hits": {"results": [{"url": "u1", "snippet": "warm water"}]}},
        {"notes": entries},
    )
    assert found == {
        "question": "Why?",
        "u1": "warm water",
        "web-3": '{"summary": "reefs"}',
        "notes": '{"summary": "reefs"}',
    }
    deep: Any = {"id": "d", "text": "t"}
    for _ in range(50):
        deep = {"x": deep}
    assert collect_sources({"deep": deep}) == {}  # nesting beyond the limit is not read


def test_claims_and_output_text() -> None:
    assert claims(
        "# Title\nReefs host many species [a]. Thanks.\n- Warm water bleaches coral."
    ) == [
        "Reefs host many species [a].",
        "Warm water bleaches coral.",
    ]
    assert output_text({"answer": "a", "parts": ["b", {"c": "d"}], "n": 3}) == "a\nb\nd"


async def test_the_embeddings_extra_scores_relevance_with_minilm() -> None:
    """The real all-MiniLM-L6-v2 of the ``embeddings`` extra (loaded once per process)."""
    ask = call("Why do coral reefs bleach?")
    check = Check(kind="relevance")  # embeddings: when the extra is installed, as here
    near = await run_check(check, "Hot seas make the polyps lose their symbiotic algae.", ask)
    assert near.evidence["lexical"] == 0.0
    assert near.evidence["embedding"] > 0.35
    assert near.passed
    far = await run_check(check, "Espresso is brewed by forcing hot water through coffee.", ask)
    assert far.evidence["embedding"] < 0.35
    assert not far.passed
