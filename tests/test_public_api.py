"""The public API is small and deliberate: changing it must be a conscious decision."""

from __future__ import annotations

import podium
from podium import events, exceptions


def test_public_names_are_pinned() -> None:
    assert sorted(podium.__all__) == sorted(
        [
            "Agent",
            "Budget",
            "ConfigError",
            "ContextPolicy",
            "ContextView",
            "InputSpec",
            "Limits",
            "MergePolicy",
            "Model",
            "Orchestrator",
            "Plan",
            "PlanValidationError",
            "Planner",
            "PodiumError",
            "Policy",
            "Approval",
            "RunError",
            "RunResult",
            "Store",
            "StoreError",
            "Task",
            "TaskCall",
            "TaskError",
            "Tool",
            "ToolContext",
            "ToolError",
            "Usage",
            "Workflow",
            "__version__",
            "load_workflow",
            "open_store",
            "tool",
        ]
    )
    for name in podium.__all__:
        assert hasattr(podium, name), name


def test_every_error_has_one_root() -> None:
    errors = [
        obj
        for obj in vars(exceptions).values()
        if isinstance(obj, type) and issubclass(obj, Exception)
    ]
    assert len(errors) > 8
    assert all(issubclass(e, exceptions.PodiumError) for e in errors)


def test_event_schema_lists_every_event_kind() -> None:
    schema = events.json_schema()
    kinds = set(schema["$defs"])
    for name in (
        "RunSubmitted",
        "PlanAccepted",
        "TaskReady",
        "TaskAssigned",
        "TaskStarted",
        "ContextWritten",
        "TaskSucceeded",
        "TaskFailed",
        "TaskRetrying",
        "TaskSkipped",
        "RunSucceeded",
        "RunPartiallySucceeded",
        "RunFailed",
        "RunCancelled",
    ):
        assert name in kinds
        props = schema["$defs"][name]["properties"]
        assert {"kind", "run_id", "seq", "ts"} <= set(props)
