"""The dashboard in a real headless Chromium (Debian's ``chromium``, driven by Playwright).

One run goes through the whole story: the server starts, a workflow with a parallel part and an
irreversible tool call is submitted, the run page shows the task graph changing status live,
the approval panel shows the exact tool call, it is approved from the page, and the run
finishes. The other pages (runs, approvals, agents, metrics, compare) are visited too. Every
page must load without a console error; screenshots go to ``tests/artifacts/dashboard/``.

The agents wait on gate files the test creates, so what the page sees does not depend on how
fast the machine is: a task is still running when the test looks, because it has not been let
go yet.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts" / "dashboard"
HOSTILE = '<script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2">'
TIMEOUT_MS = 30_000
SUCCEEDED = "#run-status .badge:text-is('succeeded')"

pytestmark = pytest.mark.slow

AGENTS = '''
"""Agents of the dashboard test: each waits for its gate file, so the test decides when."""

import os
import time
from pathlib import Path

from podium import TaskCall, ToolContext

HOSTILE = {hostile!r}


def _wait(name: str) -> None:
    gate = Path(os.environ["DASHBOARD_GATES"]) / name
    deadline = time.monotonic() + 60
    while not gate.exists():
        if time.monotonic() > deadline:
            raise TimeoutError(f"gate {{name}} was never opened")
        time.sleep(0.02)


def gather(call: TaskCall) -> str:
    _wait(call.task_id)
    source = f"https://example.org/{{call.task_id}}"
    call.context.write("notes", f"notes of {{call.task_id}}", sources=[source], confidence=0.8)
    return f"notes of {{call.task_id}}"


def report(call: TaskCall) -> str:
    return "report: " + HOSTILE


def pay(to: str, ctx: ToolContext) -> str:
    """Pay someone (irreversible)."""
    return f"paid {{to}}"
'''

WORKFLOW = """
name: board
description: Gathers in parallel, pays (after an approval), then reports.
agents:
  researcher: {python: "board_agents:gather", description: Gathers notes, capabilities: [research]}
  writer: {python: "board_agents:report", description: Writes the report}
  clerk: {model: test, tools: [pay], description: Pays people}
tools:
  pay: {python: "board_agents:pay", effect: irreversible}
context:
  notes: {merge: append}
tasks:
  - {id: gather_a, agent: researcher}
  - {id: gather_b, agent: researcher}
  - {id: pay, agent: clerk, needs: [gather_a, gather_b], instruction: Pay the invoice}
  - {id: write, agent: writer, needs: [pay]}
