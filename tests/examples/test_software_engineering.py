"""examples/software_engineering: propose, test in the sandbox, review, approve, apply.

The deterministic parts (test runs in the real bubblewrap sandbox, patches, the review, the
bounded iterations, the approval bound to the exact diff, the working copy) in process with
scripted models; and once through the real CLI on the local model, with an approval in between.
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from podium import Orchestrator, RunResult, Workflow, load_workflow
from podium.models import ModelRequest, UserMessage
from podium.policy import Approval
from podium.testing import FunctionModel

ROOT = Path(__file__).parent.parent.parent
HERE = ROOT / "examples" / "software_engineering"
EXAMPLE = HERE / "workflow.yaml"
PROJECT = HERE / "project"
PODIUM = str(Path(sys.executable).parent / "podium")
FIXED = "    if quantity >= 10:\n"
JSON = Any

pytestmark = pytest.mark.skipif(not Path("/usr/bin/bwrap").exists(), reason="needs bubblewrap")


@pytest.fixture
def patches(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """The example's deterministic module (the workflow imports it from its folder)."""
    monkeypatch.setattr(sys, "path", [str(HERE), *sys.path])
    return importlib.import_module("swe_patches")


def shipped() -> dict[str, str]:
    """The shipped project's files by name, with their hashes: it must never change."""
    return {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(PROJECT.glob("*.py"))
    }


def prompt(request: ModelRequest) -> str:
    return [m.content for m in request.messages if isinstance(m, UserMessage)][-1]


def proposer(answer: Callable[[str], dict[str, str]]) -> FunctionModel:
    return FunctionModel(lambda request: json.dumps(answer(prompt(request))))


def with_model(workflow: Workflow, model: FunctionModel) -> Workflow:
    agents = [dataclasses.replace(a, model=model) if a.model else a for a in workflow.agents]
    return dataclasses.replace(workflow, agents=agents)


async def run(
    tmp_path: Path, model: FunctionModel, *, decide: str | None = "approve", **inputs: JSON
) -> tuple[RunResult, list[Approval], RunResult | None]:
    """Run the example until it parks, then approve or reject (`decide`) and resume it."""
    workflow = with_model(load_workflow(EXAMPLE), model)
    async with Orchestrator(store=f"sqlite:///{tmp_path / 'p.db'}") as orch:
        first = await orch.run(workflow, inputs={"data": str(tmp_path / "data"), **inputs})
        asked = await orch.approvals()
        assert not (tmp_path / "data").exists()  # nothing is written before an approval
        if first.status != "waiting" or decide is None:
            return first, asked, None
        act = orch.approve if decide == "approve" else orch.reject
        return first, asked, await act(first.run_id, "apply", by="alice", workflow=workflow)


def fix_attempts(result: RunResult) -> JSON:
    return result.tasks["fix"]["attempts"]


# -- the loop, in process ------------------------------------------------------------------------


@pytest.mark.anyio
async def test_a_right_proposal_is_applied_in_the_first_iteration(tmp_path: Path) -> None:
    before = shipped()
    right = proposer(lambda _: {"old": "if quantity > 10:", "new": "if quantity >= 10:"})
    parked, asked, done = await run(tmp_path, right)
    assert parked.status == "waiting"
    [request] = asked
    assert (request.run_id, request.task, request.tool) == (parked.run_id, "apply", "apply_patch")
    assert request.arguments is not None
    diff = request.arguments["diff"]
    assert diff[:2] == ["--- a/pricing.py", "+++ b/pricing.py"]
    assert [line for line in diff[2:] if line[:1] in "+-"] == [
        "-    if quantity > 10:",
        "+    if quantity >= 10:",
    ]
    assert done is not None
    assert done.status == "succeeded", done.message
    report = done.tasks["report"]["output"]
    assert (report["iterations"], report["patch_by"]) == (1, "model proposal 1")
    assert (report["before"]["passed"], report["before"]["run"]) == (5, 7)
    assert (report["after"]["passed"], report["after"]["run"]) == (7, 7)
    assert report["diff"].splitlines() == diff  # what was approved is what was applied
    written = tmp_path / "data" / parked.run_id / "pricing.py"
    assert FIXED in written.read_text()
    assert sorted(p.name for p in written.parent.iterdir()) == ["pricing.py", "test_pricing.py"]
    assert shipped() == before
    assert "Patched pricing.py in iteration 1; the patch came from model proposal 1." in str(
        done.output
    )


