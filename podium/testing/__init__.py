"""Fakes for deterministic tests: models that need no network and no weights, a clock that
never really sleeps, and fault injection."""

from podium.testing._clock import FakeClock
from podium.testing._faults import Faults, FaultStats, FaultyModel, faulty_tool, inject_faults
from podium.testing._models import FunctionModel, ScriptedModel, TestModel, sample_from_schema

__all__ = [
    "FakeClock",
    "FaultStats",
    "Faults",
    "FaultyModel",
    "FunctionModel",
    "ScriptedModel",
    "TestModel",
    "faulty_tool",
    "inject_faults",
    "sample_from_schema",
]
