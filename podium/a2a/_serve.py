"""Building and running an A2A server for one workflow or team."""

from __future__ import annotations

from dataclasses import dataclass

from starlette.applications import Starlette

from podium.a2a._app import build_app
from podium.a2a._messages import Target
from podium.plan import Workflow
from podium.runtime import Orchestrator
from podium.server import AuthConfig, check_bind

DEFAULT_PORT = 8701


@dataclass(frozen=True, slots=True, kw_only=True)
class A2ASettings:
    """How an A2A server runs.

    Attributes:
        store: the store URL (``None``: ``PODIUM_STORE``, else the default store).
        url: the public base URL the card gives (default: ``http://HOST:PORT``).
        auth: bearer tokens and roles, as `podium serve` takes them (``None``: no auth,
            localhost only).
        poll_s: how often a follower re-reads a run that another process drives.
        sweep_s: how often the server looks for its workflow's runs that nobody drives (a
            server that died leaves them; its lease has to expire first) and resumes them.
    """

    store: str | None = None
    url: str | None = None
    auth: AuthConfig | None = None
    poll_s: float = 0.5
    sweep_s: float = 5.0


def create_app(
    workflow: Workflow,
    settings: A2ASettings | None = None,
    *,
    orchestrator: Orchestrator | None = None,
    url: str = f"http://127.0.0.1:{DEFAULT_PORT}",
) -> Starlette:
    """The ASGI app serving `workflow` (with tasks) or a team (an agents file, without) as an
    A2A agent.

    Args:
        workflow: what is served: a task's message becomes the workflow's input named
            ``message`` (or its only input), or the team's goal.
        settings: store, public URL, auth.
        orchestrator: runs the tasks (default: one on `settings.store`, owned by the app).
        url: the public base URL when `settings.url` is not set.

    Raises:
        ConfigError: a workflow with several inputs, none named ``message``.
    """
    settings = settings or A2ASettings()
    owns = orchestrator is None
    orch = orchestrator or Orchestrator(store=settings.store)
    return build_app(
        orch,
        Target.of(workflow),
        url=settings.url or url,
        auth=settings.auth,
        poll_s=settings.poll_s,
        sweep_s=settings.sweep_s,
        owns=owns,
    )


def serve(
    workflow: Workflow,
    settings: A2ASettings | None = None,
    *,
    host: str = "127.0.0.1",
    port: int = DEFAULT_PORT,
) -> None:
    """Serve until interrupted; tasks still running are left resumable, and the next server on
    the same store resumes them.

    Raises:
        ConfigError: a non-loopback `host` without auth, or a workflow that cannot be served.
    """
    import uvicorn

    settings = settings or A2ASettings()
    check_bind(host, settings.auth)
    app = create_app(workflow, settings, url=f"http://{host}:{port}")
    uvicorn.run(app, host=host, port=port, log_level="info", lifespan="on")


__all__ = ["DEFAULT_PORT", "A2ASettings", "create_app", "serve"]
