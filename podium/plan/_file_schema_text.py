"""What each key of a workflow file means: the descriptions of `_file_schema`'s JSON Schema.

One entry per key of every body model (``""``: the body itself); a test checks that every key
the models have is described here and that nothing here describes a key they do not have.
"""

from __future__ import annotations

__all__ = ["DESCRIPTIONS", "SECTIONS"]

SECTIONS: dict[str, str] = {
    "name": "The workflow's name (default: the file's name without its extension).",
    "description": "What the workflow does, for people and for `podium serve`.",
    "inputs": "Run inputs: a list of names, or a mapping of names to `Input`. An input without"
    " a default is required. Instructions refer to them as `{{ inputs.NAME }}`.",
    "agents": "The team: agent names to `Agent`.",
    "tools": "Tools agents may call, by name: a Python function or a standard tool (`Tool`).",
    "mcp_servers": "MCP servers whose tools agents may name, by server name (`McpServer`).",
    "context": "Merge policy per blackboard key, for writes by tasks that run at once (`Context`).",
    "policy": "What waits for a person's approval (`Policy`).",
    "router": "How tasks that name a capability are routed to an agent (`Router`).",
    "planner": "How a goal is planned into tasks by a model (`Planner`); used by"
    " `podium run FILE --goal …`.",
    "prices": "Model prices in USD per million tokens, on top of the built-in table: model"
    " names to `Price`.",
    "executor": "Where attempts run: `local` (the default), `ray`, or `{ray: Ray}`.",
    "interceptors": "`module:Class` references (or `Interceptor`) made when the file is loaded;"
    " they wrap the run's attempts, model calls and tool calls, before Podium's own.",
    "guardrails": "Rules over what goes into and comes out of attempts, model calls and tool"
    " calls, each decision journaled (`GuardrailDecided`): a kind (`pii`, …) or one of"
    " `PiiGuardrail`, `DenyGuardrail`, `AllowGuardrail`, `MaxSizeGuardrail`,"
    " `SchemaGuardrail`, `PythonGuardrail`; they look in order, after the operator's policy's.",
    "tasks": "The plan: a list of tasks with ids (`TaskWithId`), or a mapping of ids to"
    " `Task`. Required (an agents file, planned from a goal, has none).",
    "output": "What the run returns: a template (`{{ tasks.ID.output }}`), a bare task id, or a"
    " mapping or list of templates. Default: the output of the one task nothing depends on (of"
    " each such task, by id, when there are several).",
}

_EFFECT = "`read`, `write` or `irreversible`"

