"""Python agents of ``workflow.yaml``: run the tests, try patches, review, apply, report.

The one language step (proposing a patch from a failing test) is the model-driven agent declared
in the workflow file. Everything here is deterministic: it runs the project's tests in the
``python_sandbox`` tool, turns the model's proposals and its own rule-based candidates into
patches, reviews them, and writes the approved one into a working copy under ``.data/``.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import shutil
from pathlib import Path
from typing import Any

from swe_patches import (
    RUNNER,
    Candidate,
    apply_diff,
    boundary_candidates,
    from_proposal,
    function_source,
    read_project,
    review,
    suspects,
    test_summary,
    unified_diff,
)

from podium import TaskCall
from podium.exceptions import TaskError, ToolError
from podium.policy import ApprovalNeeded, ApprovalRequest
from podium.tools import Tool, ToolContext, action_hash
from podium.tools.sandbox import python_sandbox_tool

HERE = Path(__file__).parent
MAX_PROPOSALS = 3  # failing tests the model is asked about (one proposal each)
MAX_RULES = 8  # rule-based candidates; the task's `retry.attempts` bounds what is tried
Json = Any


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def project(call: TaskCall) -> tuple[str, str, dict[str, str]]:
    """The module to repair, its text, and every file of the project (read-only, from disk)."""
    files = read_project(HERE / str(call.run_inputs["project"]))
    module = str(call.run_inputs["module"])
    if module not in files or module.rsplit("/", 1)[-1].startswith("test"):
        raise TaskError(
            f"module {module!r} is not a non-test .py file of the project", retryable=False
        )
    return module, files[module], files


@functools.cache
def sandbox(options: str) -> Tool:
    """The ``python_sandbox`` standard tool, built once per set of options."""
    return python_sandbox_tool(**json.loads(options))


async def run_tests(call: TaskCall, files: dict[str, str], name: str) -> dict[str, Json]:
    """Run the project's unittest tests on `files` in a fresh sandbox; their summary."""
    tool = sandbox(json.dumps(call.run_inputs["sandbox"], sort_keys=True))
    ctx = ToolContext(
        run_id=call.run_id,
        task_id=call.task_id,
        agent=call.agent,
        call_id=name,
        idempotency_key=call.idempotency_key(name),
    )
    try:
        got = await tool.call({"code": RUNNER, "files": files}, ctx)
    except ToolError as exc:  # the sandbox refused or could not start: no retry helps
        raise TaskError(f"the tests could not run: {exc}", retryable=False) from None
    return test_summary(got["exit_code"], got["stdout"], got["stderr"])


def brief(summary: dict[str, Json]) -> dict[str, Json]:
    """A test summary without the tracebacks (what a report shows)."""
    failures = [{"test": f["test"], "message": f["message"]} for f in summary["failures"]]
    return {**summary, "failures": failures}


# -- the steps -----------------------------------------------------------------------------------


async def baseline(call: TaskCall) -> dict[str, Json]:
    """Run the shipped project's tests in the sandbox: which fail, and the code they reach."""
    module, text, files = project(call)
    before = await run_tests(call, files, "tests-before")
    if before["ok"]:
        raise TaskError(f"all {before['run']} tests pass: nothing to fix", retryable=False)
    if not before["failures"]:
        raise TaskError(f"the tests do not run: {before.get('crash')}", retryable=False)
    tests = {name: body for name, body in files.items() if name != module}
    failing = []
    for failure in before["failures"][:MAX_PROPOSALS]:
        names = suspects(text, tests, [failure["test"]])
        code = "\n\n".join(function_source(text, n) for n in names)
        failing.append({"test": failure["test"], "message": failure["message"], "code": code})
    return {
        "module": module,
        "module_sha256": sha256(text),
        "before": brief(before),
        "failing": failing,
        "suspects": suspects(text, tests, [f["test"] for f in before["failures"]]),
    }


def abstain(call: TaskCall) -> dict[str, str]:
    """The proposer's backup when the model gives no usable answer: no proposal."""
    return {"old": "", "new": "", "by": "no proposal (the model failed)"}


def candidates(call: TaskCall, module: str, text: str) -> list[Candidate]:
    """What the fixer tries, in order: the model's proposals, then the rule-based ones."""
    found: list[Candidate] = []
    for n, proposal in enumerate(call.task_outputs["propose"], start=1):
        if isinstance(proposal, dict) and proposal.get("old"):
            origin = f"model proposal {n}"
            found.append(from_proposal(text, proposal["old"], proposal.get("new", ""), origin))
    found += boundary_candidates(text, call.task_outputs["baseline"]["suspects"], MAX_RULES)
    unique: list[Candidate] = []
    for c in found:  # a rule that repeats a model proposal is not tried twice
        if c.text is None or all(c.text != u.text for u in unique):
            unique.append(c)
    return unique


async def fix(call: TaskCall) -> dict[str, Json]:
    """One iteration: attempt N tries candidate N in the sandbox. A failing candidate fails the
    attempt with what went wrong; the task's `retry` runs the next one, up to its bound."""
    module, text, files = project(call)
    base = call.task_outputs["baseline"]
    if sha256(text) != base["module_sha256"]:
        raise TaskError(f"{module} changed on disk since its tests ran", retryable=False)
    tried = candidates(call, module, text)
    n = call.attempt
    if n > len(tried):
        raise TaskError(f"no candidate patch left after {n - 1} iterations", retryable=False)
    candidate = tried[n - 1]
    if candidate.text is None:
        raise TaskError(f"iteration {n}, {candidate.origin}: {candidate.why_not}", kind="rejected")
    diff = unified_diff(module, text, candidate.text)
    after = await run_tests(call, {**files, module: candidate.text}, f"tests-{n}")
    limit, before = int(call.run_inputs["max_changed_lines"]), base["before"]["run"]
    problems = review(diff, module, candidate.text, max_lines=limit, before=before, after=after)
    if problems:
        failing = "; ".join(f"{f['test']}: {f['message']}" for f in after["failures"][:3])
        raise TaskError(
            f"iteration {n}, {candidate.origin}: {'; '.join(problems)}"
            + (f" ({failing})" if failing else ""),
            kind="tests_failed",
        )
    return {
        "iteration": n,
        "patch_by": candidate.origin,
        "tried_before": [c.origin for c in tried[: n - 1]],
        "module": module,
        "diff": diff,
        "after": brief(after),
    }


