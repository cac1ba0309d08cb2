"""What the API does, without HTTP: read runs from the store, start and steer them.

The routes translate requests into calls here and the errors raised here into responses
(`podium.server._errors`): `RunNotFound` is a 404, `Conflict` and `LeaseHeld` a 409, a
`ConfigError` a 422.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

from podium.events import AnyEvent
from podium.exceptions import ConfigError, LeaseHeld, PodiumError, RunNotFound
from podium.metrics import ALERTS_RUN_ID
from podium.plan import Workflow
from podium.policy import Approval
from podium.runtime import Orchestrator, RunState, new_run_id
from podium.runtime._approvals import record_decision
from podium.server._models import ApprovalOut, FeedbackOut, RunDetail, RunList, RunSummary
from podium.server._registry import WorkflowRegistry
from podium.server._runner import AlreadyDriven, Runner
from podium.server._views import approval_out, detail, summary
from podium.store import RunInfo
from podium.store._lease import Lease
from podium.store._protocol import FINAL, pending_requests

JSON = Any
MAX_SCAN = 100_000
"""At most this many of the newest runs are searched by one filtered listing."""
SUMMARY_CACHE = 10_000


class Conflict(PodiumError):
    """The request clashes with the run's state (finished, not parked, another workflow)."""


class BadCursor(ConfigError):
    """A `cursor` that this server did not hand out."""


CURSOR_PATTERN = r"^[0-9]{1,40}(\.[0-9]{1,20})?~.{0,256}$"
"""What a cursor looks like (``CREATED~RUN_ID``): any string of this shape decodes."""


def encode_cursor(info: RunInfo) -> str:
    return f"{info.created_at:.17f}~{info.run_id}"  # 17 places: it reads back exactly


def decode_cursor(cursor: str) -> tuple[float, str]:
    ts, sep, run_id = cursor.partition("~")
    try:
        if sep:
            return float(ts), run_id
    except ValueError:
        pass
    raise BadCursor("cursor: not one this server handed out (pass next_cursor back)")


