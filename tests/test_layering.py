"""The package layering holds in the import graph, not only on paper.

Every ``import`` and ``from … import`` in ``podium/``, at any depth (in functions and classes
too), is read with `ast`, except those under ``if TYPE_CHECKING:`` (annotations only: they never
run). Each module belongs to a subpackage (``podium/plan/_yaml.py`` to ``plan``; a top-level
module such as ``podium/events.py`` is its own). The layers and function-level imports are
checked between subpackages; circles between modules too, runtime's included.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import podium

ROOT = Path(podium.__file__).parent

# Bottom to top: a subpackage may import its own layer (without a circle) and the layers below.
LAYERS: tuple[tuple[str, ...], ...] = (
    (
        "exceptions",
        "events",
        "secrets",  # secret references and redaction: the store and the journal use it
        "_sync",
        "_chain",
        "_minilm",
        "_allowed_modules",  # which modules references may load (PODIUM_ALLOWED_MODULES)
    ),  # foundations: they import no other part
    ("context", "store", "verify"),
    ("models", "tools"),
    ("reliability", "agents", "mcp"),  # mcp: tools from MCP servers (the podium[mcp] extra)
    ("policy", "plan", "routing"),
    ("runtime",),
    ("telemetry", "metrics", "diagnose", "audit"),  # traces, metrics, diagnosis, audit: readers
    ("podium",),  # podium/__init__.py, the curated namespace: it re-exports from the layers below
    ("server",),  # `podium serve`: the HTTP API and the dashboard
    ("a2a",),  # A2A both ways: `podium a2a serve`, remote agents in a team
    ("cli",),
    ("testing",),  # the fakes: a leaf on top that the library never imports
)
LAYER = {part: level for level, parts in enumerate(LAYERS) for part in parts}

# Imports inside a function of another subpackage that are allowed, with why. An optional heavy
# dependency imported on use (psycopg, openai, llama_cpp) is not a podium subpackage: not listed.
FUNCTION_IMPORTS_ALLOWED: dict[tuple[str, str], str] = {}


@dataclass(frozen=True)
class Import:
    module: str  # the importing module, dotted
    target: str  # the imported module, dotted
    line: int
    in_function: bool

    @property
    def source_part(self) -> str:
        return part_of(self.module)

    @property
    def target_part(self) -> str:
        return part_of(self.target)

    def __str__(self) -> str:
        where = " (in a function)" if self.in_function else ""
        return f"{self.module}:{self.line} imports {self.target}{where}"


def part_of(module: str) -> str:
    """``podium.plan._yaml`` → ``plan``; ``podium`` → ``podium``."""
    names = module.split(".")
    return names[1] if len(names) > 1 else names[0]


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def is_module(name: str) -> bool:
    path = ROOT.parent.joinpath(*name.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


class Collector(ast.NodeVisitor):
    """The podium imports of one module, with whether each runs inside a function."""

    def __init__(self, module: str, package: bool) -> None:
        self.module = module
        self.package = module if package else module.rpartition(".")[0]
        self.depth = 0
        self.imports: list[Import] = []

    def add(self, target: str, node: ast.stmt | ast.expr) -> None:
        if target == "podium" or target.startswith("podium."):
            self.imports.append(Import(self.module, target, node.lineno, self.depth > 0))

    def visit_If(self, node: ast.If) -> None:
        if not is_type_checking(node):
            self.generic_visit(node)
            return
        for child in node.orelse:
            self.visit(child)

    def in_function(self, node: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda) -> None:
        self.depth += 1
        self.generic_visit(node)
        self.depth -= 1

    visit_FunctionDef = visit_AsyncFunctionDef = visit_Lambda = in_function

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self.add(alias.name, node)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        base = node.module or ""
        if node.level:
            anchor = self.package.split(".")[: len(self.package.split(".")) - node.level + 1]
            base = ".".join([*anchor, *([base] if base else [])])
        for alias in node.names:
            name = f"{base}.{alias.name}"
            self.add(name if is_module(name) else base, node)

    def visit_Call(self, node: ast.Call) -> None:
        """``importlib.import_module("podium.x")``: an import by another name."""
        func = node.func
        called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
        first = node.args[0] if node.args else None
        if called == "import_module" and isinstance(first, ast.Constant):
            self.add(str(first.value), node)
        self.generic_visit(node)


def all_imports() -> Iterator[Import]:
    for path in sorted(ROOT.rglob("*.py")):
        collector = Collector(module_name(path), path.name == "__init__.py")
        collector.visit(ast.parse(path.read_text(encoding="utf-8"), filename=str(path)))
        yield from collector.imports


def between_parts() -> list[Import]:
    return [i for i in all_imports() if i.source_part != i.target_part]


def test_every_subpackage_has_a_layer() -> None:
    parts = {part_of(module_name(path)) for path in ROOT.rglob("*.py")}
    assert parts - set(LAYER) == set(), "add the new subpackage to LAYERS"


def test_no_subpackage_imports_a_layer_above_it() -> None:
    upward = [i for i in between_parts() if LAYER[i.target_part] > LAYER[i.source_part]]
    assert upward == [], "\n".join(map(str, upward))


def test_no_import_circles_between_subpackages() -> None:
    graph: dict[str, set[str]] = {}
    for i in between_parts():
        graph.setdefault(i.source_part, set()).add(i.target_part)
    assert find_circle(graph) is None


def test_no_import_circles_between_modules() -> None:
    graph: dict[str, set[str]] = {}
    for i in all_imports():
        if i.target != i.module:
            graph.setdefault(i.module, set()).add(i.target)
    assert find_circle(graph) is None


def find_circle(graph: dict[str, set[str]]) -> list[str] | None:
    """One circle of `graph` (its nodes, the first repeated at the end), or ``None``."""
    done: set[str] = set()

    def visit(node: str, path: list[str]) -> list[str] | None:
        if node in path:
            return [*path[path.index(node) :], node]
        if node in done:
            return None
        for successor in sorted(graph.get(node, ())):
            circle = visit(successor, [*path, node])
            if circle is not None:
                return circle
        done.add(node)
        return None

    for start in sorted(graph):
        circle = visit(start, [])
        if circle is not None:
            return circle
    return None


def test_no_function_level_imports_of_another_subpackage() -> None:
    dodges = [
        i
        for i in between_parts()
        if i.in_function and (i.module, i.target_part) not in FUNCTION_IMPORTS_ALLOWED
    ]
    assert dodges == [], "\n".join(map(str, dodges))


def test_the_collector_sees_what_it_must() -> None:
    source = """
from typing import TYPE_CHECKING
import podium.models._base
from podium.plan import Task
from . import _spec
if TYPE_CHECKING:
    from podium.runtime import Orchestrator
else:
    import podium.events
def later():
    from podium.routing import BM25Relevance
    return importlib.import_module("podium.testing")
"""
    collector = Collector("podium.agents._x", package=False)
    collector.visit(ast.parse(source))
    assert [(i.target, i.in_function) for i in collector.imports] == [
        ("podium.models._base", False),
        ("podium.plan", False),
        ("podium.agents._spec", False),
        ("podium.events", False),
        ("podium.routing", True),
        ("podium.testing", True),
    ]


def test_find_circle() -> None:
    assert find_circle({"a": {"b"}, "b": {"c"}}) is None
    assert find_circle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
