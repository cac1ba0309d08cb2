"""The deterministic half of the software-engineering example: running a project's tests, reading
which functions a failing test reaches, making and applying one-line patches, and reviewing them.

Nothing here calls a model. The model proposes a patch (see ``workflow.yaml``); this module turns
proposals and its own rule-based candidates into unified diffs and checks them.
"""

from __future__ import annotations

import ast
import difflib
import io
import json
import re
import tokenize
from dataclasses import dataclass
from pathlib import Path
from typing import Any

Json = Any
MAX_FILES = 50
MAX_BYTES = 256 * 1024
RESULT_MARK = "@@podium-test-result@@ "

# The program the sandbox runs as main.py, beside the project's files: the standard library's
# unittest (the sandbox's interpreter has no pytest), then one line of JSON with the counts.
RUNNER = f"""\
import json, sys, unittest
suite = unittest.defaultTestLoader.discover(".", pattern="test*.py")
result = unittest.TextTestRunner(stream=sys.stdout, verbosity=2).run(suite)
def ids(pairs):
    return [[test.id(), text[-1500:]] for test, text in pairs]
print({RESULT_MARK!r} + json.dumps({{
    "run": result.testsRun, "failures": ids(result.failures), "errors": ids(result.errors),
}}))
sys.exit(0 if result.wasSuccessful() else 1)
"""


# -- the project ---------------------------------------------------------------------------------


def read_project(root: Path) -> dict[str, str]:
    """The project's Python files (relative name → text), bounded in number and size."""
    if not root.is_dir():
        raise ValueError(f"project folder {str(root)!r} does not exist")
    files: dict[str, str] = {}
    size = 0
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root).as_posix()
        if "__pycache__" in rel or path.is_symlink() or rel == "main.py":
            continue
        size += path.stat().st_size  # before reading: a huge file is refused, not loaded
        if len(files) == MAX_FILES or size > MAX_BYTES:
            raise ValueError(f"the project is too large: at most {MAX_FILES} files, 256 KiB")
        files[rel] = path.read_text(encoding="utf-8")
    return files


# -- test results --------------------------------------------------------------------------------


def test_summary(exit_code: int | None, stdout: str, stderr: str) -> dict[str, Json]:
    """What a run of `RUNNER` says: counts, the failing tests with their last message line."""
    found = [line for line in stdout.splitlines() if line.startswith(RESULT_MARK)]
    if not found:  # it crashed before reporting (a syntax error, a limit): all failed
        tail = (stderr or stdout).strip().splitlines()[-3:]
        return {"run": 0, "passed": 0, "failed": 0, "ok": False, "failures": [],
                "crash": " | ".join(tail) or f"exit status {exit_code}"}  # fmt: skip
    raw = json.loads(found[-1][len(RESULT_MARK) :])
    failures = [
        {"test": test, "message": last_line(text), "traceback": text}
        for test, text in raw["failures"] + raw["errors"]
    ]
    run = int(raw["run"])
    return {
        "run": run,
        "passed": run - len(failures),
        "failed": len(failures),
        "ok": exit_code == 0 and not failures and run > 0,
        "failures": failures,
    }


def last_line(traceback: str) -> str:
    lines = [line for line in traceback.strip().splitlines() if line.strip()]
    return lines[-1][:300] if lines else ""


# -- where the bug may be ------------------------------------------------------------------------


def called_names(tree: ast.AST) -> set[str]:
    return {
        node.func.id if isinstance(node.func, ast.Name) else node.func.attr
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name | ast.Attribute)
    }


def module_functions(source: str) -> dict[str, ast.FunctionDef]:
    return {node.name: node for node in ast.parse(source).body if isinstance(node, ast.FunctionDef)}


def suspects(module: str, tests: dict[str, str], failing: list[str]) -> list[str]:
    """The module's functions a failing test calls, and those they call in turn (by name)."""
    functions = module_functions(module)
    names: set[str] = set()
    for test_id in failing:
        method = test_id.rsplit(".", 1)[-1]
        for text in tests.values():
            for node in ast.walk(ast.parse(text)):
                if isinstance(node, ast.FunctionDef) and node.name == method:
                    names |= called_names(node) & functions.keys()
    todo = list(names)
    while todo:
        for name in called_names(functions[todo.pop()]) & functions.keys():
            if name not in names:
                names.add(name)
                todo.append(name)
    return sorted(names, key=lambda n: functions[n].lineno)


def function_source(module: str, name: str) -> str:
    node = module_functions(module)[name]
    lines = module.splitlines()[node.lineno - 1 : node.end_lineno]
    return "\n".join(lines)


# -- patches -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Candidate:
    """One patch to try: the module's new text and where it came from."""

    origin: str
    text: str | None  # None: the proposal could not be turned into a patch
    why_not: str = ""


