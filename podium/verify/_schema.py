"""JSON Schema validation of outputs, with messages that say where the output is wrong."""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import msgspec

from podium.exceptions import OutputValidationError

if TYPE_CHECKING:
    import jsonschema

JSON = Any


@lru_cache(maxsize=256)
def _validator(schema_json: bytes) -> jsonschema.protocols.Validator:
    import jsonschema  # imported on first use: it is slow to import and most runs need none

    schema = msgspec.json.decode(schema_json)
    cls = jsonschema.validators.validator_for(schema)
    return cls(schema)


def check_schema(schema: Mapping[str, JSON]) -> str | None:
    """``None`` when `schema` is a valid JSON Schema, else what is wrong with it."""
    import jsonschema

    try:
        cls = jsonschema.validators.validator_for(schema)
        cls.check_schema(dict(schema))
    except jsonschema.SchemaError as exc:
        return exc.message
    return None


def validate_output(value: JSON, schema: Mapping[str, JSON], *, raw_output: JSON = None) -> None:
    """Raise `OutputValidationError` naming the first failing path when `value` misses `schema`."""
    from jsonschema.exceptions import best_match

    validator = _validator(msgspec.json.encode(schema, order="sorted"))
    error = best_match(validator.iter_errors(value))
    if error is not None:
        where = "/".join(str(p) for p in error.absolute_path) or "(root)"
        raise OutputValidationError(
            f"output does not match its schema at {where}: {error.message}",
            raw_output=value if raw_output is None else raw_output,
        )
