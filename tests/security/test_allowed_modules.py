"""Workflow files are code: `PODIUM_ALLOWED_MODULES` restricts which modules they may load.

Every module the tests write leaves a marker file when it is imported, so "refused" means "never
imported", not only "reported".
"""

from __future__ import annotations

import importlib.util
import json
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from podium import Orchestrator
from podium._allowed_modules import _FINDER, ENV, AllowedModules, from_environment, parse
from podium.cli import app
from podium.cli._inputs import add_import_paths
from podium.cli._mcp import _mountable
from podium.exceptions import ConfigError, PlanValidationError
from podium.plan import load_workflow
from podium.plan._yaml_sections import A2A_AGENT
from podium.runtime._ray_worker import user_modules
from podium.server import ServerSettings, create_app
from podium.verify._checks import resolve_rule
from tests.server.conftest import ServerThread

TEAM = """
import os
import pathlib
import subprocess
from os import system

pathlib.Path(__file__).with_suffix(".imported").write_text("team")


def act(call):
    return "done"


def lookup(query: str) -> str:
    return query


def judge(output, call):
    return None


class Audit:
    async def execute(self, call, next):
        return await next(call)
"""

HOSTILE = """
import pathlib

pathlib.Path(__file__).with_suffix(".imported").write_text("hostile")


def act(call):
    return "pwned"


class Audit:
    async def execute(self, call, next):
        return await next(call)
"""

