"""A2A (Agent-to-Agent, spec 1.0) both ways: Podium teams and workflows as A2A agents, and
remote A2A agents in a Podium team.

`create_app` serves a workflow or a team as an A2A agent (``podium a2a serve FILE``): an A2A
task is a Podium run, so it is durable, resumable and visible to ``podium runs``.
`A2AAgent` makes a remote A2A agent an agent of a team.

Needs the ``a2a`` extra (``pip install 'podium[a2a]'``); the SDK is imported on first use, so
importing this package is light. The SDK's own tracing (many spans per message) is off unless
``OTEL_INSTRUMENTATION_A2A_SDK_ENABLED`` says otherwise.
"""

from __future__ import annotations

import importlib
import os
from typing import TYPE_CHECKING, Any

# Before the SDK is imported (it reads this once, at import): its spans are many and named
# after Python methods; Podium emits its own.
os.environ.setdefault("OTEL_INSTRUMENTATION_A2A_SDK_ENABLED", "false")

if TYPE_CHECKING:
    from podium.a2a._client import A2AAgent, RemoteAgentError
    from podium.a2a._serve import A2ASettings, create_app, serve

_WHERE = {
    "A2AAgent": "podium.a2a._client",
    "RemoteAgentError": "podium.a2a._client",
    "A2ASettings": "podium.a2a._serve",
    "create_app": "podium.a2a._serve",
    "serve": "podium.a2a._serve",
}


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'podium.a2a' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


__all__ = ["A2AAgent", "A2ASettings", "RemoteAgentError", "create_app", "serve"]