output: "{{ tasks.write.output }}"
"""


@dataclass
class Server:
    url: str
    gates: Path
    process: subprocess.Popen[bytes]

    def api(self, method: str, path: str, body: Any = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.url + path, data=data, method=method)
        req.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(req, timeout=10) as resp:
            return json.loads(resp.read())

    def open_gate(self, name: str) -> None:
        (self.gates / name).touch()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _wait_until_up(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    for _ in range(300):
        if process.poll() is not None:
            pytest.fail(f"podium serve exited with {process.returncode}:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(url + "/api/me", timeout=2):
                return
        except (urllib.error.URLError, ConnectionError):
            time.sleep(0.1)
    pytest.fail(f"podium serve did not answer at {url}:\n{log.read_text()}")


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    """`podium serve` in a child process, on a free port, with a SQLite store in `tmp_path`."""
    flows = tmp_path / "workflows"
    flows.mkdir()
    (flows / "board.yaml").write_text(WORKFLOW, encoding="utf-8")
    (flows / "board_agents.py").write_text(AGENTS.format(hostile=HOSTILE), encoding="utf-8")
    gates = tmp_path / "gates"
    gates.mkdir()
    port = _free_port()
    podium = Path(sys.executable).with_name("podium")
    log = tmp_path / "server.log"
    env = {**os.environ, "DASHBOARD_GATES": str(gates)}
    cmd = [str(podium), "serve", "--store", f"sqlite:///{tmp_path / 'runs.db'}"]
    cmd += ["--host", "127.0.0.1", "--port", str(port), "--workflows", str(flows)]
    with log.open("wb") as out:
        process = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(url, process, log)
        yield Server(url, gates, process)
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


RECORD_STATUSES = """
window.__seen = {};
new MutationObserver(() => {
  for (const node of document.querySelectorAll(".dag [data-task][data-status]")) {
    const seen = (window.__seen[node.dataset.task] ||= []);
    if (seen[seen.length - 1] !== node.dataset.status) seen.push(node.dataset.status);
  }
}).observe(document, { subtree: true, childList: true, attributes: true });
"""


class Browser:
    """A Chromium page that records console errors and uncaught exceptions."""

    def __init__(self, page: Any, base: str) -> None:
        self.page = page
        self.base = base
        self.errors: list[str] = []
        page.on("console", self._console)
        page.on("pageerror", self._uncaught)
        page.set_default_timeout(TIMEOUT_MS)

    def _console(self, message: Any) -> None:
        if message.type == "error":
            self.errors.append(f"console: {message.text} at {message.location}")

    def _uncaught(self, error: Any) -> None:
        self.errors.append(f"uncaught: {error}")

    def visit(self, hash_: str, ready: str) -> None:
        """Open a page of the dashboard and wait for `ready` (a selector) to show."""
        self.page.goto(f"{self.base}/{hash_}")
        self.page.wait_for_selector(ready)

    def shot(self, name: str) -> None:
        """A full-page screenshot, and no console error on this page so far."""
        self.page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
        assert not self.errors, f"console errors on the {name} page: {self.errors}"

    def text(self, selector: str) -> str:
        text: str = self.page.locator(selector).first.inner_text()
        return text


@pytest.fixture
def browser(server: Server) -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} is missing: the dashboard test needs Debian's chromium package"
            " (`apt-get install -y chromium`, which .ci/run does when run as root)."
            " Playwright's own browser download is not used."
        )
    from playwright.sync_api import sync_playwright

    shutil.rmtree(ARTIFACTS, ignore_errors=True)
    ARTIFACTS.mkdir(parents=True)
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        try:
            context = chromium.new_context(viewport={"width": 1280, "height": 900})
            context.add_init_script(RECORD_STATUSES)
            yield Browser(context.new_page(), server.url)
        finally:
            chromium.close()


def node(status: str, task: str) -> str:
    return f'.dag [data-task="{task}"][data-status="{status}"]'


def test_a_run_from_start_to_finish_in_the_browser(server: Server, browser: Browser) -> None:
    page = browser.page
    # Start a run from the runs page: it opens the run page.
    browser.visit("#/runs", "h1:text('Runs')")
    page.get_by_text("Start a run").click()
    page.select_option("#start-workflow", "board")
    page.get_by_role("button", name="Start run").click()
    page.wait_for_url(lambda url: "#/runs/" in url)
    run_id = page.url.rsplit("/", 1)[1]

    # The two gathers run at the same time (their gates are still closed); nothing after them.
    page.wait_for_selector(node("running", "gather_a"))
    page.wait_for_selector(node("running", "gather_b"))
    assert page.locator(node("pending", "pay")).count() == 1
    assert "running" in browser.text("#run-status")
    browser.shot("run-running")

    # Let them go: the payment parks on its approval, which shows the exact tool call.
    server.open_gate("gather_a")
    server.open_gate("gather_b")
    page.wait_for_selector(node("waiting", "pay"))
    panel = page.locator("#run-approvals .approval")
    panel.wait_for()
    assert panel.locator(".approval-tool").inner_text() == "pay"
    arguments = json.loads(panel.locator(".approval-arguments").inner_text())
    assert set(arguments) == {"to"}
    assert "waiting" in browser.text("#run-status")
    browser.shot("run-approval")

    # Approve from the page, with a comment; the run finishes.
    panel.get_by_label("Comment (optional)").fill("invoice checked")
    panel.get_by_role("button", name="Approve").click()
    page.wait_for_selector(SUCCEEDED)
    for task in ("gather_a", "gather_b", "pay", "write"):
        page.wait_for_selector(node("succeeded", task))
    seen = page.evaluate("window.__seen")
    assert seen["gather_a"][-2:] == ["running", "succeeded"], seen
    assert seen["pay"][-2:] == ["waiting", "succeeded"], seen
    assert page.locator("#run-approvals .approval").count() == 0

    # The agent's output is hostile markup: it shows as text and never runs.
    page.locator('details.task[data-task="write"] > summary').click()
    output = page.locator('details.task[data-task="write"] .task-output').inner_text()
    assert HOSTILE in output
    assert HOSTILE in browser.text(".run-output")
    assert page.evaluate("window.__pwned") is None
    assert page.locator("main img, main script").count() == 0
    # Both gathers wrote the blackboard's `notes`: two versions, with author and sources.
    board = page.locator(".board-entry", has_text="notes").inner_text()
    assert "2 versions" in board
    assert "https://example.org/gather_a" in board
    assert "https://example.org/gather_b" in board
    # The timeline has a bar per attempt (the payment's first one parked on the approval, its
    # second one made the call) and a wait bar for the approval.
    # (the run's status may show before the stream has brought the last events: wait for them)
    page.wait_for_selector('#gantt .bar-run[data-task="write"]')
    bars = page.eval_on_selector_all("#gantt .bar-run", "bs => bs.map(b => b.dataset.task)")
    assert sorted(bars) == ["gather_a", "gather_b", "pay", "pay", "write"]
    waits = page.eval_on_selector_all(
        '#gantt .bar-wait[data-task="pay"]', "bs => bs.map(b => b.textContent)"
    )
    assert any("waiting for approval" in w for w in waits), waits
    browser.shot("run-finished")

    # Time travel: fork from `write` with another instruction, then compare the two runs.
    page.get_by_role("button", name="Fork from write…").click()
    page.fill("#fork-instruction", "Write it again")
    page.get_by_role("button", name="Fork", exact=True).click()
    page.wait_for_url(lambda url: run_id not in url)
    fork_id = page.url.rsplit("/", 1)[1]
    page.wait_for_selector(SUCCEEDED)
    assert page.locator(f'a[href="#/runs/{run_id}"]').count() >= 1  # "forked from"
    browser.shot("run-fork")
    browser.visit(f"#/compare?a={run_id}&b={fork_id}", "table.compare")
    rows = page.locator("table.compare tbody tr")
    assert rows.count() == 4
    assert "copied" in rows.filter(has_text="gather_a").inner_text()
    browser.shot("compare")
    check_other_pages(server, browser, run_id)


def check_other_pages(server: Server, browser: Browser, run_id: str) -> None:
    page = browser.page
    browser.visit("#/runs", "table.runs")
    row = page.locator("table.runs tbody tr", has=page.locator(f'a.run-link:text-is("{run_id}")'))
    assert "succeeded" in row.inner_text()
    browser.shot("runs")

    # A second run parks on its payment (its gates are open); it shows in the inbox, and a
    # rejection with a comment from there clears it.
    parked = server.api("POST", "/api/runs", {"workflow": "board", "inputs": {}})["run_id"]
    browser.visit("#/approvals", "h1:text('Approvals')")
    card = page.locator(f'.approval[data-run="{parked}"]')
    card.wait_for()
    assert card.locator(".approval-tool").inner_text() == "pay"
    browser.shot("approvals")
    card.get_by_label("Comment (optional)").fill("not this one")
    card.get_by_role("button", name="Reject").click()
    page.wait_for_selector(f'.approval[data-run="{parked}"]', state="detached")
    decided = server.api("GET", f"/api/runs/{parked}/events?after=-1")["events"]
    rejections = [e for e in decided if e["kind"] == "ApprovalRejected"]
    assert [r["comment"] for r in rejections] == ["not this one"]

    browser.visit("#/agents", "table.agents")
    names = page.locator("table.agents > tbody > tr > td:first-child").all_inner_texts()
    assert {"researcher", "writer", "clerk"} <= set(names)
    researcher = page.locator("table.agents > tbody > tr").nth(names.index("researcher"))
    assert "healthy" in researcher.inner_text()
    browser.shot("agents")

    browser.visit("#/metrics", ".charts")
    cards = page.locator(".metric")
    assert cards.count() == 6
    assert page.locator(".metric svg.chart").count() >= 1
    completion = page.locator('.metric[data-metric="completion_rate"]').inner_text()
    assert "target" in completion
    browser.shot("metrics")
