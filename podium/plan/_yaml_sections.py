"""The sections of a workflow file besides ``tasks`` and ``planner`` (inputs, tools, agents,
context, policy, prices, executor, output), each compiled by its own function.

Each function is given what it needs: the file's `Checker` (problems are added to it, not raised),
a `Resolver` when the section names ``module:function`` references, and the `Echoes` when a
broken section makes some of the plan's problems mere echoes.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any

from podium.agents import Agent
from podium.context import ContextPolicy, MergePolicy
from podium.exceptions import ConfigError
from podium.models._prices import Price, parse_price
from podium.plan._references import is_stand_in
from podium.plan._template import render_call
from podium.plan._workflow import INPUT_NAME, ExecutorSpec, InputSpec
from podium.plan._yaml_check import Checker, Resolver, kind_of, suggest
from podium.plan._yaml_nodes import JSON, Loc
from podium.plan._yaml_schema import (
    _AgentBody,
    _ContextBody,
    _InputBody,
    _InterceptorBody,
    _PolicyBody,
    _RayAgentBody,
    _RayBody,
    _ToolBody,
    _ToolUndoBody,
    _UntrustedBody,
)
from podium.plan._yaml_tasks import Echoes
from podium.policy import Policy, UntrustedRules
from podium.tools import EFFECTS, Tool, Undo
from podium.tools._standard import STANDARD, standard_tools

Capabilities = dict[str, tuple[str, ...]]
"""Every declared agent's capabilities, by agent name (for plan validation)."""


def compile_inputs(check: Checker, raw: JSON) -> tuple[list[InputSpec], set[str] | None]:
    """The run inputs, and their names (``None`` when the section is not a list or mapping)."""
    loc: Loc = ("inputs",)
    entries: list[tuple[str, JSON]] | None
    if isinstance(raw, list):
        for i, name in enumerate(raw):
            if not isinstance(name, str):
                check.add((*loc, i), f"an input name must be a string, not a {kind_of(name)}")
        entries = [(name, None) for name in raw if isinstance(name, str)]
    else:
        entries = check.entries(raw, loc, "input names to specs")
    if entries is None:
        return [], None
    specs = []
    for name, body in entries:
        if not INPUT_NAME.match(name):
            check.add((*loc, name), f"invalid input name {name!r}: use letters, digits, _ and -")
        spec = _input(check, name, body, (*loc, name))
        if spec is not None:
            specs.append(spec)
    return specs, {name for name, _ in entries}


def _input(check: Checker, name: str, body: JSON, loc: Loc) -> InputSpec | None:
    m = check.model(_InputBody, body, loc)
    if m is None:
        return None
    spec = InputSpec(name=name, type=m.type, description=m.description)
    if "default" not in m.model_fields_set:
        return spec
    default = m.default
    if default is not None:
        try:
            default = spec.coerce(default)
        except ConfigError as exc:
            check.add((*loc, "default"), str(exc))
            return None
    return InputSpec(name=name, type=m.type, description=m.description, default=default)


def compile_tools(check: Checker, resolve: Resolver, raw: JSON) -> dict[str, Tool | None]:
    """Tools by name (``None`` for one with a reported problem)."""
    table: dict[str, Tool | None] = {}
    undos: dict[str, tuple[_ToolUndoBody, list[str]]] = {}  # entry: its undo, the tools it made
    for name, body in check.entries(raw, ("tools",), "tool names to tools") or ():
        loc = ("tools", name)
        m = check.model(_ToolBody, body, loc)
        table[name] = None
        if m is not None and m.use is not None:
            made = _standard(check, loc, name, m)
            if made:  # else the entry stays, broken (`None`): agents naming it are not told twice
                table.pop(name)
                table.update((t.name, t) for t in made)
                if m.compensate is not None:
                    undos[name] = (m.compensate, [t.name for t in made])
            continue
        function = resolve(m.python, (*loc, "python")) if m is not None and m.python else None
        if m is None or function is None:
            continue
        try:
            table[name] = Tool.from_function(
                function, name=name, description=m.description, effect=m.effect or "read"
            )
        except Exception as exc:  # a signature pydantic cannot describe, and the like
            detail = str(exc) if isinstance(exc, ConfigError) else f"{type(exc).__name__}: {exc}"
            check.add((*loc, "python"), f"cannot make a tool of {m.python!r}: {detail}")
            continue
        if m.compensate is not None:
            undos[name] = (m.compensate, [name])
    return _with_undos(check, undos, table)


