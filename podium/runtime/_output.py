"""What a finished run returns: the plan's `output` rendered over the tasks' outputs."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from podium.plan import TemplateError, render
from podium.runtime._state import RunState

JSON = Any


def run_output(state: RunState, dependants: Mapping[str, list[str]]) -> JSON:
    """The run's output.

    The plan's `output` may be a template, a task id, a mapping or list of templates, or
    ``None``: then the output of the one task nothing depends on, or of each such task by id.
    """
    assert state.plan is not None
    outputs = {tid: st.output for tid, st in state.tasks.items() if st.task.parent is None}
    spec = state.plan.output
    if spec is None:
        sinks = [
            tid
            for tid in outputs
            if not any(d for d in dependants.get(tid, ()) if state.tasks[d].task.parent is None)
        ]
        return outputs[sinks[0]] if len(sinks) == 1 else {t: outputs[t] for t in sinks}
    if isinstance(spec, str) and spec in outputs:
        return outputs[spec]
    inputs = state.submitted.inputs if state.submitted else {}
    return _render(spec, {"inputs": inputs, "tasks": outputs})


def _render(spec: JSON, scope: Mapping[str, JSON]) -> JSON:
    if isinstance(spec, str):
        try:
            return render(spec, scope)
        except TemplateError:
            return None  # an optional task that did not succeed leaves its part empty
    if isinstance(spec, dict):
        return {k: _render(v, scope) for k, v in spec.items()}
    if isinstance(spec, list):
        return [_render(v, scope) for v in spec]
    return spec
