"""Between protobuf messages (the A2A SDK's types) and plain JSON values, typed."""

from __future__ import annotations

import json
from typing import Any

from a2a.types import AgentCard
from google.protobuf import json_format  # type: ignore[import-untyped]  # no stubs shipped
from google.protobuf.struct_pb2 import Value  # type: ignore[import-untyped]

JSON = Any

ParseError: type[Exception] = json_format.ParseError


def plain(message: Any) -> JSON:
    """A message as JSON values (a `Value` becomes the value it holds). Numbers travel as
    doubles: a whole one comes back an `int`, as it was most likely sent."""
    return _whole(json_format.MessageToDict(message))


def _whole(data: JSON) -> JSON:
    if isinstance(data, float) and data.is_integer() and abs(data) < 2**53:
        return int(data)
    if isinstance(data, list):
        return [_whole(v) for v in data]
    if isinstance(data, dict):
        return {k: _whole(v) for k, v in data.items()}
    return data


def value(data: JSON) -> Any:
    """A JSON value as a protobuf `Value` (what is not JSON becomes its text)."""
    out = Value()
    json_format.ParseDict(json.loads(json.dumps(data, default=str)), out)
    return out


def parse_card(text: str) -> AgentCard:
    """An agent card from its JSON (fields this SDK does not know are skipped).

    Raises:
        ParseError: not a card.
    """
    card = AgentCard()
    json_format.Parse(text, card, ignore_unknown_fields=True)
    return card


__all__ = ["ParseError", "parse_card", "plain", "value"]
