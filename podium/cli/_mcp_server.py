"""Podium as an MCP server: a workflow or a team as tools and resources for any MCP host.

Tools (each returns JSON; a Podium error is a tool error with Podium's message):

- ``run_workflow`` (a workflow file) / ``run_goal`` (an agents file): start a run and return its
  id, or with ``wait`` drive it to its end, reporting each finished task as progress;
- ``get_run``: a run's status, output, per-task outcomes and usage;
- ``list_approvals``, ``approve``, ``reject``: what parked runs wait for, and the decision,
  recorded as made by ``mcp:<caller>`` (the HTTP user, else the client's name);
- ``ask_<agent>``: one task for one agent of the team, its output returned.

Resources: ``podium://runs`` (recent runs), ``podium://runs/{run_id}`` (a run's result) and
``podium://runs/{run_id}/journal`` (its events).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import msgspec
from mcp.server import MCPServer
from mcp.server.auth.middleware.auth_context import get_access_token
from mcp.server.auth.provider import AccessToken
from mcp.server.auth.settings import AuthSettings
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError

from podium.cli._mcp_runs import BackgroundRuns
from podium.events import AnyEvent, TaskFailed, TaskSucceeded
from podium.exceptions import PodiumError
from podium.plan import Plan, Task
from podium.plan._workflow import InputSpec, Workflow
from podium.policy import Policy
from podium.runtime import Orchestrator, RunResult, new_run_id
from podium.server._auth import AuthConfig, Permission, Principal

JSON = Any
MAX_RUNS_LISTED = 100
Progress = Callable[[float, float | None, str | None], Any]


def build_server(
    orch: Orchestrator,
    workflow: Workflow,
    runs: BackgroundRuns,
    *,
    team: bool,
    auth: AuthConfig | None = None,
    url: str | None = None,
) -> MCPServer:
    """The MCP server of `workflow` (an agents file when `team`), driving runs with `orch`.

    With `auth` (a tokens file, `podium serve --auth`'s) the streamable HTTP endpoint at `url`
    wants a bearer token: each token stands for a user and roles, the tools check the role
    (``viewer`` reads, ``operator`` runs and asks agents, ``approver`` decides) and the journal
    records the user as ``mcp:USER``.
    """
    server: MCPServer = MCPServer(
        f"podium-{workflow.name}",
        instructions=_instructions(workflow, team=team),
        log_level="WARNING",  # the SDK sets up logging with it: only what matters
        token_verifier=TokensVerifier(auth) if auth is not None else None,
        auth=AuthSettings(issuer_url=url, resource_server_url=f"{url}/mcp")  # type: ignore[arg-type]
        if auth is not None and url is not None
        else None,
    )
    calls = _Calls(orch, workflow, runs)
    if team:
        server.add_tool(calls.run_goal, name="run_goal")
    else:
        server.add_tool(calls.run_workflow, name="run_workflow", description=_run_doc(workflow))
    server.add_tool(calls.get_run, name="get_run")
    server.add_tool(calls.list_approvals, name="list_approvals")
    server.add_tool(calls.approve, name="approve")
    server.add_tool(calls.reject, name="reject")
    for agent in workflow.agents:
        server.add_tool(
            calls.asker(agent.name, workflow.policy),
            name=f"ask_{_tool_name(agent.name)}",
            description=f"Give agent {agent.name!r} one task and get its output. "
            + (agent.description or ""),
        )
    json_type = "application/json"
    server.resource(
        "podium://runs", name="runs", description="Recent runs, newest first.", mime_type=json_type
    )(calls.runs_resource)
    server.resource(
        "podium://runs/{run_id}", name="run", description="A run's result.", mime_type=json_type
    )(calls.run_resource)
    server.resource(
        "podium://runs/{run_id}/journal",
        name="journal",
        description="A run's events, in order.",
        mime_type=json_type,
    )(calls.journal_resource)
    return server


def _instructions(workflow: Workflow, *, team: bool) -> str:
    agents = ", ".join(a.name for a in workflow.agents) or "none"
    what = "Plan and run goals for" if team else f"Run the workflow {workflow.name!r} of"
    return f"{what} a Podium team (agents: {agents}). Runs are durable; read them by run id."


def _run_doc(workflow: Workflow) -> str:
    inputs = ", ".join(
        f"{i.name} ({i.type}{'' if i.default is None else ', optional'})"
        for i in workflow.inputs or ()
    )
    return (
        f"Start a run of the workflow {workflow.name!r}. `inputs` maps input names to values"
        f" (inputs: {inputs or 'none'}). Returns the run id at once, or with `wait` the result."
    )


def _tool_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]", "_", name)[:60]


class TokensVerifier:
    """The MCP SDK's bearer-token check, over a tokens file: a token is its user's, with the
    user's roles as its scopes."""

    def __init__(self, auth: AuthConfig) -> None:
        self.auth = auth

    async def verify_token(self, token: str) -> AccessToken | None:
        who = self.auth.verify(token)
        if who is None:
            return None
        return AccessToken(token=token, client_id=who.user, scopes=list(who.roles))


def require(permission: Permission) -> None:
    """Refuse a tool call whose bearer token's roles do not grant `permission`. Without a
    token (stdio, or HTTP on loopback without ``--auth``) the caller is the local user."""
    token = get_access_token()
    if token is None:
        return
    who = Principal(user=token.client_id, roles=tuple(token.scopes))
    if not who.may(permission):
        role = {"read": "viewer", "operate": "operator", "approve": "approver"}[permission]
        raise _tool_error(f"{who.user!r} may not {permission} here: it needs the {role} role")


def caller(ctx: Context) -> str:
    """Who makes the request: ``mcp:<user>`` over authenticated HTTP, else the client's name."""
    token = get_access_token()
    if token is not None:
        return f"mcp:{token.client_id}"
    params = ctx.session.client_params
    name = params.client_info.name if params is not None else ""
    return f"mcp:{name or 'client'}"


def result_json(result: RunResult) -> dict[str, JSON]:
    return result.to_json()


class _Calls:
    """The tools and resources, bound to one orchestrator and workflow."""

    def __init__(self, orch: Orchestrator, workflow: Workflow, runs: BackgroundRuns) -> None:
        self.orch = orch
        self.workflow = workflow
        self.runs = runs
        self.workflows = {workflow.name: workflow}
        """What a run is resumed with after a decision, by the name its journal records."""

    async def _start(
        self, ctx: Context, *, wait: bool, goal: str | None, inputs: dict[str, JSON]
    ) -> dict[str, JSON]:
        require("operate")
        run_id = new_run_id()
        total = len(self.workflow.plan) or None
        by = caller(ctx)

        def drive(told: Callable[[AnyEvent], None]) -> Any:
            return self.orch.run(
                self.workflow, goal=goal, inputs=inputs, run_id=run_id, on_event=told, by=by
            )

        if not wait:
            await _podium(self.runs.start(run_id, drive))
            return {"run_id": run_id, "status": "running"}
        done = 0

        async def progress(event: AnyEvent) -> None:
            nonlocal done
            if isinstance(event, TaskSucceeded | TaskFailed):
                done += 1
                how = "succeeded" if isinstance(event, TaskSucceeded) else "failed"
                await ctx.report_progress(done, total, f"task {event.task} {how}")

        result = await _podium(
            self.orch.run(
                self.workflow, goal=goal, inputs=inputs, run_id=run_id, on_event=progress, by=by
            )
        )
        return result_json(result)

    async def run_workflow(
        self, ctx: Context, inputs: dict[str, Any] | None = None, wait: bool = False
    ) -> dict[str, Any]:
        """Start a run of the workflow (see the tool's description)."""
        return await self._start(ctx, wait=wait, goal=None, inputs=inputs or {})

    async def run_goal(self, goal: str, ctx: Context, wait: bool = False) -> dict[str, Any]:
        """Plan the goal for the team and run the plan. Returns the run id at once, or with
        `wait` the result."""
        return await self._start(ctx, wait=wait, goal=goal, inputs={})

    async def get_run(self, run_id: str) -> dict[str, Any]:
        """A run's status, reason, output, per-task outcomes and usage."""
        require("read")
        return result_json(await _podium(self.orch.result(run_id)))

    async def list_approvals(self) -> list[dict[str, Any]]:
        """What parked runs wait for: pending approvals, oldest first."""
        require("read")
        pending = await _podium(self.orch.approvals(limit=MAX_RUNS_LISTED))
        return [msgspec.to_builtins(a) for a in pending]

    async def approve(
        self, run_id: str, ctx: Context, task: str | None = None, comment: str | None = None
    ) -> dict[str, Any]:
        """Approve what the run waits for (on `task`, when it waits on several); the run then
        goes on in the background. Recorded as decided by this MCP client."""
        return await self._decide(run_id, ctx, task, comment, granted=True)

    async def reject(
        self, run_id: str, ctx: Context, task: str | None = None, comment: str | None = None
    ) -> dict[str, Any]:
        """Reject what the run waits for; the run goes on without it (the task fails)."""
        return await self._decide(run_id, ctx, task, comment, granted=False)

    async def _decide(
        self, run_id: str, ctx: Context, task: str | None, comment: str | None, *, granted: bool
    ) -> dict[str, Any]:
        require("approve")
        by = caller(ctx)
        decide = self.orch.approve if granted else self.orch.reject
        await _podium(decide(run_id, task, by=by, comment=comment, resume=False))

        state = await _podium(self.orch.state(run_id))
        recorded = state.submitted.workflow.get("name") if state.submitted else None
        workflow = self.workflows.get(recorded or "")  # else rebuilt from the journal

        def drive(told: Callable[[AnyEvent], None]) -> Any:
            return self.orch.resume(run_id, workflow=workflow, on_event=told, by=by)

        await _podium(self.runs.start(run_id, drive))
        return {"run_id": run_id, "decision": "approved" if granted else "rejected", "by": by}

    def asker(self, agent: str, policy: Policy | None) -> Callable[..., Any]:
        """The ``ask_<agent>`` tool: a one-task workflow, made once (its wiring is kept)."""
        asked = Workflow(
            name=f"ask-{agent}",
            plan=Plan([Task(id="ask", agent=agent, instruction="{{ inputs.instruction }}")]),
            inputs=(InputSpec(name="instruction", type="string"),),
            policy=policy,
        )
        self.workflows[asked.name] = asked

        async def ask(instruction: str, ctx: Context) -> Any:
            require("operate")
            run = self.orch.run(asked, inputs={"instruction": instruction}, by=caller(ctx))
            result: RunResult = await _podium(run)
            if result.status != "succeeded":
                why = result.message or result.reason
                raise _tool_error(f"agent {agent!r}: run {result.run_id} {result.status}: {why}")
            return result.output

        ask.__doc__ = f"Give agent {agent!r} one task (the instruction) and return its output."
        return ask

    async def runs_resource(self) -> str:
        listed = await self.orch.store.list_runs(limit=MAX_RUNS_LISTED)
        return json.dumps([msgspec.to_builtins(r) for r in listed])

    async def run_resource(self, run_id: str) -> str:
        return json.dumps(result_json(await _podium(self.orch.result(run_id))))

    async def journal_resource(self, run_id: str) -> str:
        events = await _podium(self.orch.events(run_id))
        return msgspec.json.encode(events).decode()


async def _podium(work: Any) -> Any:
    """Await `work`; a Podium error becomes a tool error the caller reads."""
    try:
        return await work
    except PodiumError as exc:
        raise _tool_error(str(exc)) from None


def _tool_error(message: str) -> Exception:
    return ToolError(message)


__all__ = ["build_server", "caller", "result_json"]
