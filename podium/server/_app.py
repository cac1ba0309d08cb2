"""The FastAPI application: lifespan (the orchestrator and its background runs), auth, routes."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib import resources
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse, HTMLResponse
from fastapi.staticfiles import StaticFiles

import podium
from podium.runtime import Orchestrator
from podium.runtime._digest import load_recorded
from podium.server._auth import local_principal
from podium.server._deps import Context
from podium.server._errors import install_error_handlers
from podium.server._limits import BodyLimit
from podium.server._registry import WorkflowRegistry
from podium.server._routes_more import router as more_router
from podium.server._routes_runs import router as runs_router
from podium.server._runner import Runner
from podium.server._service import Service
from podium.server._settings import ServerSettings
from podium.server._stream import Notifier


def _static_dir() -> str | None:
    folder = resources.files("podium.server").joinpath("static")
    return str(folder) if folder.is_dir() else None


def build_app(orchestrator: Orchestrator | None, settings: ServerSettings) -> FastAPI:
    """The app; it opens (and, if it made it, closes) the orchestrator in its lifespan."""
    registry = WorkflowRegistry(settings.workflows, allowed_modules=settings.allowed_modules)
    local = local_principal()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        orch = orchestrator or Orchestrator(
            store=settings.store,
            workflow_loader=functools.partial(
                load_recorded, allowed_modules=settings.allowed_modules
            ),
        )
        await orch.open()
        notifier = Notifier()
        subscription = orch.subscribe(notifier)
        try:
            async with asyncio.TaskGroup() as group:
                runner = Runner(orch, group)
                service = Service(orch, registry, runner)
                app.state.podium = Context(service, notifier, settings.auth, local, settings.poll_s)
                try:
                    yield
                finally:
                    await runner.shutdown()
        finally:
            app.state.podium = None
            await subscription.close()
            if orchestrator is None:
                await orch.close()

    app = FastAPI(
        title="Podium",
        version=podium.__version__,
        summary="Runs of teams of AI agents: submit, watch, steer, approve.",
        lifespan=lifespan,
    )
    install_error_handlers(app)
    app.add_middleware(BodyLimit)
    _mount(app)
    return app


def _mount(app: FastAPI) -> None:
    app.include_router(runs_router)
    app.include_router(more_router)
    static = _static_dir()
    if static is not None:
        app.mount("/static", StaticFiles(directory=static), name="static")
    index = Path(static, "index.html") if static is not None else None

    @app.get("/", include_in_schema=False, response_model=None)
    async def dashboard() -> FileResponse | HTMLResponse:
        if index is not None and index.is_file():
            return FileResponse(index)
        return HTMLResponse("<h1>Podium</h1><p>No dashboard is installed; the API is at /api/.</p>")


def stop_streams(app: FastAPI) -> None:
    """End the app's live streams now (the server is stopping; callable from any thread)."""
    ctx = getattr(app.state, "podium", None)
    if ctx is not None:
        ctx.notifier.stop()


__all__ = ["build_app", "stop_streams"]