def from_proposal(module: str, old: str, new: str, origin: str) -> Candidate:
    """The module with the one line `old` replaced by `new` (indentation kept)."""
    old, new = old.strip(), new.strip()
    if not old or not new or "\n" in new or old == new:
        return Candidate(origin, None, "the proposal is not a change of one line")
    lines = module.splitlines(keepends=True)
    hits = [i for i, line in enumerate(lines) if line.strip() == old]
    if len(hits) != 1:
        where = "is not" if not hits else "is more than once"
        return Candidate(origin, None, f"the line to replace ({old[:80]!r}) {where} in the module")
    line = lines[hits[0]]
    indent = line[: len(line) - len(line.lstrip())]
    lines[hits[0]] = indent + new + ("\n" if line.endswith("\n") else "")
    return Candidate(origin, "".join(lines))


SWAPS = {"<": "<=", "<=": "<", ">": ">=", ">=": ">"}


def boundary_candidates(module: str, functions: list[str], limit: int) -> list[Candidate]:
    """Rule-based patches for one bug class, off-by-one comparisons: each comparison operator
    in the suspect functions, in source order, flipped between strict and inclusive."""
    spans = [
        (node.lineno, node.end_lineno or node.lineno)
        for name, node in module_functions(module).items()
        if name in functions
    ]
    lines = module.splitlines(keepends=True)
    found: list[Candidate] = []
    for tok in tokenize.generate_tokens(io.StringIO(module).readline):
        row, col = tok.start
        if tok.type != tokenize.OP or tok.string not in SWAPS:
            continue
        if not any(a <= row <= b for a, b in spans):
            continue
        line = lines[row - 1]
        swapped = line[:col] + SWAPS[tok.string] + line[col + len(tok.string) :]
        origin = f"rule: {tok.string!r} -> {SWAPS[tok.string]!r} on line {row}"
        found.append(Candidate(origin, "".join([*lines[: row - 1], swapped, *lines[row:]])))
        if len(found) == limit:
            break
    return found


def unified_diff(name: str, old: str, new: str) -> str:
    return "".join(
        difflib.unified_diff(
            old.splitlines(keepends=True), new.splitlines(keepends=True), f"a/{name}", f"b/{name}"
        )
    )


HUNK = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")


def apply_diff(name: str, original: str, diff: str) -> str:
    """`original` with `diff` (a unified diff of file `name`) applied; every context and removed
    line must match exactly, so a diff applies only to the text it was made from."""
    lines = diff.splitlines(keepends=True)
    if len(lines) < 3 or lines[0] != f"--- a/{name}\n" or lines[1] != f"+++ b/{name}\n":
        raise ValueError(f"the diff is not a diff of {name!r} alone")
    source = original.splitlines(keepends=True)
    out: list[str] = []
    at = 0  # lines of `source` consumed
    for line in lines[2:]:
        head = HUNK.match(line)
        if head:
            start = int(head.group(1)) - (0 if head.group(2) == "0" else 1)
            if start < at:
                raise ValueError("the diff's hunks overlap or are out of order")
            out += source[at:start]
            at = start
        elif line[:1] in (" ", "-"):
            if at >= len(source) or source[at].rstrip("\n") != line[1:].rstrip("\n"):
                raise ValueError(f"the diff does not apply: line {at + 1} differs")
            if line[0] == " ":
                out.append(source[at])
            at += 1
        elif line[:1] == "+":
            out.append(line[1:])
        elif not line.startswith("\\"):
            raise ValueError(f"not a line of a unified diff: {line[:60]!r}")
    return "".join(out + source[at:])


# -- review --------------------------------------------------------------------------------------


def review(
    diff: str, module: str, patched: str, *, max_lines: int, before: int, after: dict[str, Json]
) -> list[str]:
    """Why the patch must not be applied (an empty list: it may): it touches only `module`,
    changes at most `max_lines` lines, still compiles, and every test ran and passed."""
    problems = []
    files = re.findall(r"^\+\+\+ b/(.+)$", diff, flags=re.M)
    if files != [module]:
        problems.append(f"it must change {module!r} alone, not {files}")
    changed = sum(
        1
        for line in diff.splitlines()[2:]
        if line[:1] in "+-" and not line.startswith(("+++", "---"))
    )
    if not 0 < changed <= 2 * max_lines:
        problems.append(f"it changes {changed} lines (removed + added); at most {2 * max_lines}")
    try:
        compile(patched, module, "exec", dont_inherit=True)
    except SyntaxError as exc:
        problems.append(f"the patched module does not compile: {exc.msg} (line {exc.lineno})")
    if after.get("run") != before:
        problems.append(f"{after.get('run')} tests ran after the patch, {before} before")
    if not after.get("ok"):
        problems.append(f"tests fail after the patch ({after.get('failed')} failing)")
    return problems