@pytest.mark.anyio
async def test_wrong_proposals_are_tried_then_the_rules_fix_it(tmp_path: Path) -> None:
    proposals = iter(
        [
            {"old": "return 0.10", "new": "return 0.0"},  # applies, but the tests still fail
            {"old": "return round(amount)", "new": "return amount"},  # not in the module
        ]
    )
    parked, _, done = await run(tmp_path, proposer(lambda _: next(proposals)))
    assert parked.status == "waiting"
    assert done is not None
    assert done.status == "succeeded", done.message
    fixed = done.tasks["fix"]["output"]
    assert fixed["iteration"] == fix_attempts(done) == 4
    assert fixed["tried_before"] == [
        "model proposal 1",
        "model proposal 2",
        "rule: '>=' -> '>' on line 8",
    ]
    assert fixed["patch_by"] == "rule: '>' -> '>=' on line 10"
    assert "not from the model" in str(done.output)
    assert FIXED in (tmp_path / "data" / parked.run_id / "pricing.py").read_text()


@pytest.mark.anyio
async def test_a_rejected_patch_is_never_written(tmp_path: Path) -> None:
    right = proposer(lambda _: {"old": "if quantity > 10:", "new": "if quantity >= 10:"})
    parked, _, done = await run(tmp_path, right, decide="reject")
    assert parked.status == "waiting"
    assert done is not None
    assert done.status == "failed"
    assert done.tasks["apply"]["status"] == "failed"
    assert done.tasks["report"]["status"] != "succeeded"
    assert not (tmp_path / "data").exists()


def project_with(tmp_path: Path, old: str, new: str) -> Path:
    """A copy of the shipped project with one line of its module changed."""
    copy = tmp_path / "project"
    shutil.copytree(PROJECT, copy, ignore=shutil.ignore_patterns("__pycache__"))
    module = copy / "pricing.py"
    module.write_text(module.read_text().replace(old, new))
    return copy


@pytest.mark.anyio
async def test_a_bug_outside_the_rules_fails_within_the_bound(tmp_path: Path) -> None:
    project = project_with(tmp_path, "return 0.20", "return 0.25")  # not an off-by-one
    silly = proposer(lambda _: {"old": "VAT_RATE = 0.20", "new": "VAT_RATE = 0.25"})
    parked, asked, _ = await run(tmp_path, silly, project=str(project), decide=None)
    assert parked.status == "failed"
    assert asked == []
    assert parked.tasks["apply"]["status"] != "succeeded"
    # the two (equal) proposals are tried once, then three rules: then nothing is left
    assert fix_attempts(parked) == 5
    assert "no candidate patch left after 4 iterations" in str(parked.tasks["fix"]["error"])
    assert not (tmp_path / "data").exists()


@pytest.mark.anyio
async def test_the_iterations_stop_at_the_retry_bound(tmp_path: Path) -> None:
    project = project_with(tmp_path, "return 0.20", "return 0.25")
    module = project / "pricing.py"  # more comparisons: more candidates than iterations
    wider = "if quantity < 0 or quantity > 10**6 or unit_price < 0 or unit_price > 10**6:"
    module.write_text(module.read_text().replace("if quantity < 0:", wider))
    silly = proposer(lambda _: {"old": "VAT_RATE = 0.20", "new": "VAT_RATE = 0.25"})
    result, _, _ = await run(tmp_path, silly, project=str(project), decide=None)
    assert result.status == "failed"
    assert fix_attempts(result) == 6  # `retry: {attempts: 6}` in workflow.yaml
    error = str(result.tasks["fix"]["error"])
    assert "iteration 6, rule: '<' -> '<=' on line 17: tests fail after the patch" in error


@pytest.mark.anyio
async def test_a_project_whose_tests_pass_has_nothing_to_fix(tmp_path: Path) -> None:
    project = project_with(tmp_path, "if quantity > 10:", "if quantity >= 10:")
    unused = proposer(lambda _: pytest.fail("the model must not be asked"))
    result, _, _ = await run(tmp_path, unused, project=str(project), decide=None)
    assert result.status == "failed"
    assert "all 7 tests pass: nothing to fix" in str(result.tasks["baseline"]["error"])


# -- the deterministic parts ---------------------------------------------------------------------


def test_diffs_apply_only_to_the_text_they_were_made_from(patches: ModuleType) -> None:
    text = (PROJECT / "pricing.py").read_text()
    patched = text.replace("if quantity > 10:", "if quantity >= 10:")
    diff = patches.unified_diff("pricing.py", text, patched)
    assert patches.apply_diff("pricing.py", text, diff) == patched
    with pytest.raises(ValueError, match="does not apply"):
        patches.apply_diff("pricing.py", text.replace("0.10", "0.15"), diff)
    with pytest.raises(ValueError, match=r"not a diff of 'other\.py'"):
        patches.apply_diff("other.py", text, diff)
    forged = diff.replace("+    if quantity >= 10:", "?    import os")
    with pytest.raises(ValueError, match="not a line of a unified diff"):
        patches.apply_diff("pricing.py", text, forged)


