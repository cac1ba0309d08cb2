"""Standard tools in workflow files: ``tools: {NAME: {use: KIND, with: {...}}}``."""

from __future__ import annotations

import textwrap
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pydantic
import pytest

from podium.exceptions import ConfigError, PlanValidationError
from podium.plan import Workflow, load_workflow_text
from podium.tools import Tool
from podium.tools._standard import STANDARD, options, standard_tools


class _Greeting(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid")
    word: str = "hello"
    pair: bool = False


def greeter(raw: Mapping[str, Any]) -> Sequence[Tool]:
    """A test kind: one read tool, or two with ``pair: true`` (the second writes)."""
    o = options(_Greeting, raw, "greeter")

    def greet(name: str) -> str:
        """Greet someone."""
        return f"{o.word} {name}"

    def shout(name: str) -> str:
        """Greet someone loudly."""
        return f"{o.word.upper()} {name}"

    one = Tool.from_function(greet)
    return [one, Tool.from_function(shout, effect="write")] if o.pair else [one]


@pytest.fixture(autouse=True)
def _registered(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(STANDARD, "greeter", f"{__name__}:greeter")
    monkeypatch.setitem(STANDARD, "missing", "podium_no_such_module:make")


def flow(tools: str, agent_tools: str) -> str:
    return textwrap.dedent(
        f"""\
        name: f
        tools:
        {textwrap.indent(textwrap.dedent(tools), "  ")}
        agents:
          a:
            model: test
            tools: {agent_tools}
        tasks:
          - id: t
            agent: a
        """
    )


def problems(text: str) -> list[tuple[int | None, str, str]]:
    with pytest.raises(PlanValidationError) as info:
        load_workflow_text(text, path="flow.yaml")
    return [(p.line, p.where, p.message) for p in info.value.problems]


def tools_of(wf: Workflow) -> tuple[Tool, ...]:
    return next(a for a in wf.agents if a.name == "a").tools


def test_a_standard_tool_takes_the_entry_name_and_its_options() -> None:
    wf = load_workflow_text(flow("hi: {use: greeter, with: {word: hey}}", "[hi]"), path="f.yaml")
    [tool] = tools_of(wf)
    assert (tool.name, tool.effect) == ("hi", "read")
    assert tool.function(name="ann") == "hey ann"


def test_several_tools_are_prefixed_and_an_effect_can_only_be_raised() -> None:
    text = flow(
        "hi: {use: greeter, with: {pair: true}, effect: irreversible}", "[hi_greet, hi_shout]"
    )
    wf = load_workflow_text(text, path="f.yaml")
    assert [(t.name, t.effect) for t in tools_of(wf)] == [
        ("hi_greet", "irreversible"),
        ("hi_shout", "irreversible"),
    ]
    lowered = flow("hi: {use: greeter, with: {pair: true}, effect: read}", "[hi_greet]")
    assert problems(lowered) == [
        (3, "tools.hi.effect", "'hi_shout' is 'write': a file cannot lower it")
    ]


def test_bad_entries_say_which_field() -> None:
    assert problems(flow("hi: {use: greeter, with: {wrod: hey}}", "[hi]")) == [
        (3, "tools.hi.with", "tool kind 'greeter': wrod: Extra inputs are not permitted")
    ]
    [(line, where, message)] = problems(flow("hi: {use: nope}", "[hi]"))
    assert (line, where) == (3, "tools.hi.use")
    assert message.startswith("unknown standard tool 'nope' (standard tools: ")
    [(_, where, message)] = problems(flow("hi: {use: missing}", "[hi]"))
    assert where == "tools.hi.use"
    assert "needs 'podium_no_such_module', which is not installed" in message
    [(_, where, message)] = problems(flow("hi: {python: m:f, use: greeter}", "[hi]"))
    assert "give either `python` (MODULE:FUNCTION) or `use`" in message
    [(_, _, message)] = problems(flow("hi: {python: m:f, with: {a: 1}}", "[hi]"))
    assert "`with` sets a standard tool's options: it needs `use`" in message


def test_standard_tools_from_python() -> None:
    [tool] = standard_tools("greeter", {"word": "yo"}, "yo")
    assert tool.name == "yo"
    with pytest.raises(ConfigError, match="unknown standard tool 'x'"):
        standard_tools("x", {}, "x")


def located(raw: Mapping[str, Any], base_dir: Path | None = None) -> Sequence[Tool]:
    """A test kind that says where its relative paths are from."""

    def where() -> str:
        """Where relative paths are from."""
        return str(base_dir)

    return [Tool.from_function(where)]


def test_a_kind_that_takes_base_dir_gets_the_workflow_files_folder(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setitem(STANDARD, "located", f"{__name__}:located")
    path = tmp_path / "flows" / "f.yaml"
    wf = load_workflow_text(flow("w: {use: located}", "[w]"), path=str(path))
    assert tools_of(wf)[0].function() == str(path.parent)
    assert standard_tools("located", {}, "w")[0].function() == "None"