DESCRIPTIONS: dict[str, dict[str, str]] = {
    "Input": {
        "": "A run input.",
        "type": "The type a value given on the command line or in Python is converted to"
        " (`any`: kept as given).",
        "description": "What the input is for.",
        "default": "The value when none is given; without a default, the input is required.",
    },
    "Agent": {
        "": "A named specialist, made from exactly one of `model`, `python` and `a2a`.",
        "description": "What the agent is good at, shown to the router and the planner.",
        "capabilities": "Capability tags a task's `capability` can ask for.",
        "model": "A model-driven agent's model, `provider:name` (`local:smollm2`,"
        " `openai:gpt-4o-mini`, `anthropic:…`, `test`).",
        "python": "A Python agent: `module:function`, called with a `TaskCall`; imported"
        " from the file's folder, the current one or the installed packages.",
        "a2a": "A remote A2A agent's base URL; its card is read when the file is loaded unless"
        " `description` and `capabilities` say what it does. No `tools`.",
        "tools": "Names of tools (from `tools` or `mcp_servers`) a model-driven agent may call:"
        " its allow-list.",
        "reads": "Blackboard keys the agent may read, whatever task it is given: a bound on"
        " every task's `reads` (default: no bound of its own).",
        "writes": "Blackboard keys the agent may write, whatever task it is given (default:"
        " no bound of its own).",
        "instructions": "The agent's role, put at the top of its system prompt.",
        "max_rounds": "Model calls at most per attempt of a task.",
        "max_concurrency": "Tasks this agent may run at once (default: only the global limit).",
        "metadata": "Free-form data; the router reads `cost_tier`, `expected_cost_usd` and"
        " `expected_latency_s` until it has learned them.",
        "retry": "How this agent's tasks are retried when the task does not say.",
        "backups": "Agents that take a task over, in order, when this agent fails for good or"
        " its circuit breaker is open.",
        "handoffs": "Agents a model-driven agent may hand its task over to.",
        "max_handoffs": "Handoffs at most within one attempt of a task that starts here.",
        "examples": "Tasks this agent is right for, in a user's words; the router compares an"
        " instruction with them.",
        "checks": "Verifiers every output of this agent must pass (`Check`s), besides the"
        " task's own.",
        "confidence": "How the confidence of its outputs is measured and acted on, for tasks"
        " that do not say (`Confidence`).",
        "context_budget": "Tokens its prompts may spend on context (blackboard entries, needed"
        " outputs, earlier turns), for tasks that do not say: a number or `{tokens: N}`, at"
        " least 64 (default 1500). More is summarised.",
        "summariser": "The model-driven agent that summarises context over the budget (default:"
        " an extractive summary made in code, offline).",
    },
    "Retry": {
        "": "Retries of one task on one agent. The delay before retry n is"
        " `backoff_s * multiplier ** (n - 1)`, capped at `max_backoff_s`, less a random share"
        " of at most `jitter`.",
        "attempts": "Attempts on one agent, the first included (1: never retry).",
        "backoff_s": "Seconds before the first retry.",
        "max_backoff_s": "Cap on the delay, in seconds.",
        "multiplier": "Growth of the delay from one retry to the next.",
        "jitter": "Share of the delay drawn at random, from 0 to 1.",
        "on": "The error types that are retried (default: every error marked retryable).",
    },
    "Tool": {
        "": "A tool, from exactly one of `python` and `use`.",
        "python": "A Python function, `module:function`; its parameters' annotations give the"
        " tool's JSON Schema and its docstring the description.",
        "use": "A standard tool of `podium.tools`, by kind (see the Tools pages).",
        "with": "A standard tool's options; needs `use`.",
        "effect": f"What calling it does: {_EFFECT}. Default: `read` for a `python` tool, a"
        " standard tool's own (which this may raise, never lower).",
        "description": "What the tool does, for the model (default: the function's docstring).",
        "compensate": "How to undo each successful call of this `write` or `irreversible` tool"
        " should the run fail or be cancelled (`ToolUndo`).",
    },
    "ToolUndo": {
        "": "The undo of one tool call: another tool, with arguments made from the call's"
        " arguments and result when it succeeds, journaled with it, and run latest first.",
        "tool": "The undo tool, one of this file's `tools`.",
        "arguments": "Its arguments; strings may use `{{ arguments.NAME }}` (the call's"
        " arguments) and `{{ result }}` / `{{ result.field }}` (its result).",
    },
    "McpServer": {
        "": "An MCP server, started as a program (`command`) or reached over HTTP (`url`).",
        "command": "The program to start (stdio transport); `python` is the Python running Podium.",
        "args": "The program's arguments; one naming a file beside the workflow file is made"
        " absolute.",
        "env": "Environment variables for the program; `${NAME}` is read from the environment"
        " when connecting.",
        "cwd": "The program's working folder, relative to the workflow file's.",
        "url": "The server's streamable-HTTP endpoint, `http://` or `https://`.",
        "headers": "HTTP headers (`${NAME}` is read from the environment when connecting).",
        "tools": "The allow-list of the server's tools (default: all of them).",
        "effect": f"The effect of its tools: {_EFFECT}.",
        "effects": "The effect of particular tools, by name.",
        "egress": "For tools that send what they are given where a call says (a fetch"
        " server's `fetch`), the argument that says where, by tool name: the provenance gate"
        " judges such calls once untrusted content is in context.",
        "prefix": "Put before each of its tools' names (tells servers apart).",
        "timeout_s": "Seconds a tool call may take.",
        "connect_timeout_s": "Seconds connecting may take.",
        "idle_s": "Seconds an unused session stays open.",
    },
    "Context": {
        "": "How writes to one blackboard key merge.",
        "merge": "`error` (two writers conflict), `last` (the last write wins), `append` (a"
        " list of every write) or `reduce` (a function merges).",
        "reducer": "The `module:function` that merges, for `merge: reduce` only.",
        "on_drift": "When the key changes while a task that read it runs: `retry` the task on"
        " the new version (default, once), `accept` its result or `fail` it.",
    },
    "Policy": {
        "": "What waits for a person. A parked run holds nothing in memory; the decision binds"
        " to the exact action (a hash of the tool and its arguments, or of the task and its"
        " instruction).",
        "approve_effects": "Tool effects whose every call waits for approval.",
        "approve_risks": "Task risks that wait for approval before the task runs.",
        "min_confidence": "A result stating a lower confidence waits for approval before it is"
        " committed.",
        "approval_ttl_s": "Seconds a request stays open; an expired one counts as rejected"
        " (default: never expires).",
        "goal_checks": "Check the final outputs of a run from a goal: relevance to the goal,"
        " grounding where sources were given (default true).",
        "untrusted": "What untrusted content (web pages, documents, MCP and remote agents'"
        " replies) in a task's context may cause (`Untrusted`).",
        "confidence": "The `Confidence` of every task whose task and agent set none; combined"
        " with the operator's, the stricter part of each wins.",
    },
    "Untrusted": {
        "": "The provenance gate: a `write` or `irreversible` tool call made while untrusted"
        " content is in the task's context is allowed, asked about or blocked.",
        "on_side_effect": "`ask` a person (default), `block` the call (the model is told why)"
        " or `allow` it; always journaled.",
        "tools": "Per side-effecting tool, an action that replaces `on_side_effect`.",
        "agents": "Per agent, an action that replaces `on_side_effect` (a tool's rule wins).",
        "trusted_tools": "Tools whose output counts as trusted (your own data sources), unless"
        " the operator's policy names them untrusted.",
        "untrusted_tools": "More tools whose output is untrusted (Python tools that pass"
        " outside text on).",
        "untrusted_agents": "Agents whose answers are untrusted besides remote (A2A) ones.",
        "judge": "`context` (default): the action applies to every side-effecting call made"
        " with untrusted content in context; `arguments`: only to calls with an argument whose"
        " text appears in that content (the others go through, journaled).",
    },
    "Router": {
        "": "How the router picks an agent for a task that names a capability.",
        "relevance": "How an agent's description is matched to an instruction: `hybrid` (BM25"
        " and MiniLM embeddings), `bm25`, `embeddings`, or `auto` (hybrid when the"
        " `embeddings` extra is installed, else BM25).",
        "min_score": "The fit under which no agent fits a task (default: the relevance's own"
        ' calibrated threshold; 0: never "no fit").',
        "on_no_fit": "What happens to a task no agent fits: `fail`, or `ask` a person to approve"
        " the closest agent.",
        "tie_break_model": "A `provider:model` that breaks near-ties (default: none).",
        "tie_break_margin": "Relevance gap under which candidates count as tied.",
    },
    "Planner": {
        "": "How a model plans a goal into tasks for the team; every proposal is validated"
        " like a workflow file.",
        "model": "The planner's model, `provider:name`.",
        "max_repairs": "Rounds after a rejected proposal, each carrying its problems.",
        "max_replans": "Failed branches a run may re-plan.",
        "max_plan_tasks": "Tasks at most in a proposed plan.",
        "answers": "Whether a goal that is one short question may be answered directly.",
        "by_capability": "Whether proposed tasks may name a capability instead of an agent.",
        "fallback": "When no proposal is valid: `agent` (one task for the most relevant"
        " agent), `none` (the run fails) or a default plan (`Fallback`).",
    },
    "Fallback": {
        "": "A default plan, compiled and validated like `tasks`; its instructions may use"
        " `{{ inputs.goal }}`.",
        "tasks": "Its tasks, each with an id.",
        "output": "Its output, as the file's `output`.",
    },
    "Ray": {
        "": "Run attempts as Ray tasks (`pip install 'podium[ray]'`).",
        "address": "The Ray cluster (`auto`, `ray://HOST:PORT`, `HOST:PORT`); default: a new"
        " local Ray instance.",
        "num_cpus": "CPUs of a new local instance.",
        "runtime_env": "Ray's runtime environment for the attempts (e.g. `{pip: [httpx]}`).",
        "agents": "Per agent name: Ray resources and attempts at once (`RayAgent`).",
    },
    "RayAgent": {
        "": "What one agent's attempts ask of Ray.",
        "num_cpus": "CPUs per attempt.",
        "num_gpus": "GPUs per attempt.",
        "memory": "Bytes of memory per attempt.",
        "resources": "Custom Ray resources per attempt.",
        "accelerator_type": "The accelerator an attempt needs.",
        "max_concurrency": "Attempts of this agent at once.",
    },
    "Interceptor": {
        "": "An interceptor made with arguments.",
        "python": "`module:Class` (or a function that returns an interceptor).",
        "args": "Keyword arguments it is made with.",
    },
    "Task": {
        "": "One node of the plan; names an `agent` or a `capability` (the router then picks"
        " the agent).",
        "id": "Unique within the plan: letters, digits, `_` and `-`. In a mapping of tasks, the"
        " key is the id.",
        "instruction": "What to do; may use `{{ inputs.NAME }}`, `{{ tasks.ID.output }}` and,"
        " in a mapped task, `{{ item }}`.",
        "agent": "The agent that does it.",
        "capability": "The capability the agent must have, when `agent` is not given.",
        "needs": "Ids of the tasks whose outputs this one receives; it runs after them.",
        "reads": "Blackboard keys the task may read.",
        "writes": "Blackboard keys the task may write; a write to another fails the attempt"
        " (default: any key).",
        "optional": "The run may finish without this task (`partially_succeeded`); what needs"
        " it gets `null`.",
        "map": "`tasks.ID.output` or `inputs.NAME`, a list: one sub-task per item, outputs"
        " joined in order.",
        "output_schema": "A JSON Schema the output must match.",
        "retries": "Extra attempts right after a failure (`retry` says more; give one of them).",
        "timeout_s": "Seconds an attempt may take.",
        "risk": "`low`, `medium` or `high`; the policy's `approve_risks` may make it wait.",
        "approval": "`required`: the task waits for a person's approval before it runs.",
        "retry": "Attempts, backoff and which errors to retry.",
        "backups": "Agents that take the task over, in order, when its agent fails for good.",
        "budget": "What the task and its map children may spend.",
        "checks": "Verifiers its output must pass: `Check`s, or kinds by name (`[relevance,"
        " language]`). A failing one retries with its feedback, then a backup, then `on_fail`.",
        "confidence": "How its output's confidence is measured (`samples` compared, checks,"
        " grounding, routing margin) and what happens when it is low (`Confidence`).",
        "compensate": "How to undo the task once it succeeded, should the run fail or be"
        " cancelled later, or on `podium rollback` (`Compensate`).",
        "context_budget": "Tokens a model-driven agent's prompt may spend on context: a number"
        " or `{tokens: N}`, at least 64 (default: the agent's, else 1500).",
        "on_drift": "When a key it read changed before it finished, for keys whose policy does"
        " not say: `retry` (default, once), `accept` or `fail`.",
    },
    "Confidence": {
        "": "Confidence in an output from measured signals, journaled as `ConfidenceMeasured`.",
        "samples": "Runs of the agent per attempt (1 to 9), compared; the medoid output is kept"
        " and their agreement is a signal (default 1: no sampling).",
        "min": "The lowest confidence committed without a person's look (default: measure only).",
        "on_low": "Below `min`: `ask` a person (default; checks that disagree ask too), `fail`"
        " the task, or `accept`.",
    },
    "Compensate": {
        "": "An undo (a saga's compensating step): a `tool` with `arguments`, or an `agent` with"
        " an `instruction`. Undos run latest first, each journaled; one cut short by a crash"
        " runs again with the same idempotency key.",
        "tool": "A tool of one of the workflow's agents, called with `arguments` and the undo's"
        " idempotency key (`ToolContext.idempotency_key`).",
        "arguments": "The tool's arguments; strings may use `{{ inputs.NAME }}` and"
        " `{{ tasks.ID.output }}` (the task's own output among them).",
        "agent": "The agent that undoes the task.",
        "instruction": "What the agent is to do; a template like `arguments`.",
    },
    "Check": {
        "": "A verifier of outputs; its verdict is journaled with its evidence.",
        "kind": "`schema`, `rule`, `judge`, `grounding` (each claim cites a given source id in"
        " brackets that supports it), `relevance` (answers the instruction) or `language`.",
        "name": "How verdicts and errors name it (default: its kind).",
        "on_fail": "`retry` (default: retry with the check's feedback, then a backup agent, then"
        " fail), `escalate` (the same, then a person's approval) or `fail` (at once).",
        "retries": "Retries with feedback on the same agent before a backup (default 2).",
        "threshold": "Lowest passing score in [0, 1] of `grounding` (per claim; default 0.5) and"
        " `relevance` (default 0.3).",
        "schema": "The JSON Schema of a `schema` check.",
        "rule": "`module:function` of a `rule` check, called with `(output, call)`; returns"
        " `None` or why the output fails.",
        "judge": "The agent (model-driven) of a `judge` check; it answers `{pass, reason}`.",
        "rubric": "What the judge looks for.",
        "language": "Expected language of a `language` check: `en`, `es`, `fr`, `de`, `it`,"
        " `pt` or `nl` (default: the instruction's).",
        "embeddings": "Add sentence-embedding similarity to `grounding` and `relevance`"
        " (default: when the `embeddings` extra is installed).",
    },
    "TaskWithId": {"": "A `Task` in a list, which must have its `id`."},
    "Budget": {
        "": "Limits on what a task spends; passing one fails the task with reason `budget`.",
        "tokens": "Input and output tokens of every model call.",
        "usd": "Dollars, at the model prices.",
        "wall_s": "Seconds from the start of the latest attempt.",
        "steps": "Model calls and tool calls.",
        "fallback_model": "A `provider:name` to switch to when the budget runs low.",
        "fallback_below": "Switch once less than this share of the token or dollar budget is left.",
        "output_estimate": "Output tokens assumed for a request that sets no `max_tokens`.",
    },
    "Price": {
        "": "USD per million tokens: `{input_per_mtok, output_per_mtok}`, `{input, output}` or"
        " `[input, output]`.",
    },
}

