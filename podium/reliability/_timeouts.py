"""Time limits on single model calls and tool calls, as wrappers.

Task attempts (`Task.timeout_s`) and runs (`Limits.timeout_s`) have their own limits; these catch
the one call that hangs. Both measure time on the injected clock.
"""

from __future__ import annotations

import dataclasses
import inspect
from typing import Any

from podium._sync import run_sync
from podium.exceptions import ConfigError, ToolError
from podium.reliability._clock import SYSTEM_CLOCK, Clock
from podium.tools._tool import Tool


def tool_with_timeout(tool: Tool, seconds: float, *, clock: Clock = SYSTEM_CLOCK) -> Tool:
    """The same tool, failing with a `ToolError` (which the model sees) after `seconds`.

    A synchronous tool keeps running in its worker thread after the timeout; only the wait ends.
    """
    if seconds <= 0:
        raise ConfigError(f"a tool call timeout must be positive, not {seconds}")
    function = tool.function
    is_async = inspect.iscoroutinefunction(function)

    async def limited(**kwargs: Any) -> Any:
        try:
            async with clock.timeout(seconds):
                if is_async:
                    return await function(**kwargs)
                return await run_sync(function, **kwargs)
        except TimeoutError:
            raise ToolError(f"tool {tool.name!r} took longer than {seconds:g}s") from None

    return dataclasses.replace(tool, function=limited)


__all__ = ["tool_with_timeout"]
