"""Tools: typed functions with a declared effect."""

from podium.tools._tool import EFFECTS, Effect, Tool, ToolContext, result_text, to_json_value, tool

__all__ = ["EFFECTS", "Effect", "Tool", "ToolContext", "result_text", "to_json_value", "tool"]