def test_the_review_refuses_big_foreign_or_broken_patches(patches: ModuleType) -> None:
    text = (PROJECT / "pricing.py").read_text()
    passed = {"run": 7, "ok": True, "failed": 0}

    def problems(new: str, name: str = "pricing.py", after: JSON = passed) -> list[str]:
        diff = patches.unified_diff(name, text, new)
        return list(patches.review(diff, "pricing.py", new, max_lines=2, before=7, after=after))

    assert problems(text.replace("> 10", ">= 10")) == []
    assert "changes 8 lines (removed + added); at most 4" in problems(text.replace("0.", "1."))[0]
    assert "must change 'pricing.py' alone" in problems(text.replace("> 10", ">= 10"), "t.py")[0]
    assert "does not compile" in problems(text.replace("> 10:", "> 10"))[0]
    assert "3 tests ran after the patch, 7 before" in problems(
        text.replace("> 10", ">= 10"), after={"run": 3, "ok": True}
    )


def test_proposals_become_one_line_patches_or_say_why_not(patches: ModuleType) -> None:
    text = (PROJECT / "pricing.py").read_text()
    got = patches.from_proposal(text, "  if quantity > 10: ", "if quantity >= 10:", "m")
    assert got.text is not None
    assert FIXED in got.text
    assert "is not in the module" in patches.from_proposal(text, "nope", "x", "m").why_not
    assert (
        "more than once" in patches.from_proposal("a = 1\na = 1\n", "a = 1", "a = 2", "m").why_not
    )
    assert "not a change" in patches.from_proposal(text, "return 0.0", "a\nb", "m").why_not


def test_rule_candidates_flip_comparisons_in_the_suspect_functions(patches: ModuleType) -> None:
    text = (PROJECT / "pricing.py").read_text()
    origins = [c.origin for c in patches.boundary_candidates(text, ["bulk_discount"], 8)]
    assert origins == ["rule: '>=' -> '>' on line 8", "rule: '>' -> '>=' on line 10"]
    everywhere = patches.boundary_candidates(text, ["bulk_discount", "line_total"], 8)
    assert [c.origin for c in everywhere][-1] == "rule: '<' -> '<=' on line 17"
    assert len(patches.boundary_candidates(text, ["bulk_discount", "line_total"], 2)) == 2
    tests = (PROJECT / "test_pricing.py").read_text()
    failing = ["test_pricing.LineTotalTest.test_line_total_of_ten_items_is_discounted"]
    assert patches.suspects(text, {"t.py": tests}, failing) == ["bulk_discount", "line_total"]


def test_a_project_too_large_is_refused_before_it_is_read(
    patches: ModuleType, tmp_path: Path
) -> None:
    (tmp_path / "big.py").write_bytes(b"#" * (300 * 1024))
    with pytest.raises(ValueError, match="too large"):
        patches.read_project(tmp_path)
    (tmp_path / "big.py").unlink()
    for n in range(51):
        (tmp_path / f"m{n}.py").write_text("x = 1\n")
    with pytest.raises(ValueError, match="at most 50 files"):
        patches.read_project(tmp_path)
    with pytest.raises(ValueError, match="does not exist"):
        patches.read_project(tmp_path / "nowhere")


def test_a_crashed_test_run_counts_as_failed(patches: ModuleType) -> None:
    crashed = patches.test_summary(1, "", "Traceback…\nSyntaxError: invalid syntax")
    assert crashed["ok"] is False
    assert crashed["crash"] == "Traceback… | SyntaxError: invalid syntax"
    assert patches.test_summary(None, "", "")["crash"] == "exit status None"


# -- the real CLI, on the local model ------------------------------------------------------------


def podium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [PODIUM, *args, "--store", f"sqlite:///{tmp_path / 'p.db'}"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
        env={**os.environ, "PODIUM_ALLOW_MODEL_REQUESTS": "1"},
    )


@pytest.mark.slow
def test_the_example_on_the_local_model_parks_then_applies(tmp_path: Path) -> None:
    before = shipped()
    data = str(tmp_path / "data")
    ran = podium(tmp_path, "run", str(EXAMPLE), "--json", "--input", f"data={data}")
    assert ran.returncode == 1, ran.stderr  # parked: it waits for a person
    parked = json.loads(ran.stdout)
    assert parked["status"] == "waiting"
    run_id = parked["run_id"]
    assert parked["tasks"]["fix"]["output"]["after"]["ok"] is True
    assert parked["usage"]["output_tokens"] > 0
    assert not Path(data).exists()
    shown = podium(tmp_path, "approvals")
    assert "apply_patch" in shown.stdout
    assert '"-    if quantity > 10:"' in shown.stdout
    approved = podium(tmp_path, "approve", run_id, "apply", "--as", "alice")
    assert approved.returncode == 0, approved.stderr
    assert re.search(r"Tests after, on the working copy: 7 of 7 passed", approved.stdout)
    assert FIXED in (Path(data) / run_id / "pricing.py").read_text()
    assert shipped() == before
