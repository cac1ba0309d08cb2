"""The rest of the API: who am I, approvals inbox, compare, agents, workflows, metrics,
a run's diagnosis and its audit trail."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import PlainTextResponse

from podium.audit import audit_run
from podium.diagnose import diagnose_run
from podium.metrics import compute_metrics, prometheus_text
from podium.runtime import RunState, compare_runs
from podium.server._auth import Principal
from podium.server._catalog import agents_of, workflows_of
from podium.server._deps import Context, context, requires
from podium.server._errors import ERROR_RESPONSES
from podium.server._models import (
    AgentList,
    ApprovalList,
    AuditEntryOut,
    AuditOut,
    ComparedTask,
    Comparison,
    Me,
    WorkflowList,
)

router = APIRouter(responses=ERROR_RESPONSES)

Ctx = Annotated[Context, Depends(context)]
Reader = Annotated[Principal, Depends(requires("read"))]


@router.get("/api/me", response_model=Me, tags=["auth"])
async def me(ctx: Ctx, who: Reader) -> Me:
    return Me(user=who.user, roles=list(who.roles), auth=ctx.auth is not None)


@router.get("/api/approvals", response_model=ApprovalList, tags=["approvals"])
async def approvals(
    ctx: Ctx, _who: Reader, limit: Annotated[int, Query(ge=1, le=1000)] = 100
) -> ApprovalList:
    """Pending approvals across runs, oldest first, each with the exact action."""
    return ApprovalList(approvals=await ctx.service.approvals(limit=limit))


@router.get("/api/compare", response_model=Comparison, tags=["runs"])
async def compare(
    ctx: Ctx,
    _who: Reader,
    a: Annotated[str, Query(min_length=1, max_length=128)],
    b: Annotated[str, Query(min_length=1, max_length=128)],
) -> Comparison:
    """Two runs task by task: status, agent, output, time and cost."""
    service = ctx.service
    first, second = await service.run_summary(a), await service.run_summary(b)
    sa = RunState.from_events(a, await service.events(a))
    sb = RunState.from_events(b, await service.events(b))
    rows = [
        ComparedTask(
            task=row.task,
            status=row.status,
            agent=row.agent,
            output=row.output,
            seconds=row.seconds,
            cost_usd=row.cost_usd,
            copied=row.copied,
            same_output=row.same_output,
        )
        for row in compare_runs(sa, sb)
    ]
    return Comparison(a=first, b=second, tasks=rows)


@router.get("/api/agents", response_model=AgentList, tags=["agents"])
async def agents(ctx: Ctx, _who: Reader) -> AgentList:
    """Every agent of the offered workflows: health, learned success by task kind, cost."""
    return AgentList(agents=await agents_of(ctx.service))


@router.get("/api/workflows", response_model=WorkflowList, tags=["workflows"])
async def workflows(ctx: Ctx, _who: Reader) -> WorkflowList:
    return WorkflowList(workflows=workflows_of(ctx.service.registry))


@router.get("/api/runs/{run_id}/diagnosis", response_model=dict[str, Any], tags=["runs"])
async def diagnosis(run_id: str, ctx: Ctx, _who: Reader) -> dict[str, Any]:
    """The run's failure modes from its journal, with their evidence (see ``podium diagnose``)."""
    found: dict[str, Any] = (await diagnose_run(ctx.service.store, run_id)).to_json()
    return found


@router.get("/api/runs/{run_id}/audit", response_model=AuditOut, tags=["runs"])
async def audit(
    run_id: Annotated[str, Path(min_length=1, max_length=128, description="The run id")],
    ctx: Ctx,
    _who: Reader,
    actor: Annotated[
        str | None,
        Query(min_length=1, max_length=256, description="Only this actor's (user:alice or alice)"),
    ] = None,
) -> AuditOut:
    """Who did what, when, in the run, from its journal (see ``podium audit``)."""
    entries = await audit_run(ctx.service.store, run_id)
    return AuditOut(
        run_id=run_id,
        entries=[
            AuditEntryOut(**e.to_json()) for e in entries if actor is None or e.done_by(actor)
        ],
    )


async def _report(
    ctx: Context,
    *,
    since: float | None,
    until: float | None,
    workflow: str | None,
    last: int | None,
    buckets: int,
) -> Any:
    return await compute_metrics(
        ctx.service.store, since=since, until=until, workflow=workflow, last=last, buckets=buckets
    )


@router.get("/api/metrics", response_model=dict[str, Any], tags=["metrics"])
async def metrics(
    ctx: Ctx,
    _who: Reader,
    *,
    since: Annotated[
        float | None, Query(allow_inf_nan=False, description="Runs created at or after (epoch s)")
    ] = None,
    until: Annotated[
        float | None, Query(allow_inf_nan=False, description="Runs created at or before (epoch s)")
    ] = None,
    workflow: str | None = None,
    last: Annotated[int | None, Query(ge=1, le=100_000)] = None,
    buckets: Annotated[int, Query(ge=1, le=500)] = 12,
) -> dict[str, Any]:
    """The seed's six metrics and the rest, over a window (see ``podium stats``)."""
    report = await _report(
        ctx, since=since, until=until, workflow=workflow, last=last, buckets=buckets
    )
    data: dict[str, Any] = report.to_json()
    return data


@router.get(
    "/metrics",
    response_class=PlainTextResponse,
    responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}},
    tags=["metrics"],
)
async def prometheus(
    ctx: Ctx,
    _who: Reader,
    since: Annotated[float | None, Query(allow_inf_nan=False)] = None,
    workflow: str | None = None,
) -> PlainTextResponse:
    """The metrics in the Prometheus text format."""
    report = await _report(ctx, since=since, until=None, workflow=workflow, last=None, buckets=12)
    return PlainTextResponse(prometheus_text(report), media_type="text/plain; version=0.0.4")


__all__ = ["router"]
