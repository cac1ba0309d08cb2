"""A Podium process serving a workflow over A2A, for the two-process tests.

    python serve_proc.py WORKFLOW STORE_URL PORT

A short lease (2 s) and sweep (0.3 s), so a restarted server takes a killed one's runs over
soon.
"""

from __future__ import annotations

import sys

import uvicorn

from podium.a2a import A2ASettings, create_app
from podium.plan import load_workflow
from podium.runtime import Limits, Orchestrator


def main() -> None:
    path, store, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
    workflow = load_workflow(path)
    orch = Orchestrator(store=store, limits=Limits(lease_s=2))
    settings = A2ASettings(url=f"http://127.0.0.1:{port}", poll_s=0.05, sweep_s=0.3)
    app = create_app(workflow, settings, orchestrator=orch)
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")


if __name__ == "__main__":
    main()
