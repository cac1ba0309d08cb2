"""The price table: built-in prices, lookup rules, overrides from code and from files."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from podium.exceptions import ConfigError
from podium.models import TokenUsage
from podium.models._prices import (
    BUILTIN_PRICES,
    DEFAULT_PRICES,
    FREE,
    Price,
    PriceTable,
    cost_usd,
    price_for,
)

MILLION = TokenUsage(input_tokens=1_000_000, output_tokens=1_000_000)


def test_known_models_have_prices() -> None:
    assert price_for("openai:gpt-5.4-mini") == Price(0.75, 4.50)
    assert price_for("anthropic:claude-sonnet-4-6") == Price(3.00, 15.00)


def test_cost_is_per_million_tokens() -> None:
    usage = TokenUsage(input_tokens=2_000, output_tokens=500)
    assert cost_usd("openai:gpt-5.4", usage) == pytest.approx(2_000 * 2.5e-6 + 500 * 15e-6)
    assert Price(1.0, 2.0).cost_usd(MILLION) == pytest.approx(3.0)


def test_dated_snapshots_use_the_base_price() -> None:
    assert price_for("openai:gpt-4o-2024-08-06") == price_for("openai:gpt-4o")
    assert price_for("anthropic:claude-haiku-4-5-20251001") == price_for(
        "anthropic:claude-haiku-4-5"
    )


def test_a_longer_name_is_not_priced_as_its_prefix() -> None:
    assert price_for("openai:gpt-4o-mini") == Price(0.15, 0.60)
    assert price_for("openai:gpt-5.4-pro") is None


def test_a_name_without_provider_matches_any_provider() -> None:
    assert price_for("claude-opus-4-7") == Price(5.0, 25.0)


def test_local_and_test_models_are_free() -> None:
    assert price_for("local:smollm2") == FREE
    assert price_for("local:/models/qwen.gguf") == FREE
    assert cost_usd("test:test", MILLION) == 0.0


def test_unknown_models_cost_zero_and_are_flagged(caplog: pytest.LogCaptureFixture) -> None:
    table = PriceTable(BUILTIN_PRICES)
    assert table.price_for("openai:gpt-9") is None
    assert "openai:gpt-9" not in table
    with caplog.at_level(logging.WARNING, logger="podium.models._prices"):
        assert table.cost_usd("openai:gpt-9", MILLION) == 0.0
        assert table.cost_usd("openai:gpt-9", MILLION) == 0.0
    assert [r.getMessage() for r in caplog.records] == [
        "no price for model 'openai:gpt-9': its cost is counted as 0"
    ]


def test_overrides_add_and_replace_without_changing_the_original() -> None:
    table = DEFAULT_PRICES.with_overrides(
        {
            "openai:my-fine-tune": {"input": 3, "output": 12},
            "openai:gpt-5.4": [1.0, 2.0],
            "anthropic:claude-sonnet-5-5": Price(3.0, 15.0),
        }
    )
    assert table.price_for("openai:my-fine-tune") == Price(3.0, 12.0)
    assert table.price_for("openai:gpt-5.4") == Price(1.0, 2.0)
    assert cost_usd("anthropic:claude-sonnet-5-5", MILLION, table) == pytest.approx(18.0)
    assert DEFAULT_PRICES.price_for("openai:gpt-5.4") == Price(2.5, 15.0)
    assert "openai:my-fine-tune" in table


@pytest.mark.parametrize(
    "value", [{"input": 1}, [1.0], [1.0, -2.0], ["1", "2"], [True, 1.0], "cheap", None]
)
def test_bad_override_values_are_config_errors(value: object) -> None:
    with pytest.raises(ConfigError, match="price for 'm:x' must be"):
        DEFAULT_PRICES.with_overrides({"m:x": value})  # type: ignore[dict-item]


def test_overrides_load_from_yaml_and_json(tmp_path: Path) -> None:
    yaml_file = tmp_path / "prices.yaml"
    yaml_file.write_text("openai:ft-a: {input: 1.5, output: 6}\nlocal:big: [0.1, 0.2]\n")
    json_file = tmp_path / "prices.json"
    json_file.write_text('{"anthropic:claude-fable-5": {"input": 2, "output": 10}}')
    table = DEFAULT_PRICES.with_file(yaml_file).with_file(json_file)
    assert table.price_for("openai:ft-a") == Price(1.5, 6.0)
    assert table.price_for("local:big") == Price(0.1, 0.2)
    assert table.price_for("anthropic:claude-fable-5") == Price(2.0, 10.0)


def test_an_empty_price_file_changes_nothing(tmp_path: Path) -> None:
    empty = tmp_path / "empty.yaml"
    empty.write_text("")
    assert DEFAULT_PRICES.with_file(empty).price_for("openai:gpt-5.4") == Price(2.5, 15.0)


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("- a\n- b\n", "must be a mapping"),
        ("m:x: cheap\n", "price for 'm:x' must be"),
        ("a: [1, 2\n", "cannot read prices"),
    ],
)
def test_bad_price_files_are_config_errors_naming_the_file(
    tmp_path: Path, text: str, match: str
) -> None:
    path = tmp_path / "prices.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=match) as caught:
        DEFAULT_PRICES.with_file(path)
    assert caught.value.file == str(path)


def test_a_missing_price_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read prices"):
        DEFAULT_PRICES.with_file(tmp_path / "nope.yaml")
