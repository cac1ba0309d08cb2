"""What model calls cost: USD per million input and output tokens, by ``provider:model`` name.

The built-in table holds list prices (standard tier, short context, no caching or batch discounts)
for a handful of current OpenAI and Anthropic models, as published in mid-2026. Prices change:
extend or override them with `PriceTable.with_overrides`, or from a YAML/JSON file with
`PriceTable.with_file`::

    # prices.yaml
    openai:my-fine-tune: {input_per_mtok: 3.0, output_per_mtok: 12.0}
    anthropic:claude-sonnet-5-5: [3.0, 15.0]

(``{input: 3.0, output: 12.0}`` is accepted too.) `default_prices` is the built-in table with the
file named by ``PODIUM_PRICES`` on top; a run's table is that, the orchestrator's `prices` (the
CLI's ``--prices FILE``), then the workflow's own ``prices:`` section.

A model the table does not know costs 0, and `price_for` returns ``None`` so callers can flag it.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import yaml

from podium.exceptions import ConfigError
from podium.models._base import TokenUsage

logger = logging.getLogger(__name__)

ENV_VAR = "PODIUM_PRICES"
"""Names a YAML or JSON price file that `default_prices` puts on top of the built-in table."""

_SNAPSHOT = re.compile(r"-(\d{4}-\d{2}-\d{2}|\d{8})$")
"""A dated snapshot suffix (``gpt-4o-2024-08-06``, ``claude-haiku-4-5-20251001``)."""


@dataclass(frozen=True, slots=True)
class Price:
    """USD per million tokens."""

    input_per_mtok: float
    output_per_mtok: float

    def cost_usd(self, usage: TokenUsage) -> float:
        """The cost of `usage` at this price."""
        return (
            usage.input_tokens * self.input_per_mtok + usage.output_tokens * self.output_per_mtok
        ) / 1_000_000


FREE = Price(0.0, 0.0)

BUILTIN_PRICES: Mapping[str, Price] = {
    # OpenAI
    "openai:gpt-5.5": Price(5.00, 30.00),
    "openai:gpt-5.4": Price(2.50, 15.00),
    "openai:gpt-5.4-mini": Price(0.75, 4.50),
    "openai:gpt-5.4-nano": Price(0.20, 1.25),
    "openai:gpt-5": Price(1.25, 10.00),
    "openai:gpt-5-mini": Price(0.25, 2.00),
    "openai:gpt-5-nano": Price(0.05, 0.40),
    "openai:gpt-4.1": Price(2.00, 8.00),
    "openai:gpt-4.1-mini": Price(0.40, 1.60),
    "openai:gpt-4.1-nano": Price(0.10, 0.40),
    "openai:gpt-4o": Price(2.50, 10.00),
    "openai:gpt-4o-mini": Price(0.15, 0.60),
    "openai:o3": Price(2.00, 8.00),
    "openai:o4-mini": Price(1.10, 4.40),
    # Anthropic
    "anthropic:claude-opus-4-7": Price(5.00, 25.00),
    "anthropic:claude-opus-4-6": Price(5.00, 25.00),
    "anthropic:claude-opus-4-5": Price(5.00, 25.00),
    "anthropic:claude-sonnet-4-6": Price(3.00, 15.00),
    "anthropic:claude-sonnet-4-5": Price(3.00, 15.00),
    "anthropic:claude-haiku-4-5": Price(1.00, 5.00),
    # Run on this machine or fake: free.
    "local:*": FREE,
    "test:*": FREE,
}


class PriceTable:
    """Prices by model name. Keys are ``provider:model``; ``provider:*`` covers a whole provider.

    Lookup tries the exact name, then the name without a dated snapshot suffix, then
    ``provider:*``. A name without a provider matches any provider's model of that name.
    """

    def __init__(self, prices: Mapping[str, Price]) -> None:
        self._prices = dict(prices)
        self._warned: set[str] = set()

    def __contains__(self, model_name: object) -> bool:
        return isinstance(model_name, str) and self.price_for(model_name) is not None

    def price_for(self, model_name: str) -> Price | None:
        """The price of `model_name`, or ``None`` when the table does not know it."""
        for name in (model_name, _SNAPSHOT.sub("", model_name)):
            price = self._lookup(name)
            if price is not None:
                return price
        provider, sep, _ = model_name.partition(":")
        return self._prices.get(f"{provider}:*") if sep else None

    def _lookup(self, name: str) -> Price | None:
        if name in self._prices:
            return self._prices[name]
        if ":" not in name:
            for key, price in self._prices.items():
                if key.partition(":")[2] == name:
                    return price
        return None

    def cost_usd(self, model_name: str, usage: TokenUsage) -> float:
        """The cost of `usage` on `model_name`; 0 (with a warning, once) for an unknown model."""
        price = self.price_for(model_name)
        if price is None:
            if model_name not in self._warned:
                self._warned.add(model_name)
                logger.warning("no price for model %r: its cost is counted as 0", model_name)
            return 0.0
        return price.cost_usd(usage)

    def with_overrides(
        self,
        overrides: Mapping[str, Price | Mapping[str, float] | list[float]],
    ) -> PriceTable:
        """A new table with `overrides` added or replacing entries.

        Values are a `Price`, ``{"input_per_mtok": USD, "output_per_mtok": USD}`` (or
        ``{"input": USD, "output": USD}``) or ``[input, output]``, per million tokens.

        Raises:
            ConfigError: a value is not one of those.
        """
        merged = dict(self._prices)
        for name, value in overrides.items():
            merged[str(name)] = _to_price(str(name), value)
        return PriceTable(merged)

    def with_file(self, path: str | Path) -> PriceTable:
        """A new table with the overrides in a YAML or JSON file (a mapping of name to price).

        Raises:
            ConfigError: the file cannot be read or is not such a mapping.
        """
        try:
            data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError) as exc:
            raise ConfigError(f"cannot read prices: {exc}", file=str(path)) from exc
        if data is None:
            return self.with_overrides({})
        if not isinstance(data, dict):
            raise ConfigError(
                "a price file must be a mapping of model name to price", file=str(path)
            )
        try:
            return self.with_overrides(data)
        except ConfigError as exc:
            raise ConfigError(str(exc), file=str(path)) from None


_KEY_PAIRS = (("input_per_mtok", "output_per_mtok"), ("input", "output"))


def parse_price(name: str, value: object) -> Price:
    """The `Price` a price file or a workflow's ``prices:`` gives for model `name`.

    Raises:
        ConfigError: `value` is not ``{input_per_mtok, output_per_mtok}``, ``{input, output}``,
            ``[input, output]`` (non-negative numbers) or a `Price`.
    """
    return _to_price(name, value)


def _to_price(name: str, value: object) -> Price:
    if isinstance(value, Price):
        return value
    pair: list[object] = []
    if isinstance(value, Mapping):
        for keys in _KEY_PAIRS:
            if set(value) == set(keys):
                pair = [value[k] for k in keys]
    elif isinstance(value, list | tuple) and len(value) == 2:
        pair = list(value)
    numbers = [
        float(n) for n in pair if isinstance(n, int | float) and not isinstance(n, bool) and n >= 0
    ]
    if len(numbers) != 2:
        raise ConfigError(
            f"price for {name!r} must be {{input_per_mtok: USD, output_per_mtok: USD}} or "
            f"[input, output] per million tokens, not {value!r}"
        )
    return Price(numbers[0], numbers[1])


DEFAULT_PRICES = PriceTable(BUILTIN_PRICES)


def default_prices() -> PriceTable:
    """The built-in table, with the price file named by ``PODIUM_PRICES`` on top when set.

    Raises:
        ConfigError: that file cannot be read or holds a bad price.
    """
    path = os.environ.get(ENV_VAR)
    return DEFAULT_PRICES.with_file(path) if path else DEFAULT_PRICES


def price_for(model_name: str, table: PriceTable | None = None) -> Price | None:
    """The price of `model_name` in `table` (default: the built-in table), or ``None``."""
    return (DEFAULT_PRICES if table is None else table).price_for(model_name)


def cost_usd(model_name: str, usage: TokenUsage, table: PriceTable | None = None) -> float:
    """The USD cost of `usage` on `model_name`; 0 for a model the table does not know."""
    return (DEFAULT_PRICES if table is None else table).cost_usd(model_name, usage)