def _with_undos(
    check: Checker,
    undos: Mapping[str, tuple[_ToolUndoBody, list[str]]],
    table: dict[str, Tool | None],
) -> dict[str, Tool | None]:
    """Give the side-effecting tools each entry made the entry's ``compensate`` (`Undo`)."""
    for name, (undo, made) in undos.items():
        loc = ("tools", name, "compensate")
        if undo.tool not in table:
            known = ", ".join(sorted(table)) or "none"
            check.add((*loc, "tool"), f"undo tool {undo.tool!r} is not a tool here ({known})")
            continue
        writers = [t for n in made if (t := table[n]) is not None and t.effect != "read"]
        if not writers:
            check.add(loc, f"{name!r} only reads: it has nothing to undo (give it an `effect`)")
        arguments = functools.partial(render_call, undo.arguments)
        for t in writers:
            table[t.name] = dataclasses.replace(
                t, compensate=Undo(tool=undo.tool, arguments=arguments)
            )
    return table


def _standard(check: Checker, loc: Loc, name: str, m: _ToolBody) -> list[Tool]:
    """The tools of a ``use:`` entry, with the file's effect and description where it gives
    them (an effect may only be raised: a standard tool declares the least it has)."""
    assert m.use is not None
    try:
        folder = Path(check.file).parent if check.file else None
        made = standard_tools(m.use, m.with_, name, base_dir=folder)
    except ConfigError as exc:
        check.add((*loc, "with" if m.with_ and m.use in STANDARD else "use"), str(exc))
        return []
    changes: dict[str, Any] = {}
    if m.description is not None:
        changes["description"] = m.description
    lowered = [t for t in made if m.effect and EFFECTS.index(m.effect) < EFFECTS.index(t.effect)]
    for t in lowered:
        check.add((*loc, "effect"), f"{t.name!r} is {t.effect!r}: a file cannot lower it")
    if m.effect is not None and not lowered:
        changes["effect"] = m.effect
    return [dataclasses.replace(t, **changes) for t in made]


def compile_agents(
    check: Checker,
    resolve: Resolver,
    echoes: Echoes,
    raw: JSON,
    tools: Mapping[str, Tool | None],
) -> tuple[list[Agent], Capabilities]:
    """The agents, and every declared agent's capabilities (for plan validation)."""
    agents: list[Agent] = []
    capabilities: Capabilities = {}
    entries = check.entries(raw, ("agents",), "agent names to agents")
    if entries is None:
        echoes.everywhere = {"agent", "capability"}
    for name, body in entries or ():
        m = check.model(_AgentBody, body, ("agents", name))
        if m is None:
            caps = body.get("capabilities") if isinstance(body, dict) else None
            capabilities[name] = (
                tuple(c for c in caps if isinstance(c, str)) if isinstance(caps, list) else ()
            )
            continue
        capabilities[name] = tuple(m.capabilities)
        agent = _agent(check, resolve, name, m, tools)
        if agent is not None:
            agents.append(agent)
    for agent in agents:
        for i, backup in enumerate(agent.backups):
            if backup not in capabilities:
                check.add(
                    ("agents", agent.name, "backups", i),
                    f"unknown backup agent {backup!r}{suggest(backup, list(capabilities))}",
                )
    return agents, capabilities


def _agent(
    check: Checker,
    resolve: Resolver,
    name: str,
    m: _AgentBody,
    tools: Mapping[str, Tool | None],
) -> Agent | None:
    loc = ("agents", name)
    if m.a2a is not None:
        return _remote_agent(check, resolve, name, m)
    if m.model is not None and m.python is not None:
        check.add((*loc, "python"), "give either `model` or `python`, not both")
        return None
    if m.model is None and m.python is None:
        check.add(
            (*loc, "model"),
            "the agent needs `model: provider:model` or `python: module:function`",
            at=loc,
        )
        return None
    function = resolve(m.python, (*loc, "python")) if m.python is not None else None
    chosen = _agent_tools(check, loc, m.tools, tools)
    if (m.python is not None and function is None) or len(chosen) != len(m.tools):
        return None
    try:
        return Agent(
            name=name,
            description=m.description,
            capabilities=tuple(m.capabilities),
            model=m.model,
            function=function,
            tools=tuple(chosen),
            reads=None if m.reads is None else tuple(m.reads),
            writes=None if m.writes is None else tuple(m.writes),
            instructions=m.instructions,
            max_rounds=m.max_rounds,
            max_concurrency=m.max_concurrency,
            metadata=m.metadata,
            retry=m.retry.policy() if m.retry is not None else None,
            backups=tuple(m.backups),
            handoffs=tuple(m.handoffs),
            max_handoffs=m.max_handoffs,
            examples=tuple(m.examples),
            checks=tuple(c.check() for c in m.checks),
            confidence=m.confidence.confidence() if m.confidence is not None else None,
            context_budget=m.context_budget,
            summariser=m.summariser,
        )
    except ConfigError as exc:
        check.add(loc, str(exc))
        return None