_GUARD_SCOPE: dict[str, str] = {
    "kind": "The kind of guardrail.",
    "name": "What its decisions and errors are called (default: its kind, numbered when the"
    " kind comes again: `deny`, `deny-2`); unique in the file.",
    "stages": "Where it looks: `attempt` (an attempt's instruction and inputs, its output and"
    " context writes), `model` (model requests' messages and responses), `tool` (tool calls'"
    " arguments and results); one or a list.",
    "direction": "`input`, `output` or `both` (default).",
    "tasks": "Only these tasks (default: every task).",
    "agents": "Only these agents (default: every agent).",
    "tools": "Only calls of these tools (default: every tool).",
    "audit": "Journal `allow` decisions too (default: only redact, block and flag).",
}
_PATTERN_RULES: dict[str, str] = {
    "words": "Words found anywhere in a text, in any case.",
    "patterns": "Regular expressions (Python syntax; `(?i)` for any case).",
    "fields": "Look only at these keys of a mapping (a tool's arguments, the inputs), at any"
    " depth (default: every string).",
}

DESCRIPTIONS.update(
    {
        "PiiGuardrail": {
            "": "Personal data found by Microsoft Presidio (the `guardrails` extra) and"
            " redacted (as `<EMAIL_ADDRESS>`), blocked or flagged; default stage `attempt`.",
            **_GUARD_SCOPE,
            "action": "`redact` (default), `block` or `flag`.",
            "entities": "Entity types: `EMAIL_ADDRESS`, `PHONE_NUMBER`, `CREDIT_CARD`,"
            " `IBAN_CODE`, `IP_ADDRESS`, `US_SSN`, `CRYPTO` (the default), `URL`, `DATE_TIME`,"
            " … and, with `ner_model`, `PERSON`, `LOCATION`, `ORGANIZATION`, `NRP`.",
            "min_score": "Presidio's confidence below which a match is ignored (default 0.3).",
            "ner_model": "An installed spaCy pipeline (package or folder) for names and places;"
            " never downloaded (default: patterns only).",
            "language": "The texts' language (default `en`).",
        },
        "DenyGuardrail": {
            "": "Refuses text matching a word or a pattern; default stages `attempt` and `tool`.",
            **_GUARD_SCOPE,
            **_PATTERN_RULES,
            "action": "`block` (default), `flag` or `redact` (each match becomes `[REDACTED]`).",
        },
        "AllowGuardrail": {
            "": "Lets through only text matching a word or a pattern (every string looked at);"
            " default stage `tool`.",
            **_GUARD_SCOPE,
            **_PATTERN_RULES,
            "action": "`block` (default) or `flag`.",
        },
        "MaxSizeGuardrail": {
            "": "Refuses a value larger than a limit, each measured on its own as text (JSON for"
            " a non-string); default stages `attempt` and `tool`.",
            **_GUARD_SCOPE,
            "max_chars": "Characters at most.",
            "max_bytes": "Bytes of UTF-8 at most.",
            "action": "`block` (default) or `flag`.",
        },
        "SchemaGuardrail": {
            "": "Refuses an output (or, at `tool`, a result) outside a JSON Schema: a gate, not a"
            " repair like a task's `output_schema`.",
            **{k: v for k, v in _GUARD_SCOPE.items() if k != "direction"},
            "schema": "The JSON Schema.",
            "action": "`block` (default) or `flag`.",
        },
        "PythonGuardrail": {
            "": "One's own guardrail: a factory called with `args` that returns a"
            " `podium.policy.Guardrail`.",
            "python": "`module:function` (or a class), imported like an agent's.",
            "args": "Keyword arguments of the factory.",
        },
    }
)
