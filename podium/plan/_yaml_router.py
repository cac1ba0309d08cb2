"""The ``router`` section of a workflow file: how its tasks are routed.

```yaml
router:
  relevance: hybrid        # hybrid | bm25 | embeddings | auto (default: hybrid if installed)
  min_score: 0.15          # fit under which no agent fits a task (default: calibrated)
  on_no_fit: fail          # fail | ask (a person approves the closest agent, or not)
  tie_break_model: openai:gpt-4o-mini   # breaks near-ties (default: none)
  tie_break_margin: 0.25
```
"""

from __future__ import annotations

from typing import Literal

import pydantic

from podium.plan._router_spec import RouterSpec
from podium.plan._yaml_check import Checker
from podium.plan._yaml_nodes import JSON
from podium.plan._yaml_schema import _Body


class _RouterBody(_Body):
    relevance: Literal["auto", "hybrid", "bm25", "embeddings"] = "auto"
    min_score: float | None = pydantic.Field(None, ge=0, le=10)
    on_no_fit: Literal["fail", "ask"] = "fail"
    tie_break_model: str | None = None
    tie_break_margin: float = pydantic.Field(0.25, gt=0, le=1)


def compile_router(check: Checker, raw: JSON) -> RouterSpec | None:
    """The router section, if the file has one (``router: {}`` takes every default)."""
    if raw is None:
        return None
    m = check.model(_RouterBody, raw, ("router",))
    if m is None:
        return None
    model = m.tie_break_model
    if model is not None and (":" not in model or model.startswith(":") or model.endswith(":")):
        check.add(
            ("router", "tie_break_model"),
            f"a model is named provider:model (e.g. openai:gpt-4o-mini), not {model!r}",
        )
        return None
    return RouterSpec(
        relevance=m.relevance,
        min_score=m.min_score,
        on_no_fit=m.on_no_fit,
        tie_break_model=model,
        tie_break_margin=m.tie_break_margin,
    )


__all__ = ["compile_router"]