A2A_AGENT = "podium.a2a._client:A2AAgent"
"""What makes an agent of ``a2a: URL`` (the ``a2a`` extra); found like a ``python:`` reference."""


def _remote_agent(check: Checker, resolve: Resolver, name: str, m: _AgentBody) -> Agent | None:
    """A remote A2A agent; its card is read now unless `description` and `capabilities` say
    what it does."""
    loc = ("agents", name)
    if m.model is not None or m.python is not None or m.tools:
        check.add((*loc, "a2a"), "an `a2a` agent is remote: no `model`, `python` or `tools`")
        return None
    if m.reads is not None or m.writes is not None:  # it is given no blackboard to bound
        field = "reads" if m.reads is not None else "writes"
        check.add((*loc, field), "an `a2a` agent never sees the blackboard: no `reads`/`writes`")
        return None
    make = resolve(A2A_AGENT, (*loc, "a2a"))
    if make is None:
        return None
    if is_stand_in(make):  # checked, not run: no code imported, no card read
        return Agent(
            name=name, description=m.description, capabilities=tuple(m.capabilities), function=make
        )
    try:
        agent: Agent = make(
            m.a2a,
            name=name,
            description=m.description or None,
            capabilities=m.capabilities or None,
            retry=m.retry.policy() if m.retry is not None else None,
            backups=m.backups,
            max_concurrency=m.max_concurrency,
        )
    except ConfigError as exc:
        check.add((*loc, "a2a"), str(exc))
        return None
    return agent


def _agent_tools(
    check: Checker, loc: Loc, names: list[str], tools: Mapping[str, Tool | None]
) -> list[Tool]:
    """The tools an agent names that were compiled (unknown names reported)."""
    chosen = []
    for i, tool_name in enumerate(names):
        found = tools.get(tool_name)
        if tool_name not in tools:
            check.add(
                (*loc, "tools", i),
                f"unknown tool {tool_name!r}{suggest(tool_name, list(tools))}",
            )
        elif found is not None:
            chosen.append(found)
    return chosen


def compile_context(check: Checker, resolve: Resolver, raw: JSON) -> ContextPolicy:
    """The blackboard's merge policies, by key."""
    policies: dict[str, MergePolicy] = {}
    for key, body in check.entries(raw, ("context",), "blackboard keys to policies") or ():
        loc = ("context", key)
        m = check.model(_ContextBody, body, loc)
        if m is None:
            continue
        reducer = None
        if m.merge == "reduce" and m.reducer is None:
            check.add(
                (*loc, "reducer"),
                "`merge: reduce` needs `reducer: module:function`",
                at=(*loc, "merge"),
            )
        elif m.merge == "reduce" and m.reducer is not None:
            reducer = resolve(m.reducer, (*loc, "reducer"))
        elif m.reducer is not None:
            check.add((*loc, "reducer"), f"`reducer` needs `merge: reduce`, not {m.merge!r}")
        policies[key] = MergePolicy(m.merge, reducer, on_drift=m.on_drift)
    return ContextPolicy(merge=policies)


def compile_policy(check: Checker, raw: JSON) -> Policy | None:
    """The approval policy, if the file has one."""
    m = None if raw is None else check.model(_PolicyBody, raw, ("policy",))
    if m is None:
        return None
    try:
        untrusted = _untrusted(m.untrusted)
    except ConfigError as exc:
        check.add(("policy", "untrusted"), str(exc))
        return None
    return Policy(
        approve_effects=tuple(m.approve_effects),
        approve_risks=tuple(m.approve_risks),
        min_confidence=m.min_confidence,
        approval_ttl_s=m.approval_ttl_s,
        goal_checks=m.goal_checks,
        untrusted=untrusted,
        confidence=m.confidence.confidence() if m.confidence is not None else None,
    )


def _untrusted(m: _UntrustedBody | None) -> UntrustedRules:
    if m is None:
        return UntrustedRules()
    return UntrustedRules(
        on_side_effect=m.on_side_effect,
        tools=dict(m.tools) or None,
        agents=dict(m.agents) or None,
        trusted_tools=tuple(m.trusted_tools),
        untrusted_tools=tuple(m.untrusted_tools),
        untrusted_agents=tuple(m.untrusted_agents),
        judge=m.judge,
    )


def compile_prices(check: Checker, raw: JSON) -> dict[str, Price]:
    """Model prices, USD per million tokens, on top of the orchestrator's."""
    table: dict[str, Price] = {}
    for name, body in check.entries(raw, ("prices",), "model names to prices") or ():
        try:
            table[name] = parse_price(name, body)
        except ConfigError as exc:
            check.add(("prices", name), str(exc))
    return table


HOOKS = ("execute", "request", "call")
"""What an interceptor implements, one or more: attempts, model calls, tool calls."""


