"""What a finished run returns: the plan's `output` rendered over the tasks' outputs."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from podium.plan import Task, TemplateError, render

if TYPE_CHECKING:
    from podium.runtime._state import RunState

JSON = Any


def run_output(state: RunState) -> JSON:
    """The run's output.

    The plan's `output` may be a template, a task id, a mapping or list of templates, or
    ``None``: then the output of the one task nothing depends on, or of each such task by id.
    """
    assert state.plan is not None
    outputs = {tid: st.output for tid, st in state.tasks.items() if st.task.parent is None}
    spec = state.plan.output
    if spec is None:
        needed = {dep for tid in outputs for dep in state.tasks[tid].task.needs}
        needed.update(state.revised.values())  # a replacement branch stands for its task
        sinks = [tid for tid in outputs if tid not in needed]
        return outputs[sinks[0]] if len(sinks) == 1 else {t: outputs[t] for t in sinks}
    if isinstance(spec, str) and spec in outputs:
        return outputs[spec]
    inputs = state.submitted.inputs if state.submitted else {}
    return _render(spec, {"inputs": inputs, "tasks": outputs})


def map_items(state: RunState, task: Task) -> JSON:
    """What a mapped task's `map` renders to (a list, when the plan is right).

    Raises:
        TemplateError: the expression cannot be rendered.
    """
    assert task.map is not None
    inputs = state.submitted.inputs if state.submitted else {}
    outputs = {tid: st.output for tid, st in state.tasks.items()}
    return render("{{ " + task.map + " }}", {"inputs": inputs, "tasks": outputs, "item": task.item})


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
