"""Checks on outputs. For now: JSON Schema validation of task outputs."""

from podium.verify._schema import check_schema, validate_output

__all__ = ["check_schema", "validate_output"]
