"""``/api/runs``: list, submit, read, stream, cancel, resume, fork, decide, rate."""

from __future__ import annotations

from typing import Annotated, get_args

from fastapi import APIRouter, Depends, Header, Path, Query, Response
from fastapi.responses import StreamingResponse

from podium.events import RunStatus
from podium.server._auth import Principal
from podium.server._deps import Context, context, requires
from podium.server._errors import ERROR_RESPONSES, ApiError
from podium.server._models import (
    CancelRequest,
    DecisionOut,
    DecisionRequest,
    EventPage,
    FeedbackOut,
    FeedbackRequest,
    ForkRequest,
    RunDetail,
    RunList,
    RunSummary,
    SubmitRequest,
)
from podium.server._service import CURSOR_PATTERN
from podium.server._stream import event_stream, finished_at
from podium.server._views import event_out

router = APIRouter(prefix="/api", responses=ERROR_RESPONSES, tags=["runs"])

Ctx = Annotated[Context, Depends(context)]
Reader = Annotated[Principal, Depends(requires("read"))]
Operator = Annotated[Principal, Depends(requires("operate"))]
Approver = Annotated[Principal, Depends(requires("approve"))]
RunId = Annotated[str, Path(min_length=1, max_length=128, description="The run id")]
STATUSES = frozenset(get_args(RunStatus))
_ONE = "|".join(sorted(STATUSES))
STATUS_PATTERN = f"^(({_ONE})(,({_ONE}))*)?$"


def _statuses(status: str) -> set[str] | None:
    if not status:
        return None
    wanted = {s.strip() for s in status.split(",") if s.strip()}
    unknown = wanted - STATUSES
    if unknown:
        raise ApiError(
            422, "invalid", f"status: unknown {sorted(unknown)}; one of {sorted(STATUSES)}"
        )
    return wanted


@router.get("/runs", response_model=RunList)
async def list_runs(
    ctx: Ctx,
    _who: Reader,
    *,
    status: Annotated[
        str, Query(pattern=STATUS_PATTERN, description="Comma-separated statuses")
    ] = "",
    workflow: Annotated[str | None, Query(description="A workflow name")] = None,
    since: Annotated[
        float | None, Query(allow_inf_nan=False, description="Started at or after (epoch s)")
    ] = None,
    until: Annotated[
        float | None, Query(allow_inf_nan=False, description="Started at or before (epoch s)")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: Annotated[str, Query(pattern=f"({CURSOR_PATTERN})|(^$)")] = "",
) -> RunList:
    return await ctx.service.list_runs(
        status=_statuses(status),
        workflow=workflow,
        since=since,
        until=until,
        limit=limit,
        cursor=cursor or None,
    )


@router.post(
    "/runs",
    response_model=RunSummary,
    status_code=201,
    responses={200: {"model": RunSummary, "description": "That run id exists already"}},
)
async def submit_run(
    body: SubmitRequest, ctx: Ctx, who: Operator, response: Response
) -> RunSummary:
    run, created = await ctx.service.submit(body.workflow, body.inputs, body.run_id, by=who.user)
    if not created:
        response.status_code = 200
    return run


@router.get("/runs/{run_id}", response_model=RunDetail)
async def get_run(run_id: RunId, ctx: Ctx, _who: Reader) -> RunDetail:
    return await ctx.service.detail(run_id)


@router.get("/runs/{run_id}/events", response_model=EventPage)
async def get_events(
    run_id: RunId,
    ctx: Ctx,
    _who: Reader,
    after: Annotated[int, Query(ge=-1, description="Events after this seq")] = -1,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
) -> EventPage:
    end = await finished_at(ctx.service.store, run_id)
    events = (await ctx.service.events(run_id, after=after))[:limit]
    last = events[-1].seq if events else after
    return EventPage(
        events=[event_out(ev) for ev in events],
        last_seq=last,
        finished=end is not None and last >= end,
    )


@router.get(
    "/runs/{run_id}/stream",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {"schema": {"type": "string"}}}}},
)
async def stream_events(
    run_id: RunId,
    ctx: Ctx,
    _who: Reader,
    after: Annotated[int | None, Query(ge=-1, description="Events after this seq")] = None,
    last_event_id: Annotated[str, Header(pattern=r"^(-?[0-9]{1,18})?$")] = "",
) -> StreamingResponse:
    """Server-Sent Events (``id: seq``, ``event: kind``, ``data: json``) until the final event."""
    start = after
    if start is None and last_event_id:
        try:
            start = int(last_event_id)
        except ValueError:
            raise ApiError(422, "invalid", "Last-Event-ID: expected a sequence number") from None
    await finished_at(ctx.service.store, run_id)  # 404 before the stream starts
    body = event_stream(
        ctx.service.store, ctx.notifier, run_id, after=max(-1, start or -1), poll_s=ctx.poll_s
    )
    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    return StreamingResponse(body, media_type="text/event-stream", headers=headers)


@router.post("/runs/{run_id}/cancel", response_model=RunSummary)
async def cancel_run(
    run_id: RunId, ctx: Ctx, who: Operator, body: CancelRequest | None = None
) -> RunSummary:
    reason = body.reason if body is not None else "cancelled"
    return await ctx.service.cancel(run_id, reason, by=who.user)


@router.post("/runs/{run_id}/resume", response_model=RunSummary, status_code=202)
async def resume_run(run_id: RunId, ctx: Ctx, who: Operator) -> RunSummary:
    return await ctx.service.resume(run_id, by=who.user)


@router.post("/runs/{run_id}/fork", response_model=RunSummary, status_code=201)
async def fork_run(run_id: RunId, body: ForkRequest, ctx: Ctx, who: Operator) -> RunSummary:
    return await ctx.service.fork(
        run_id,
        body.task,
        inputs=body.inputs,
        instruction=body.instruction,
        agent=body.agent,
        by=who.user,
    )


async def _decide(
    ctx: Context,
    run_id: str,
    task: str,
    who: Principal,
    body: DecisionRequest | None,
    *,
    granted: bool,
) -> DecisionOut:
    body = body or DecisionRequest()
    approval, run = await ctx.service.decide(
        run_id, task, granted=granted, by=who.user, comment=body.comment, resume=body.resume
    )
    return DecisionOut(approval=approval, run=run)


@router.post("/runs/{run_id}/approvals/{task}/approve", response_model=DecisionOut)
async def approve(
    run_id: RunId, task: str, ctx: Ctx, who: Approver, body: DecisionRequest | None = None
) -> DecisionOut:
    return await _decide(ctx, run_id, task, who, body, granted=True)


@router.post("/runs/{run_id}/approvals/{task}/reject", response_model=DecisionOut)
async def reject(
    run_id: RunId, task: str, ctx: Ctx, who: Approver, body: DecisionRequest | None = None
) -> DecisionOut:
    return await _decide(ctx, run_id, task, who, body, granted=False)


@router.post("/runs/{run_id}/feedback", response_model=FeedbackOut)
async def feedback(run_id: RunId, body: FeedbackRequest, ctx: Ctx, who: Operator) -> FeedbackOut:
    return await ctx.service.feedback(run_id, body.score, by=who.user, comment=body.comment)


__all__ = ["router"]