class Service:
    """The server's operations on one orchestrator's store."""

    def __init__(self, orch: Orchestrator, registry: WorkflowRegistry, runner: Runner) -> None:
        self.orch = orch
        self.store = orch.store
        self.registry = registry
        self.runner = runner
        self._finished: OrderedDict[str, tuple[int, RunSummary]] = OrderedDict()

    # -- reading ------------------------------------------------------------------------------

    async def info(self, run_id: str) -> RunInfo:
        info = await self.store.get_run(run_id)
        if info is None:
            raise RunNotFound(f"no run {run_id!r} in this store")
        return info

    async def events(self, run_id: str, *, after: int = -1) -> list[AnyEvent]:
        return await self.store.load(run_id, after_seq=after)

    async def summary(self, info: RunInfo) -> RunSummary:
        cached = self._finished.get(info.run_id)
        if cached is not None and cached[0] == info.events:
            self._finished.move_to_end(info.run_id)
            return cached[1]
        state = RunState.from_events(info.run_id, await self.store.load(info.run_id))
        row = summary(state, info, now=self.orch.clock())
        if info.status in FINAL:  # it no longer changes (but for feedback: new event count)
            self._finished[info.run_id] = (info.events, row)
            if len(self._finished) > SUMMARY_CACHE:
                self._finished.popitem(last=False)
        return row

    async def run_summary(self, run_id: str) -> RunSummary:
        return await self.summary(await self.info(run_id))

    async def list_runs(
        self,
        *,
        status: set[str] | None,
        workflow: str | None,
        since: float | None,
        until: float | None,
        limit: int,
        cursor: str | None,
    ) -> RunList:
        """Newest first, filtered, one page at a time."""
        after = decode_cursor(cursor) if cursor else None

        def wanted(i: RunInfo) -> bool:
            return (
                i.run_id != ALERTS_RUN_ID  # the drift alerts' journal is not a run
                and (status is None or i.status in status)
                and (workflow is None or i.name == workflow)
                and (since is None or i.created_at >= since)
                and (until is None or i.created_at <= until)
                and (after is None or (i.created_at, i.run_id) < after)
            )

        scan = 1000
        while True:
            infos = await self.store.list_runs(limit=scan)
            matched = sorted(
                filter(wanted, infos), key=lambda i: (i.created_at, i.run_id), reverse=True
            )
            if len(matched) > limit or len(infos) < scan or scan >= MAX_SCAN:
                break
            scan *= 4
        page = matched[:limit]
        more = len(matched) > limit
        runs = [await self.summary(i) for i in page]
        return RunList(runs=runs, next_cursor=encode_cursor(page[-1]) if more else None)

    async def detail(self, run_id: str) -> RunDetail:
        info = await self.info(run_id)
        events = await self.store.load(run_id)
        state = RunState.from_events(run_id, events)
        pending: list[Approval] = []
        if state.status == "waiting":
            pending = [Approval.from_request(ev) for ev in pending_requests(events, limit=1000)]
        return detail(state, info, events, pending, now=self.orch.clock())

    async def approvals(self, *, limit: int) -> list[ApprovalOut]:
        found = await self.orch.approvals(limit=limit)
        names: dict[str, str] = {}
        for a in found:
            if a.run_id not in names:
                info = await self.store.get_run(a.run_id)
                names[a.run_id] = info.name if info is not None else ""
        return [approval_out(a, names[a.run_id]) for a in found]

    # -- acting -------------------------------------------------------------------------------

    async def submit(
        self, workflow: str, inputs: Mapping[str, JSON], run_id: str | None, *, by: str
    ) -> tuple[RunSummary, bool]:
        """Start a run in the background; ``(run, created)``. An existing `run_id` with the same
        workflow is that run (not started again); with another workflow, a `Conflict`."""
        try:
            wf = self.registry.resolve(workflow)
        except LookupError:
            raise RunNotFound(
                f"no workflow {workflow!r} is offered here (see GET /api/workflows)"
            ) from None
        if run_id is not None and (existing := await self.store.get_run(run_id)) is not None:
            return await self._existing(existing, wf), False
        run_id = run_id or new_run_id()
        try:
            await self.runner.start(
                run_id,
                lambda on_event: self.orch.run(
                    wf, inputs=inputs, run_id=run_id, on_event=on_event, by=by
                ),
            )
        except (LeaseHeld, AlreadyDriven):  # the same run id submitted at once: it is that run
            if (existing := await self.store.get_run(run_id)) is None:
                raise
            return await self._existing(existing, wf), False
        return await self.run_summary(run_id), True

    async def _existing(self, info: RunInfo, wf: Workflow) -> RunSummary:
        """An existing run asked for again: itself, if it was submitted with `wf`."""
        state = RunState.from_events(info.run_id, await self.store.load(info.run_id))
        try:
            self.orch.binding.check(state, wf, self.orch.agents_for(wf), upgrade=False)
        except ConfigError as exc:
            raise Conflict(str(exc)) from None
        return await self.summary(info)

    async def resume(self, run_id: str, *, by: str) -> RunSummary:
        info = await self.info(run_id)
        if info.status in FINAL:
            raise Conflict(f"run {run_id!r} has finished ({info.status}); fork it to run it again")
        lease = await self.orch.leases.acquire(run_id)  # LeaseHeld: driven elsewhere (409)
        await self._resume_with(lease, by=by)
        return await self.run_summary(run_id)

    async def _resume_with(self, lease: Lease, *, by: str) -> None:
        """Drive a run in the background with its lease in hand (the drive releases it)."""
        if self.runner.closing:
            await self.orch.leases.release(lease)
        await self.runner.start(
            lease.run_id,
            lambda on_event: self.orch.resume_leased(lease, on_event=on_event, by=by),
        )

    async def cancel(self, run_id: str, reason: str, *, by: str) -> RunSummary:
        info = await self.info(run_id)
        if info.status in FINAL:
            raise Conflict(f"run {run_id!r} has finished already ({info.status})")
        await self.orch.cancel_run(run_id, reason, by=by)
        return await self.run_summary(run_id)

    async def fork(
        self,
        run_id: str,
        task: str,
        *,
        inputs: Mapping[str, JSON] | None,
        instruction: str | None,
        agent: str | None,
        by: str,
    ) -> RunSummary:
        await self.info(run_id)
        fork_id = new_run_id()
        await self.runner.start(
            fork_id,
            lambda on_event: self.orch.fork(
                run_id,
                task,
                inputs=inputs,
                instruction=instruction,
                agent=agent,
                fork_id=fork_id,
                on_event=on_event,
                by=by,
            ),
        )
        return await self.run_summary(fork_id)

    async def decide(
        self,
        run_id: str,
        task: str,
        *,
        granted: bool,
        by: str,
        comment: str | None,
        resume: bool,
    ) -> tuple[ApprovalOut, RunSummary]:
        """Record a decision under the run's lease, then resume the run here with that lease."""
        info = await self.info(run_id)
        events = await self.store.load(run_id)
        if not any(ev.task == task for ev in pending_requests(events, limit=1000)):
            raise RunNotFound(f"run {run_id!r} has no pending approval on task {task!r}")
        lease = await self.orch.leases.acquire(run_id)
        handed = False
        try:
            decided = await record_decision(
                self.store,
                run_id,
                task,
                granted=granted,
                by=by,
                comment=comment,
                now=self.orch.clock,
                fence=lease.token,
            )
            if resume:
                handed = True  # the drive releases it
                await self._resume_with(lease, by=by)
        finally:
            if not handed:
                await self.orch.leases.release(lease)
        return approval_out(decided, info.name), await self.run_summary(run_id)

    async def feedback(self, run_id: str, score: int, *, by: str, comment: str) -> FeedbackOut:
        await self.info(run_id)
        ev = await self.orch.feedback(run_id, score, by=by, comment=comment)
        return FeedbackOut(
            run_id=ev.run_id, seq=ev.seq, score=ev.score, comment=ev.comment, by=ev.by, ts=ev.ts
        )


__all__ = ["CURSOR_PATTERN", "BadCursor", "Conflict", "Service", "decode_cursor", "encode_cursor"]