def check(call: TaskCall) -> dict[str, Json]:
    """The reviewer: independently of the fixer, the diff applies to the shipped module, stays
    small, touches only the module, compiles, and its tests passed. Otherwise nothing is
    applied (the run fails here)."""
    module, text, _ = project(call)
    fixed = call.task_outputs["fix"]
    try:
        patched = apply_diff(module, text, fixed["diff"])
    except ValueError as exc:
        raise TaskError(f"review: {exc}", retryable=False) from None
    limit = int(call.run_inputs["max_changed_lines"])
    before, after = call.task_outputs["baseline"]["before"]["run"], fixed["after"]
    problems = review(fixed["diff"], module, patched, max_lines=limit, before=before, after=after)
    if problems:
        raise TaskError("review: " + "; ".join(problems), retryable=False)
    return {"approved_by_review": True, "module": module, "patched_sha256": sha256(patched)}


# -- applying, after a person approved -----------------------------------------------------------


def data_dir(call: TaskCall) -> Path:
    return HERE / str(call.run_inputs["data"])


def apply_tool(source: Path, data: Path) -> Tool:
    """The ``apply_patch`` tool: writes a patched copy of the project under `data` (never the
    project itself). Irreversible: it changes files outside the sandbox."""

    def apply_patch(file: str, diff: list[str], working_copy: str) -> dict[str, str]:
        """Copy the project to `working_copy` (a folder name under the data folder) and apply
        `diff` (a unified diff, one line per item) to `file` there."""
        target = (data / working_copy).resolve()
        if target.parent != data.resolve() or working_copy.startswith("."):
            raise ToolError(f"working_copy must be one folder name, not {working_copy!r}")
        files = read_project(source)
        patched = apply_diff(file, files[file], "".join(line + "\n" for line in diff))
        part = target.with_name(f".{target.name}.{os.getpid()}.part")
        shutil.rmtree(part, ignore_errors=True)
        shutil.copytree(source, part, symlinks=True, ignore=shutil.ignore_patterns("__pycache__"))
        (part / file).write_text(patched, encoding="utf-8")
        shutil.rmtree(target, ignore_errors=True)  # a retry after a crash writes the same copy
        os.replace(part, target)
        return {"written": str(target / file), "sha256": sha256(patched)}

    return Tool.from_function(apply_patch, name="apply_patch", effect="irreversible")


async def apply(call: TaskCall) -> dict[str, Json]:
    """Write the reviewed patch into a working copy once a person approved this exact diff.
    Until then the task waits; the run parks."""
    fixed = call.task_outputs["fix"]
    tool = apply_tool(HERE / str(call.run_inputs["project"]), data_dir(call))
    # the diff one line per item, so that the approval shows it line by line
    diff = fixed["diff"].splitlines()
    arguments = {"file": fixed["module"], "diff": diff, "working_copy": call.run_id}
    digest = action_hash(tool.name, arguments)
    if digest not in call.approved:
        raise ApprovalNeeded(
            ApprovalRequest(
                action="tool",
                action_hash=digest,
                reason=f"apply this patch to {fixed['module']} ({fixed['patch_by']})",
                tool=tool.name,
                arguments=arguments,
            )
        )
    ctx = ToolContext(
        run_id=call.run_id,
        task_id=call.task_id,
        agent=call.agent,
        call_id="apply",
        idempotency_key=call.idempotency_key("apply"),
    )
    result: dict[str, Json] = await tool.call(arguments, ctx)
    if result["sha256"] != call.task_outputs["review"]["patched_sha256"]:
        raise TaskError("the written file is not the reviewed one", retryable=False)
    return result


async def report(call: TaskCall) -> dict[str, Json]:
    """Run the tests once more, on the working copy as written, and say what happened."""
    base, fixed = call.task_outputs["baseline"], call.task_outputs["fix"]
    copy = Path(call.task_outputs["apply"]["written"]).parent
    after = brief(await run_tests(call, read_project(copy), "tests-after"))
    before = base["before"]
    by_model = fixed["patch_by"].startswith("model")
    lines = [
        f"Patched {fixed['module']} in iteration {fixed['iteration']}; the patch came from"
        f" {fixed['patch_by']}" + ("." if by_model else ", not from the model."),
        f"Tests before: {before['passed']} of {before['run']} passed"
        f" (failing: {', '.join(f['test'].rsplit('.', 1)[-1] for f in before['failures'])}).",
        f"Tests after, on the working copy: {after['passed']} of {after['run']} passed.",
        f"Tried first: {', '.join(fixed['tried_before']) or 'nothing'}.",
        f"Working copy: {copy} (the shipped project is unchanged).",
        "",
        fixed["diff"].rstrip(),
    ]
    return {
        "summary": "\n".join(lines),
        "diff": fixed["diff"],
        "iterations": fixed["iteration"],
        "patch_by": fixed["patch_by"],
        "before": before,
        "after": after,
        "working_copy": str(copy),
    }