TASKS = "tasks:\n  - {id: a, agent: w}\n"


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A workflow folder with an allowed module and a hostile one; imports undone after."""
    monkeypatch.delenv(ENV, raising=False)
    monkeypatch.setattr(sys, "path", list(sys.path))
    monkeypatch.setattr(sys, "meta_path", list(sys.meta_path))
    monkeypatch.setattr(_FINDER, "roots", {})
    (tmp_path / "team_mod.py").write_text(TEAM)
    (tmp_path / "hostile_mod.py").write_text(HOSTILE)
    before = set(sys.modules)
    yield tmp_path
    for name in set(sys.modules) - before:  # only the folder's: a library imported for the first
        # time meanwhile stays, or its classes would exist twice (an `except` then misses one)
        if str(getattr(sys.modules[name], "__file__", None) or "").startswith(str(tmp_path)):
            del sys.modules[name]


def imported(folder: Path, module: str) -> bool:
    return (folder / f"{module}.imported").exists()


def write(folder: Path, text: str) -> Path:
    path = folder / "flow.yaml"
    path.write_text(text)
    return path


def problems(path: Path, **options: object) -> PlanValidationError:
    with pytest.raises(PlanValidationError) as caught:
        load_workflow(path, **options)  # type: ignore[arg-type]
    return caught.value


# -- the list ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("mycompany.agents", {"mycompany.agents"}),
        (" mycompany.agents , tools ", {"mycompany.agents", "tools"}),
        ("a,,b,", {"a", "b"}),
        ("none", set()),
        (" NONE ", set()),
    ],
)
def test_the_variable_is_a_comma_separated_list_or_none(text: str, names: set[str]) -> None:
    assert from_environment({ENV: text}) == AllowedModules(frozenset(names))


def test_unset_means_any_module() -> None:
    assert from_environment({}) is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "PODIUM_ALLOWED_MODULES is set but empty"),
        ("  ", "write 'none' to allow no Python code, or unset it to allow any module"),
        ("examples.*", "'examples.*' is not a module name; write 'examples'"),
        ("../agents", "'../agents' is not a module name"),
        ("tools,none", "'none' allows no module, so it stands alone"),
    ],
)
def test_a_malformed_list_is_a_config_error(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match="PODIUM_ALLOWED_MODULES") as caught:
        parse(text)
    assert message in str(caught.value)


def test_a_name_allows_itself_and_its_submodules_only() -> None:
    allowed = parse("mycompany.agents")
    assert allowed.permits("mycompany.agents")
    assert allowed.permits("mycompany.agents.research")
    assert not allowed.permits("mycompany")
    assert not allowed.permits("mycompany.agentsx")
    assert not allowed.permits("mycompany.tools")


def test_a_string_is_not_taken_for_a_list_of_names(folder: Path) -> None:
    path = write(folder, "agents: {w: {python: 'team_mod:act'}}\n" + TASKS)
    with pytest.raises(ConfigError, match=r"not the string 'team_mod': write \['team_mod'\]"):
        load_workflow(path, allowed_modules="team_mod")


# -- references, allowed and refused -------------------------------------------------------


SECTIONS = {
    "agent": ("agents:\n  w: {python: '%s:act'}\n", 3, "agents.w.python"),
    "interceptor": (
        "agents: {w: {model: test}}\ninterceptors:\n  - %s:Audit\n",
        4,
        "interceptors[0]",
    ),
    "tool": (
        "tools:\n  t: {python: '%s:act'}\nagents: {w: {model: test, tools: [t]}}\n",
        3,
        "tools.t.python",
    ),
}


@pytest.mark.parametrize("kind", SECTIONS)
def test_an_allowed_module_loads(folder: Path, kind: str) -> None:
    section, _line, _where = SECTIONS[kind]
    path = write(folder, "\n" + section % "team_mod" + TASKS)
    load_workflow(path, allowed_modules=["team_mod"])
    assert imported(folder, "team_mod")


@pytest.mark.parametrize("kind", SECTIONS)
def test_a_module_outside_the_list_is_refused_before_it_is_imported(
    folder: Path, kind: str
) -> None:
    section, line, where = SECTIONS[kind]
    path = write(folder, "\n" + section % "hostile_mod" + TASKS)
    error = problems(path, allowed_modules=["team_mod"])
    [problem] = error.problems
    assert (problem.file, problem.line, problem.where) == (str(path), line, where)
    assert str(problem) == (
        f"{path}:{line}: {where}: 'hostile_mod:{'Audit' if kind == 'interceptor' else 'act'}' "
        "names module 'hostile_mod', which allowed_modules does not allow (it allows "
        "team_mod); add the module there if you trust its code"
    )
    assert not imported(folder, "hostile_mod")
    assert "hostile_mod" not in sys.modules


@pytest.mark.parametrize("import_code", [True, False])
@pytest.mark.parametrize("reference", ["os:system", "builtins:eval", "subprocess:run"])
def test_the_standard_library_is_refused_unless_allowed(
    folder: Path, monkeypatch: pytest.MonkeyPatch, reference: str, import_code: bool
) -> None:
    monkeypatch.setenv(ENV, "team_mod")
    path = write(folder, f"agents:\n  w: {{python: '{reference}'}}\n" + TASKS)
    error = problems(path, import_code=import_code)
    assert f"{path}:2: agents.w.python: {reference!r} names module" in str(error)
    assert "which PODIUM_ALLOWED_MODULES does not allow (it allows team_mod)" in str(error)


@pytest.mark.parametrize("import_code", [True, False])
@pytest.mark.parametrize(
    ("reference", "message"),
    [
        ("team_mod:system", "'team_mod:system' is defined in module "),  # from os import system
        ("team_mod:os.system", "'team_mod:os.system' "),  # walks through a module
        ("team_mod:subprocess.run", "'team_mod:subprocess.run' "),
        ("team_mod:act.__globals__", "reaches '__globals__'"),
        ("team_mod:__builtins__", "reaches '__builtins__'"),
    ],
)
def test_what_an_allowed_module_imported_is_not_allowed_with_it(
    folder: Path, reference: str, message: str, import_code: bool
) -> None:
    path = write(folder, f"agents:\n  w: {{python: '{reference}'}}\n" + TASKS)
    error = problems(path, import_code=import_code, allowed_modules=["team_mod"])
    assert f"{path}:2: agents.w.python: " in str(error)
    assert message in str(error)


@pytest.mark.parametrize("reference", ["../hostile_mod:act", ".hostile_mod:act", "/tmp/x:act"])
def test_paths_are_not_references(folder: Path, reference: str) -> None:
    path = write(folder, f"agents:\n  w: {{python: '{reference}'}}\n" + TASKS)
    error = problems(path, allowed_modules=["hostile_mod"])
    assert "is not a reference of the form module:function" in str(error)
    assert not imported(folder, "hostile_mod")


def test_none_allows_no_python_code(folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV, "none")
    path = write(folder, "agents:\n  w: {python: 'team_mod:act'}\n" + TASKS)
    error = problems(path)
    assert "'team_mod:act' names module 'team_mod', and PODIUM_ALLOWED_MODULES is 'none'" in str(
        error
    )
    assert not imported(folder, "team_mod")
    model_only = write(folder, "agents: {w: {model: test}}\n" + TASKS)
    assert load_workflow(model_only).agents[0].name == "w"


def test_podiums_own_references_are_always_allowed(
    folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ENV, "none")
    path = write(
        folder,
        "agents:\n"
        "  w: {model: test, checks: [{kind: rule, rule: 'podium.verify:complete'}]}\n"
        "  remote: {a2a: 'http://127.0.0.1:9', description: d, capabilities: [c]}\n" + TASKS,
    )
    assert len(load_workflow(path, import_code=False).agents) == 2
    assert resolve_rule("podium.verify:complete").__name__ == "complete"
    assert AllowedModules(frozenset()).refusal(A2A_AGENT) is None


# -- the workflow's folder cannot stand in for other modules --------------------------------


def test_an_installed_module_wins_over_a_file_of_its_name(
    folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (folder / "colorsys.py").write_text(HOSTILE + "\ndef rgb_to_hsv(*a):\n    return 'pwned'\n")
    monkeypatch.delitem(sys.modules, "colorsys", raising=False)
    tool = "tools:\n  t: {python: 'colorsys:rgb_to_hsv'}\n"
    path = write(folder, tool + "agents: {w: {model: test}}\n" + TASKS)
    workflow = load_workflow(path, allowed_modules=["colorsys"])
    assert not imported(folder, "colorsys")
    assert not str(sys.modules["colorsys"].__file__).startswith(str(folder))
    assert workflow.agents[0].name == "w"


def test_checking_looks_where_running_imports(folder: Path) -> None:
    (folder / "colorsys.py").write_text("def only_here(call):\n    return 1\n")
    path = write(folder, "agents:\n  w: {python: 'colorsys:only_here'}\n" + TASKS)
    error = problems(path, import_code=False, allowed_modules=["colorsys"])
    assert "cannot import 'only_here' from module 'colorsys'" in str(error)


def test_the_folder_is_not_put_on_sys_path(folder: Path) -> None:
    (folder / "probe_mod.py").write_text(HOSTILE)
    path = write(folder, "agents:\n  w: {python: 'team_mod:act'}\n" + TASKS)
    load_workflow(path, allowed_modules=["team_mod"])
    assert str(folder) not in sys.path
    assert importlib.util.find_spec("probe_mod") is None  # a later `import probe_mod` fails
    assert not imported(folder, "probe_mod")


def test_a_folder_package_needs_its_top_level_name_allowed(folder: Path) -> None:
    package = folder / "pkg_mod"
    package.mkdir()
    (package / "__init__.py").write_text(HOSTILE)
    (package / "sub.py").write_text("def act(call):\n    return 1\n")
    path = write(folder, "agents:\n  w: {python: 'pkg_mod.sub:act'}\n" + TASKS)
    error = problems(path, allowed_modules=["pkg_mod.sub"])
    assert "cannot import module 'pkg_mod.sub': not found" in str(error)
    assert not (package / "__init__.imported").exists()
    load_workflow(path, allowed_modules=["pkg_mod"])
    assert (package / "__init__.imported").exists()


def test_allowed_modules_of_the_folder_are_shipped_to_ray_workers(folder: Path) -> None:
    path = write(folder, "agents:\n  w: {python: 'team_mod:act'}\n" + TASKS)
    load_workflow(path, allowed_modules=["team_mod"])
    assert sys.modules["team_mod"] in user_modules()  # by value: workers need not find it


def test_without_a_list_the_folder_still_goes_first(folder: Path) -> None:
    path = write(folder, "agents:\n  w: {python: 'hostile_mod:act'}\n" + TASKS)
    load_workflow(path)
    assert imported(folder, "hostile_mod")
    assert str(folder) in sys.path


def test_the_cli_leaves_sys_path_alone_under_a_list(
    folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ENV, "team_mod")
    add_import_paths(folder / "flow.yaml")
    assert str(folder) not in sys.path
    monkeypatch.delenv(ENV)
    add_import_paths(folder / "flow.yaml")
    assert sys.path[0] == str(folder)


# -- what else a file runs ------------------------------------------------------------------


def test_a_rule_outside_the_list_is_refused_with_its_line(folder: Path) -> None:
    path = write(
        folder,
        "agents: {w: {model: test}}\n"
        "tasks:\n"
        "  - id: a\n"
        "    agent: w\n"
        "    checks:\n"
        "      - {kind: rule, rule: 'team_mod:judge'}\n"
        "      - {kind: rule, rule: 'hostile_mod:act'}\n",
    )
    error = problems(path, allowed_modules=["team_mod"])
    [problem] = error.problems
    assert (problem.line, problem.where) == (7, "tasks[0].checks[1].rule")
    assert not imported(folder, "hostile_mod")


def test_a_rule_given_in_python_is_refused_when_it_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV, "mycompany")
    with pytest.raises(ConfigError, match="rule 'os:system' is refused: 'os:system' names module"):
        resolve_rule("os:system")


def test_a_mounted_function_follows_the_list(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV, "json")
    with pytest.raises(ConfigError, match="--mount 'os:getcwd' is refused: 'os:getcwd' names"):
        _mountable("os:getcwd")
    with pytest.raises(ConfigError, match="goes through module 'codecs'"):  # json imports it
        _mountable("json:codecs")
    assert _mountable("json:dumps") is json.dumps


def test_an_mcp_server_that_starts_a_program_is_refused(folder: Path) -> None:
    marker = folder / "started"
    path = write(
        folder,
        "mcp_servers:\n"
        "  files:\n"
        "    command: python\n"
        f"    args: [-c, \"open({str(marker)!r}, 'w')\"]\n"
        "agents: {w: {model: test}}\n" + TASKS,
    )
    error = problems(path, allowed_modules=["team_mod"])
    assert f"{path}:3: mcp_servers.files.command: MCP server 'files' starts a program" in str(error)
    assert not marker.exists()


def test_a_ray_runtime_env_is_refused(folder: Path) -> None:
    path = write(
        folder,
        "executor:\n  ray:\n    runtime_env: {pip: [evil]}\nagents: {w: {model: test}}\n" + TASKS,
    )
    error = problems(path, import_code=False, allowed_modules=["team_mod"])
    assert "executor.ray.runtime_env: a Ray runtime_env installs packages" in str(error)


# -- where the list is read -----------------------------------------------------------------


def test_podium_validate_reports_a_refused_reference(folder: Path) -> None:
    path = write(folder, "agents:\n  w: {python: 'hostile_mod:act'}\n" + TASKS)
    result = CliRunner().invoke(app, ["validate", str(path)], env={ENV: "team_mod"})
    assert result.exit_code == 2
    assert f"{path}:2: agents.w.python: 'hostile_mod:act' names module 'hostile_mod'" in (
        result.output
    )
    assert not imported(folder, "hostile_mod")


def test_podium_run_refuses_before_importing(folder: Path) -> None:
    path = write(folder, "agents:\n  w: {python: 'hostile_mod:act'}\n" + TASKS)
    result = CliRunner().invoke(
        app, ["run", str(path), "--store", "memory://"], env={ENV: "team_mod"}
    )
    assert result.exit_code == 2
    assert "which PODIUM_ALLOWED_MODULES does not allow" in result.output
    assert not imported(folder, "hostile_mod")


def test_a_server_offers_only_files_within_its_list(folder: Path) -> None:
    bad = write(folder, "name: bad\nagents:\n  w: {python: 'hostile_mod:act'}\n" + TASKS)
    (folder / "good.yaml").write_text(
        "name: good\nagents:\n  w: {python: 'team_mod:act'}\n" + TASKS
    )
    settings = ServerSettings(store="memory://", workflows=(folder,), allowed_modules=["team_mod"])
    thread = ServerThread(create_app(settings))
    url = thread.start()
    try:
        with httpx.Client(base_url=url, timeout=60) as client:
            listed = {w["name"]: w for w in client.get("/api/workflows").json()["workflows"]}
            assert listed["good"]["error"] is None
            assert (
                f"{bad}:3: agents.w.python: 'hostile_mod:act' names module"
                in (listed["flow"]["error"])
            )
            refused = client.post("/api/runs", json={"workflow": str(bad)})
            assert refused.status_code == 422
            submitted = client.post("/api/runs", json={"workflow": "good"})
            assert submitted.status_code == 201
    finally:
        thread.stop()
    assert not imported(folder, "hostile_mod")
    assert imported(folder, "team_mod")


@pytest.mark.anyio
async def test_a_run_of_an_allowed_file_succeeds(folder: Path) -> None:
    path = write(folder, "agents:\n  w: {python: 'team_mod:act'}\n" + TASKS)
    workflow = load_workflow(path, allowed_modules=["team_mod"])
    async with Orchestrator(store="memory://") as orch:
        result = await orch.run(workflow)
    assert result.status == "succeeded"
    assert result.tasks["a"]["output"] == "done"
