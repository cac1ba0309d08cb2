"""The MCP client's errors: a server that cannot be reached is a retryable tool error."""

from __future__ import annotations

from podium.exceptions import ToolError


class McpUnavailable(ToolError):
    """An MCP server could not be reached, died, or did not answer in time.

    The model reads the message like any tool error; the call may succeed when made again
    (`retryable`), since the next call opens a new session.
    """

    retryable = True

    def __init__(self, server: str, detail: str) -> None:
        self.server = server
        super().__init__(f"MCP server {server!r} is unavailable: {detail}")


__all__ = ["McpUnavailable"]
