"""The sections of a workflow file (inputs, tools, agents, context, policy, prices, tasks, output)
compiled, each by its own method of `_Sections`; problems are added, not raised.
"""

from __future__ import annotations

from collections.abc import Mapping

from podium.agents import Agent
from podium.context import ContextPolicy, MergePolicy
from podium.exceptions import ConfigError
from podium.models._prices import Price, parse_price
from podium.plan._references import References
from podium.plan._task import Task
from podium.plan._workflow import INPUT_NAME, InputSpec
from podium.plan._yaml_check import _Checker, _kind, _suggest
from podium.plan._yaml_nodes import JSON, Loc
from podium.plan._yaml_schema import (
    _AgentBody,
    _ContextBody,
    _InputBody,
    _PolicyBody,
    _TaskBody,
    _ToolBody,
)
from podium.policy import Policy
from podium.reliability._budget import Budget
from podium.tools import Tool
from podium.verify import check_schema


class _Sections(_Checker):
    """One method per section of the file; the tasks' lines are kept for the `_Locator`."""

    def __init__(self, file: str | None, lines: Mapping[Loc, int], references: References) -> None:
        super().__init__(file, lines, references)
        self.task_locs: dict[str, Loc] = {}
        self.repeats: dict[str, Loc] = {}
        # the fields whose plan problems would only echo a structure problem: of a task (None:
        # all of them), of every task; and whether the `tasks` section itself is wrong
        self.quiet: dict[str, set[str] | None] = {}
        self.quiet_everywhere: set[str] = set()
        self.quiet_tasks = False

    def inputs(self, raw: JSON) -> tuple[list[InputSpec], set[str] | None]:
        loc: Loc = ("inputs",)
        entries: list[tuple[str, JSON]] | None
        if isinstance(raw, list):
            for i, name in enumerate(raw):
                if not isinstance(name, str):
                    self.add((*loc, i), f"an input name must be a string, not a {_kind(name)}")
            entries = [(name, None) for name in raw if isinstance(name, str)]
        else:
            entries = self.entries(raw, loc, "input names to specs")
        if entries is None:
            return [], None
        specs = []
        for name, body in entries:
            if not INPUT_NAME.match(name):
                self.add((*loc, name), f"invalid input name {name!r}: use letters, digits, _ and -")
            spec = self._input(name, body, (*loc, name))
            if spec is not None:
                specs.append(spec)
        return specs, {name for name, _ in entries}

    def _input(self, name: str, body: JSON, loc: Loc) -> InputSpec | None:
        m = self.model(_InputBody, body, loc)
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
                self.add((*loc, "default"), str(exc))
                return None
        return InputSpec(name=name, type=m.type, description=m.description, default=default)

    def tools(self, raw: JSON) -> dict[str, Tool | None]:
        """Tools by name (``None`` for one with a reported problem)."""
        table: dict[str, Tool | None] = {}
        for name, body in self.entries(raw, ("tools",), "tool names to tools") or ():
            loc = ("tools", name)
            m = self.model(_ToolBody, body, loc)
            function = self.resolve(m.python, (*loc, "python")) if m is not None else None
            table[name] = None
            if m is None or function is None:
                continue
            try:
                table[name] = Tool.from_function(
                    function, name=name, description=m.description, effect=m.effect
                )
            except Exception as exc:  # a signature pydantic cannot describe, and the like
                detail = (
                    str(exc) if isinstance(exc, ConfigError) else f"{type(exc).__name__}: {exc}"
                )
                self.add((*loc, "python"), f"cannot make a tool of {m.python!r}: {detail}")
        return table

    def agents(
        self, raw: JSON, tools: Mapping[str, Tool | None]
    ) -> tuple[list[Agent], dict[str, tuple[str, ...]]]:
        """The agents, and every declared agent's capabilities (for plan validation)."""
        agents: list[Agent] = []
        capabilities: dict[str, tuple[str, ...]] = {}
        entries = self.entries(raw, ("agents",), "agent names to agents")
        if entries is None:
            self.quiet_everywhere = {"agent", "capability"}
        for name, body in entries or ():
            m = self.model(_AgentBody, body, ("agents", name))
            if m is None:
                caps = body.get("capabilities") if isinstance(body, dict) else None
                capabilities[name] = (
                    tuple(c for c in caps if isinstance(c, str)) if isinstance(caps, list) else ()
                )
                continue
            capabilities[name] = tuple(m.capabilities)
            agent = self._agent(name, m, tools)
            if agent is not None:
                agents.append(agent)
        for agent in agents:
            for i, backup in enumerate(agent.backups):
                if backup not in capabilities:
                    self.add(
                        ("agents", agent.name, "backups", i),
                        f"unknown backup agent {backup!r}{_suggest(backup, list(capabilities))}",
                    )
        return agents, capabilities

    def _agent(self, name: str, m: _AgentBody, tools: Mapping[str, Tool | None]) -> Agent | None:
        loc = ("agents", name)
        if m.model is not None and m.python is not None:
            self.add((*loc, "python"), "give either `model` or `python`, not both")
            return None
        if m.model is None and m.python is None:
            self.add(
                (*loc, "model"),
                "the agent needs `model: provider:model` or `python: module:function`",
                at=loc,
            )
            return None
        function = self.resolve(m.python, (*loc, "python")) if m.python is not None else None
        chosen = []
        for i, tool_name in enumerate(m.tools):
            found = tools.get(tool_name)
            if tool_name not in tools:
                self.add(
                    (*loc, "tools", i),
                    f"unknown tool {tool_name!r}{_suggest(tool_name, list(tools))}",
                )
            elif found is not None:
                chosen.append(found)
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
                instructions=m.instructions,
                max_rounds=m.max_rounds,
                max_concurrency=m.max_concurrency,
                metadata=m.metadata,
                retry=m.retry.policy() if m.retry is not None else None,
                backups=tuple(m.backups),
                handoffs=tuple(m.handoffs),
                max_handoffs=m.max_handoffs,
            )
        except ConfigError as exc:
            self.add(loc, str(exc))
            return None

    def context(self, raw: JSON) -> ContextPolicy:
        policies: dict[str, MergePolicy] = {}
        for key, body in self.entries(raw, ("context",), "blackboard keys to policies") or ():
            loc = ("context", key)
            m = self.model(_ContextBody, body, loc)
            if m is None:
                continue
            reducer = None
            if m.merge == "reduce" and m.reducer is None:
                self.add(
                    (*loc, "reducer"),
                    "`merge: reduce` needs `reducer: module:function`",
                    at=(*loc, "merge"),
                )
            elif m.merge == "reduce" and m.reducer is not None:
                reducer = self.resolve(m.reducer, (*loc, "reducer"))
            elif m.reducer is not None:
                self.add((*loc, "reducer"), f"`reducer` needs `merge: reduce`, not {m.merge!r}")
            policies[key] = MergePolicy(m.merge, reducer)
        return ContextPolicy(merge=policies)

    def policy(self, raw: JSON) -> Policy | None:
        m = None if raw is None else self.model(_PolicyBody, raw, ("policy",))
        if m is None:
            return None
        return Policy(
            approve_effects=tuple(m.approve_effects),
            approve_risks=tuple(m.approve_risks),
            min_confidence=m.min_confidence,
            approval_ttl_s=m.approval_ttl_s,
        )

    def prices(self, raw: JSON) -> dict[str, Price]:
        """Model prices, USD per million tokens, on top of the orchestrator's."""
        table: dict[str, Price] = {}
        for name, body in self.entries(raw, ("prices",), "model names to prices") or ():
            try:
                table[name] = parse_price(name, body)
            except ConfigError as exc:
                self.add(("prices", name), str(exc))
        return table

    def tasks(self, raw: JSON) -> list[Task]:
        items: list[tuple[Loc, JSON, str | None]]
        if isinstance(raw, list):
            items = [(("tasks", i), body, None) for i, body in enumerate(raw)]
        else:
            entries = self.entries(raw, ("tasks",), "task ids to tasks")
            if entries is None:
                self.quiet_tasks = True
                return []
            items = [(("tasks", key), body, key) for key, body in entries]
        tasks = []
        for loc, body, key in items:
            task = self._task(loc, body, key)
            if task is not None:
                tasks.append(task)
                if task.id in self.task_locs:
                    self.repeats[task.id] = loc
                self.task_locs.setdefault(task.id, loc)
        return tasks

    def _task(self, loc: Loc, body: JSON, key: str | None) -> Task | None:
        m, bad = self.checked(_TaskBody, body, loc)
        if m is None or (key is None and m.id is None):
            if m is not None and "id" not in bad:
                self.add(loc, "missing required key 'id'")
            return None
        tid = key if key is not None else m.id or ""
        if bad - set(_TaskBody.model_fields):
            self.quiet[tid] = None  # a misspelt key: what it meant is anyone's guess
        elif bad:
            # a task with a faulty `agent` or `capability` names neither
            self.quiet[tid] = bad | (
                {"agent", "capability"} if bad & {"agent", "capability"} else set()
            )
        if key is not None and m.id is not None and m.id != key:
            self.add(
                (*loc, "id"),
                f"id {m.id!r} differs from the task's key {key!r}; drop `id` or make them equal",
            )
        if m.retries and m.retry is not None:
            self.add((*loc, "retry"), "give `retries: N` or `retry: {...}`, not both")
        schema = m.output_schema
        if schema is not None and (error := check_schema(schema)) is not None:
            self.add((*loc, "output_schema"), f"not a valid JSON Schema: {error}")
            schema = None
        return Task(
            id=tid,
            instruction=m.instruction,
            agent=m.agent,
            capability=m.capability,
            needs=tuple(m.needs),
            reads=tuple(m.reads),
            output_schema=schema,
            optional=m.optional,
            map=m.map,
            retries=m.retries,
            timeout_s=m.timeout_s,
            risk=m.risk,
            approval=m.approval,
            retry=m.retry.policy() if m.retry is not None else None,
            backups=tuple(m.backups),
            budget=Budget(**m.budget.model_dump()) if m.budget is not None else None,
        )

    def output(self, data: Mapping[str, JSON]) -> JSON:
        output = data.get("output")
        if output is None or isinstance(output, str | dict | list):
            return output
        self.add(
            ("output",),
            f"must be a template, a task id or a mapping of templates, not a {_kind(output)}",
        )
        return None