def compile_interceptors(check: Checker, resolve: Resolver, raw: JSON) -> list[Any]:
    """The interceptors a file adds, made (a class, or a function that returns one, called with
    the entry's `args`), inside the orchestrator's own.

    ```yaml
    interceptors:
      - audit:Timings                                   # made with no arguments
      - {python: "audit:Limiter", args: {per_minute: 60}}
    ```

    Under ``podium validate`` nothing is imported: the references are looked up in the source.
    """
    loc: Loc = ("interceptors",)
    if raw is None:
        return []
    if not isinstance(raw, list):
        check.add(loc, f"must be a list of `module:Class` references, not a {kind_of(raw)}")
        return []
    made: list[Any] = []
    for i, item in enumerate(raw):
        at: Loc = (*loc, i)
        m = check.model(_InterceptorBody, {"python": item} if isinstance(item, str) else item, at)
        if m is None:
            continue
        maker = resolve(m.python, at if isinstance(item, str) else (*at, "python"))
        if maker is None or is_stand_in(maker):
            continue
        try:
            obj = maker(**m.args)
        except Exception as exc:  # the user's constructor: say what it said
            check.add(
                at, f"making the interceptor {m.python!r} failed: {type(exc).__name__}: {exc}"
            )
            continue
        if not any(callable(getattr(obj, hook, None)) for hook in HOOKS):
            check.add(
                at,
                f"{m.python!r} made a {type(obj).__name__}, which is not an interceptor: it has no"
                " `execute` (attempts), `request` (model calls) or `call` (tool calls) method",
            )
            continue
        made.append(obj)
    return made


_EXECUTORS = ("local", "ray")


def compile_executor(check: Checker, raw: JSON, agents: Collection[str]) -> ExecutorSpec | None:
    """Where the file asks its attempts to run, if it says.

    ```yaml
    executor: ray                 # or local (the default)
    executor:
      ray:
        address: auto             # default: a new local Ray instance
        num_cpus: 4               # of a new local instance
        runtime_env: {pip: [httpx]}
        agents:                   # per agent: Ray resources, attempts at once
          vision: {num_gpus: 1, max_concurrency: 2}
    ```
    """
    loc: Loc = ("executor",)
    if raw is None:
        return None
    if isinstance(raw, str):
        return _named(check, raw)
    if not isinstance(raw, dict):
        check.add(loc, f"must be `local`, `ray` or a mapping `ray: {{...}}`, not a {kind_of(raw)}")
        return None
    unknown = [key for key in raw if key not in _EXECUTORS]
    for key in unknown:
        what = f"unknown executor {key!r}{suggest(str(key), list(_EXECUTORS))}"
        check.add(loc, what, at=(*loc, key))
    if len(raw) != 1:
        check.add(loc, "name one executor: `local` or `ray`")
    if len(raw) != 1 or unknown:
        return None
    ((name, body),) = raw.items()
    if name == "local":
        if body not in (None, {}):
            check.add((*loc, "local"), "the local executor takes no settings")
        return ExecutorSpec(kind="local")
    return _ray(check, body, agents)


def _named(check: Checker, name: str) -> ExecutorSpec | None:
    if name == "local":
        return ExecutorSpec(kind="local")
    if name == "ray":
        return ExecutorSpec(kind="ray")
    check.add(("executor",), f"unknown executor {name!r}{suggest(name, list(_EXECUTORS))}")
    return None


def _ray(check: Checker, raw: JSON, agents: Collection[str]) -> ExecutorSpec | None:
    loc: Loc = ("executor", "ray")
    m = check.model(_RayBody, raw, loc)
    if m is None:
        return None
    resources: dict[str, dict[str, JSON]] = {}
    limits: dict[str, int] = {}
    for name, raw_body in m.agents.items():
        where = (*loc, "agents", name)
        if name not in agents:
            check.add(where, f"unknown agent {name!r}{suggest(name, list(agents))}")
        body = check.model(_RayAgentBody, raw_body, where)
        if body is None:
            continue
        asked = body.model_dump(exclude_none=True, exclude={"max_concurrency"})
        resources[name] = {k: v for k, v in asked.items() if v != {}}
        if body.max_concurrency is not None:
            limits[name] = body.max_concurrency
    return ExecutorSpec(
        kind="ray",
        address=m.address,
        num_cpus=m.num_cpus,
        runtime_env=m.runtime_env,
        agent_resources={k: v for k, v in resources.items() if v},
        max_concurrency=limits,
    )


def compile_output(check: Checker, data: Mapping[str, JSON]) -> JSON:
    """The run's output: a template, a task id or a mapping (or list) of templates."""
    output = data.get("output")
    if output is None or isinstance(output, str | dict | list):
        return output
    check.add(
        ("output",),
        f"must be a template, a task id or a mapping of templates, not a {kind_of(output)}",
    )
    return None
