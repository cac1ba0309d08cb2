"""Fakes for deterministic tests: models that need no network and no weights."""

from podium.testing._models import FunctionModel, ScriptedModel, TestModel, sample_from_schema

__all__ = ["FunctionModel", "ScriptedModel", "TestModel", "sample_from_schema"]
