"""Confidence signals as functions: agreement of samples, of checks, grounding, routing margin."""

from __future__ import annotations

import math

import pytest

from podium.exceptions import ConfigError
from podium.verify import Confidence, agreement, combine
from podium.verify._confidence import (
    WEIGHTS,
    checks_signal,
    grounding_signal,
    routing_signal,
)


def test_structured_samples_agree_when_equal_after_normalising() -> None:
    outputs = [{"city": "Paris ", "n": 2.0000001}, {"n": 2.0, "city": "paris"}, {"city": "Lyon"}]
    agreed = agreement(outputs)
    assert agreed.method == "exact"
    assert agreed.kept == 0  # the first of the two that agree
    assert agreed.score == pytest.approx(0.5)
    assert agreed.similarities == (1.0, 0.0)


def test_the_medoid_text_is_kept_and_an_outlier_lowers_agreement() -> None:
    outputs = [
        "The GDP of France was about 3 trillion dollars in 2023.",
        "Coffee is brewed from roasted beans.",
        "France's GDP was about 3 trillion dollars in 2023.",
    ]
    agreed = agreement(outputs)
    assert agreed.method == "lexical"
    assert agreed.kept in (0, 2)
    assert 0.2 < agreed.score < 0.7
    alike = agreement([outputs[0], outputs[2], outputs[0]])
    assert alike.score > agreed.score


def test_failed_samples_count_as_disagreeing() -> None:
    assert agreement(["yes", "yes"]).score == 1.0
    assert agreement(["yes", "yes"], failed=2).score == pytest.approx(1 / 3)
    assert agreement(["yes"], failed=1).score == 0.0
    assert agreement(["yes"]).score == 1.0  # one sample: nothing to disagree with


def test_a_similarity_function_replaces_word_overlap_for_texts() -> None:
    calls: list[list[str]] = []

    def similarity(texts: object) -> list[list[float]]:
        calls.append(list(texts))  # type: ignore[call-overload]
        return [[1.0, 0.9], [0.9, 1.0]]

    agreed = agreement(["a cat", "a feline"], similarity=similarity)
    assert (agreed.method, agreed.score) == ("embedding", pytest.approx(0.9))
    assert calls == [["a cat", "a feline"]]
    assert agreement(["same", "same"], similarity=similarity).method == "lexical"


def test_agreement_of_nothing_is_an_error_and_odd_values_do_not_crash() -> None:
    with pytest.raises(ValueError, match="no outputs"):
        agreement([])
    odd = agreement([{"x": math.nan}, {"x": math.nan}, {"x": object()}])
    assert odd.kept == 0


def test_checks_signal_scores_passes_by_their_margin_over_the_threshold() -> None:
    assert checks_signal([]) is None
    assert checks_signal([(None, 0.5, True)]) == 1.0
    assert checks_signal([(0.2, 0.2, True)]) == pytest.approx(0.5)  # just over: half sure
    assert checks_signal([(1.0, 0.2, True)]) == pytest.approx(1.0)
    assert checks_signal([(0.1, 0.2, False)]) == pytest.approx(0.25)
    assert checks_signal([(None, 0.5, False), (None, 0.5, True)]) == pytest.approx(0.5)
    assert checks_signal([(1.0, 1.0, True), (0.0, 0.0, False)]) == pytest.approx(0.5)


def test_grounding_signal_is_the_mean_claim_support() -> None:
    evidence = {"supported": [{"score": 0.8}, {"score": 0.6}], "unsupported": [{"score": 0.1}]}
    assert grounding_signal(evidence, 0.66) == pytest.approx(0.5)
    assert grounding_signal({"claims": 0, "supported": []}, 1.0) is None
    assert grounding_signal({"claims": 2, "unsupported": [{"claim": "x"}]}, 0.5) == 0.5
    assert grounding_signal({}, None) is None


def test_routing_signal_is_the_margin_over_the_runner_up() -> None:
    candidates = [
        {"agent": "a", "score": 0.9},
        {"agent": "b", "score": 0.5},
        {"agent": "c", "excluded": "unavailable"},
    ]
    assert routing_signal(candidates, "a") == 1.0
    assert routing_signal(candidates, "b") == 0.0  # chosen over a better-scored agent
    tie = [{"agent": "a", "score": 0.5}, {"agent": "b", "score": 0.5}]
    assert routing_signal(tie, "a") == pytest.approx(0.5)
    assert routing_signal([{"agent": "a", "score": 0.5}], "a") is None
    assert routing_signal([], "a") is None
    assert routing_signal([{"agent": "a", "score": True}, {"agent": "b", "score": 1}], "a") is None


def test_combine_is_a_weighted_mean_of_the_signals_there_are() -> None:
    assert combine({}) is None
    assert combine({"checks": None}) is None
    assert combine({"checks": 0.5}) == 0.5
    mixed = combine({"samples": 1.0, "checks": 0.0, "routing": None})
    expected = WEIGHTS["samples"] / (WEIGHTS["samples"] + WEIGHTS["checks"])
    assert mixed == pytest.approx(expected, abs=1e-4)
    assert combine({"other": 0.2, "checks": 0.4}) == pytest.approx(0.3)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"samples": 0}, "samples must be 1 to 9"),
        ({"samples": 10}, "samples must be 1 to 9"),
        ({"min": 1.5}, "min must be between 0 and 1"),
        ({"on_low": "panic"}, "on_low must be ask, fail or accept"),
    ],
)
def test_bad_confidence_settings_are_config_errors(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        Confidence(**kwargs)  # type: ignore[arg-type]
