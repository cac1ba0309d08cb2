"""The attribute names and values Podium's spans use.

The GenAI names come from `opentelemetry-semantic-conventions` (0.63b0 or later: the first
with ``gen_ai.workflow.name``). Its ``gen_ai`` constants are "development" and marked as moved
to the GenAI conventions' own repository, so a test pins the values Podium writes
(``gen_ai.provider.name``; ``gen_ai.input.messages`` and ``gen_ai.output.messages`` as JSON).
Podium's own attributes are under ``podium.``.
"""

from __future__ import annotations

from typing import Final

from opentelemetry.semconv._incubating.attributes import gen_ai_attributes as _gen_ai
from opentelemetry.semconv.attributes import error_attributes as _error

OPERATION: Final = _gen_ai.GEN_AI_OPERATION_NAME
PROVIDER: Final = _gen_ai.GEN_AI_PROVIDER_NAME
REQUEST_MODEL: Final = _gen_ai.GEN_AI_REQUEST_MODEL
REQUEST_MAX_TOKENS: Final = _gen_ai.GEN_AI_REQUEST_MAX_TOKENS
REQUEST_TEMPERATURE: Final = _gen_ai.GEN_AI_REQUEST_TEMPERATURE
RESPONSE_MODEL: Final = _gen_ai.GEN_AI_RESPONSE_MODEL
FINISH_REASONS: Final = _gen_ai.GEN_AI_RESPONSE_FINISH_REASONS
INPUT_TOKENS: Final = _gen_ai.GEN_AI_USAGE_INPUT_TOKENS
OUTPUT_TOKENS: Final = _gen_ai.GEN_AI_USAGE_OUTPUT_TOKENS
AGENT_NAME: Final = _gen_ai.GEN_AI_AGENT_NAME
WORKFLOW_NAME: Final = _gen_ai.GEN_AI_WORKFLOW_NAME
TOOL_NAME: Final = _gen_ai.GEN_AI_TOOL_NAME
TOOL_TYPE: Final = _gen_ai.GEN_AI_TOOL_TYPE
TOOL_CALL_ID: Final = _gen_ai.GEN_AI_TOOL_CALL_ID
TOOL_ARGUMENTS: Final = _gen_ai.GEN_AI_TOOL_CALL_ARGUMENTS
TOOL_RESULT: Final = _gen_ai.GEN_AI_TOOL_CALL_RESULT
INPUT_MESSAGES: Final = _gen_ai.GEN_AI_INPUT_MESSAGES
OUTPUT_MESSAGES: Final = _gen_ai.GEN_AI_OUTPUT_MESSAGES
SYSTEM_INSTRUCTIONS: Final = _gen_ai.GEN_AI_SYSTEM_INSTRUCTIONS
ERROR_TYPE: Final = _error.ERROR_TYPE

# `gen_ai.operation.name` values (the conventions' enum is a deprecated class: its values here)
CHAT: Final = "chat"
INVOKE_AGENT: Final = "invoke_agent"
INVOKE_WORKFLOW: Final = "invoke_workflow"
EXECUTE_TOOL: Final = "execute_tool"

RUN_ID: Final = "podium.run_id"
TASK: Final = "podium.task"
ATTEMPT: Final = "podium.attempt"
SEQ: Final = "podium.journal.seq"
"""On a run span, the seq of the event that opened it; on an attempt span, the journal's last
seq when the attempt started."""
END_SEQ: Final = "podium.journal.end_seq"
COST: Final = "podium.cost_usd"
STATUS: Final = "podium.run.status"
RESUMED: Final = "podium.run.resumed"
EFFECT: Final = "podium.tool.effect"
REPLAYED: Final = "podium.tool.replayed"
APPROVAL: Final = "podium.approval"
CANCELLED: Final = "podium.cancelled"
LINK_RELATION: Final = "podium.link"
