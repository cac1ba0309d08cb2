"""Tools: typed functions with a declared effect."""

from podium.tools._effects import (
    Admission,
    KeyedGate,
    ToolGate,
    action_hash,
    canonical_json,
    effect_key,
    task_hash,
)
from podium.tools._tool import (
    EFFECTS,
    Effect,
    Tool,
    ToolContext,
    Undo,
    result_text,
    to_json_value,
    tool,
)

__all__ = [
    "EFFECTS",
    "Admission",
    "Effect",
    "KeyedGate",
    "Tool",
    "ToolContext",
    "ToolGate",
    "Undo",
    "action_hash",
    "canonical_json",
    "effect_key",
    "result_text",
    "task_hash",
    "to_json_value",
    "tool",
]
