"""Hostile workflow files: every one is refused with one line naming file and line, in bounded
memory, never with a traceback, a hang or a `RecursionError`.

One section per class of input: alias bombs, deep nesting, characters YAML forbids, sizes,
numbers, tags, task counts and graphs, odd task ids, duplicate keys, garbage, and the code that
``python:`` references import (run) or only look up (validate).
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
import textwrap
import tracemalloc
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from typer.testing import CliRunner

from podium.cli import app
from podium.exceptions import ConfigError, PlanValidationError
from podium.plan import (
    DEFAULT_MAX_TASKS,
    Plan,
    Task,
    Workflow,
    _yaml_compose,
    find_cycles,
    load_workflow,
    load_workflow_text,
    upstream_of,
    validate_plan,
)

FILE = "hostile.yaml"
DATA = Path(__file__).parent / "data"
TEAM = "agents: {w: {model: test}}\n"


def refused(text: str) -> ConfigError:
    """The error of a text that is not a workflow file at all: one line, file and line."""
    with pytest.raises(ConfigError) as info:
        load_workflow_text(text, path=FILE, import_code=False)
    return one_line(info.value, FILE)


def one_line(error: ConfigError, file: str) -> ConfigError:
    assert not isinstance(error, PlanValidationError), error
    assert error.file == file
    assert error.line is not None
    assert str(error).startswith(f"{file}:{error.line}: ")
    assert "\n" not in str(error)
    assert error.__cause__ is None
    return error


def problems(text: str) -> list[tuple[int | None, str, str]]:
    """(line, field, message) of every problem of a workflow text."""
    with pytest.raises(PlanValidationError) as info:
        load_workflow_text(textwrap.dedent(text), path=FILE, import_code=False)
    assert all(p.file == FILE for p in info.value.problems)
    return [(p.line, p.where, p.message) for p in info.value.problems]


@contextmanager
def memory_at_most(megabytes: float) -> Iterator[None]:
    """Fail if the block allocates more than `megabytes` at its peak (counts, not wall time)."""
    tracemalloc.start()
    try:
        yield
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < megabytes * 2**20, f"peak {peak / 2**20:.1f} MiB"


# -- alias bombs --------------------------------------------------------------------------------


def laughs(levels: int = 9, width: int = 9) -> str:
    """The billion laughs: each level a list of `width` aliases of the level below."""
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for i in range(1, levels + 1):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * width) + "]")
    return "\n".join(lines) + "\ntasks: []\n"


def block_laughs() -> str:
    out = "a0: &a0\n" + "  - lol\n" * 9
    for i in range(1, 10):
        out += f"a{i}: &a{i}\n" + f"  - *a{i - 1}\n" * 9
    return out


def mapping_laughs() -> str:
    out = "a0: &a0 {x: lol, y: lol}\n"
    for i in range(1, 12):
        keys = ", ".join(f"k{j}: *a{i - 1}" for j in range(6))
        out += f"a{i}: &a{i} {{{keys}}}\n"
    return out


def merge_laughs() -> str:
    out = "a0: &a0 {x: [lol, lol, lol, lol]}\n"
    for i in range(1, 12):
        out += (
            f"a{i}: &a{i} {{<<: *a{i - 1}, y{i}: [*a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}]}}\n"
        )
    return out


def wide_anchor() -> str:
    return "a: &a [" + "x, " * 5000 + "x]\nb: [" + "*a, " * 100 + "*a]\n"


def bomb_in_a_task() -> str:
    return laughs().replace("tasks: []", TEAM + "tasks: [{id: t, agent: w, output_schema: *a9}]")


@pytest.mark.parametrize(
    "text",
    [
        laughs(),
        laughs(30, 2),
        block_laughs(),
        mapping_laughs(),
        merge_laughs(),
        wide_anchor(),
        bomb_in_a_task(),
    ],
    ids=["laughs", "binary-laughs", "block", "mappings", "merge-keys", "wide", "in-a-task"],
)
def test_an_alias_bomb_is_refused_at_the_alias_that_passes_the_node_limit(text: str) -> None:
    with memory_at_most(16):
        error = refused(text)
    assert "alias *a" in str(error)
    assert "past 250,000 nodes" in str(error)
    expanding = next(i for i, line in enumerate(text.splitlines(), 1) if "*" in line)
    assert error.line is not None
    assert error.line >= expanding


@pytest.mark.parametrize(
    "text", ["a: &a [*a]\n", "a: &a {b: [1, {c: *a}]}\n", "a: &a\n  b: *a\n", "a: &a {<<: *a}\n"]
)
def test_a_recursive_alias_is_refused(text: str) -> None:
    error = refused(text)
    assert "is inside the node it stands for (recursive data)" in str(error)


def test_aliases_within_the_limits_still_work() -> None:
    text = TEAM + textwrap.dedent("""\
        tasks:
          - &base {id: a, agent: w, retries: 2, reads: &keys [k1, k2]}
          - {<<: *base, id: b, needs: [a], reads: *keys}
        """)
    wf = load_workflow_text(text, path=FILE)
    assert wf.plan.tasks["b"].retries == 2
    assert wf.plan.tasks["b"].reads == ("k1", "k2")


# -- nesting ----------------------------------------------------------------------------------


def flow_lists(n: int) -> str:
    return "tasks: " + "[" * n + "]" * n + "\n"


def flow_maps(n: int) -> str:
    return "tasks: " + "{a: " * n + "1" + "}" * n + "\n"


def flow_mixed(n: int) -> str:
    return "tasks: " + "[{a: " * (n // 2) + "1" + "}]" * (n // 2) + "\n"


def block_lists(n: int) -> str:
    return "tasks:\n" + "- " * n + "x\n"


def block_maps(n: int) -> str:
    return "".join(" " * i + f"k{i}:\n" for i in range(n)) + " " * n + "x\n"


def alias_chain(n: int) -> str:
    """Each anchor ten levels deeper than the one it holds: nesting passed on through aliases."""
    out = "a0: &a0 " + "[" * 10 + "]" * 10 + "\n"
    for i in range(1, n // 10 + 1):
        out += f"a{i}: &a{i} " + "[" * 9 + f"*a{i - 1}" + "]" * 9 + "\n"
    return out


@pytest.mark.parametrize("n", [65, 500, 100_000])
@pytest.mark.parametrize(
    "nest", [flow_lists, flow_maps, flow_mixed, block_lists], ids=lambda f: f.__name__
)
def test_deep_nesting_is_refused_without_recursion(nest: Callable[[int], str], n: int) -> None:
    with memory_at_most(32):
        error = refused(nest(n))
    assert "nest more than 64 levels deep" in str(error)


@pytest.mark.parametrize("n", [65, 1000])
def test_deep_block_mappings_are_refused_at_the_line_that_passes_the_limit(n: int) -> None:
    error = refused(block_maps(n))
    assert "nest more than 64 levels deep" in str(error)
    assert error.line == 65


def test_nesting_through_aliases_is_refused() -> None:
    error = refused(alias_chain(1000))
    assert "alias *a" in str(error)
    assert "nest more than 64 levels deep" in str(error)


def test_nesting_up_to_the_limit_is_accepted() -> None:
    def metadata(levels: int) -> str:  # the file, agents, w and metadata make four levels
        return "{x: " + "[" * levels + "]" * levels + "}"

    ok = load_workflow_text(
        f"agents: {{w: {{model: test, metadata: {metadata(60)}}}}}\ntasks: [{{id: a, agent: w}}]"
    )
    assert len(ok.plan) == 1
    error = refused(f"agents: {{w: {{model: test, metadata: {metadata(61)}}}}}\n")
    assert "nest more than 64 levels deep" in str(error)


# -- characters YAML does not allow -------------------------------------------------------------

FORBIDDEN = [
    "\x00",  # NUL
    "\x01",
    "\x07",  # BEL
    "\x08",  # BS
    "\x0b",  # VT
    "\x0c",  # FF
    "\x1b",  # ESC
    "\x7f",  # DEL
    "\x80",  # C1
    "\x9b",  # CSI
    "\x9f",
    "\ud800",  # lone surrogates: text decoded from bytes that are not UTF-8
    "\udcff",
    "\ufffe",  # non-characters
    "\uffff",
]
PLACES = {
    "plain": "name: ab{c}cd\n",
    "key": "ab{c}cd: 1\n",
    "double-quoted": 'name: "ab{c}cd"\n',
    "single-quoted": "name: 'ab{c}cd'\n",
    "comment": "# ab{c}cd\n",
    "block": "name: |\n  ab{c}cd\n",
}


@pytest.mark.parametrize("char", FORBIDDEN, ids=lambda c: f"U+{ord(c):04X}")
@pytest.mark.parametrize("place", list(PLACES))
def test_a_forbidden_character_names_its_line_and_column(char: str, place: str) -> None:
    line = PLACES[place].format(c=char)
    text = TEAM + "tasks: []\n" + line
    error = refused(text)
    at_line = 3 + line.count("\n", 0, line.index(char))
    column = line.index(char) - (line.rfind("\n", 0, line.index(char)) + 1) + 1
    assert error.line == at_line
    assert str(error).endswith(f"(column {column})")
    assert f"U+{ord(char):04X}" in str(error)


@pytest.mark.parametrize("char", [c for c in FORBIDDEN if not 0xD800 <= ord(c) <= 0xDFFF])
def test_a_forbidden_character_in_a_file(tmp_path: Path, char: str) -> None:
    path = tmp_path / "flow.yaml"
    path.write_bytes(f"name: x\ntasks: []\ndescription: a{char}b\n".encode())
    with pytest.raises(ConfigError) as info:
        load_workflow(path)
    error = one_line(info.value, str(path))
    assert error.line == 3


def test_tabs_and_non_breaking_spaces_are_text() -> None:
    wf = load_workflow_text(TEAM + 'description: "a\tb\xa0c"\ntasks: [{id: a, agent: w}]\n')
    assert len(wf.plan) == 1


def test_a_utf8_byte_order_mark_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "bom.yaml"
    path.write_bytes(b"\xef\xbb\xbf" + (TEAM + "tasks: [{id: a, agent: w}]\n").encode())
    assert load_workflow(path).name == "bom"
    assert len(load_workflow_text("\ufeff" + TEAM + "tasks: [{id: a, agent: w}]\n").plan) == 1


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-be", "utf-32", "latin-1", "cp1252"])
def test_a_file_in_another_encoding_is_refused(tmp_path: Path, encoding: str) -> None:
    path = tmp_path / "other.yaml"
    data = "name: café ☕\n".encode(encoding, errors="replace")
    if encoding == "utf-16-be":
        data = b"\xfe\xff" + data
    path.write_bytes(data)
    with pytest.raises(ConfigError) as info:
        load_workflow(path)
    assert str(info.value).startswith(f"{path}: the workflow file is not UTF-8 text (")
    assert "\n" not in str(info.value)


# -- sizes and numbers --------------------------------------------------------------------------


def test_a_file_past_the_size_limit_is_not_even_read(tmp_path: Path) -> None:
    path = tmp_path / "big.yaml"
    with path.open("w", encoding="utf-8") as out:
        out.write(TEAM + "tasks: []\n")
        for _ in range(200_000):
            out.write("# a comment that makes the file large, line after line\n")
    with memory_at_most(12), pytest.raises(ConfigError) as info:  # the limit, read once
        load_workflow(path)
    error = one_line(info.value, str(path))
    assert "larger than the 4 MiB limit" in str(error)


def test_a_text_past_the_size_limit() -> None:
    error = refused("name: x\n" + "# padding\n" * 500_000)
    assert "larger than the 4 MiB limit" in str(error)


def test_a_huge_scalar_within_the_limit_is_fine() -> None:
    wf = load_workflow_text(
        TEAM + f"tasks: [{{id: a, agent: w, instruction: {'word ' * 600_000}}}]\n"
    )
    assert len(wf.plan.tasks["a"].instruction) > 2_000_000


def test_more_nodes_than_the_limit() -> None:
    error = refused("tasks: [" + "1, " * 260_000 + "1]\n")
    assert "more than 250,000 nodes" in str(error)


LONG = "longer than 100 characters"
WIDE = "quote it to keep it as text"


@pytest.mark.parametrize(
    ("value", "said"),
    [
        ("9" * 5000, LONG),  # Python refuses to convert it at all
        ("1" * 101, LONG),
        ("18446744073709551616", WIDE),  # 2**64
        ("-9223372036854775809", WIDE),  # -2**63 - 1
        ("0x" + "f" * 200, LONG),
        (":".join(["1"] * 100_000), LONG),  # a base-60 integer: quadratic to compute
        ("1." + "0" * 200, LONG),
        ("1:" * 60 + "1.5", LONG),
    ],
    ids=["5000-digits", "101-digits", "2**64", "-2**63-1", "hex", "base-60", "float", "b60-float"],
)
def test_numbers_too_long_or_too_large_are_refused(value: str, said: str) -> None:
    error = refused(TEAM + "tasks:\n  - id: a\n    agent: w\n    retries: " + value + "\n")
    assert error.line == 5
    assert said in str(error)


def test_large_numbers_within_64_bits_are_fine() -> None:
    wf = load_workflow_text(
        TEAM + "tasks: [{id: a, agent: w, retries: 18446744073709551615}]\n", path=FILE
    )
    assert wf.plan.tasks["a"].retries == 2**64 - 1


# -- tags -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "name: !!python/object/apply:os.system ['true']\n",
        "name: !!python/name:os.system\n",
        "tasks: !!binary aGVsbG8=\n",
        "tasks: !!set {a, b}\n",
        "tasks: !!omap [{a: 1}]\n",
        "tasks: !!pairs [{a: 1}]\n",
        "tasks: !!timestamp 2020-01-01\n",
        "name: !custom x\n",
        "name: !<tag:example.com,2000:x> y\n",
        "%TAG !e! tag:example.com,2000:\n---\nname: !e!x y\n",
    ],
)
def test_tags_that_are_not_plain_data_are_refused(text: str) -> None:
    error = refused(text)
    assert "is not supported: a workflow file holds plain data" in str(error)
    assert error.line == text.count("\n")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("name: !!int x\n", "cannot read 'x' as an integer"),
        ("name: !!bool maybe\n", "cannot read 'maybe' as a boolean"),
        ("name: !!float x\n", "cannot read 'x' as a number"),
        ("tasks: 2020-13-45\n", "cannot read '2020-13-45' as a date: month must be in 1..12"),
        ("tasks: !!map [a]\n", "expected a mapping node, but found sequence"),
        ("tasks: !!str [a]\n", "expected a scalar node, but found sequence"),
        ("tasks: {[a]: 1}\n", "found unhashable key"),
    ],
)
def test_values_that_cannot_be_read_as_their_tag_name_their_line(text: str, message: str) -> None:
    error = refused("name: ok\n" + text)
    assert error.line == 2
    assert message in str(error)


def test_plain_data_tags_still_work() -> None:
    wf = load_workflow_text(TEAM + "name: !!str 123\ntasks: [{id: a, agent: w, retries: !!int 2}]")
    assert (wf.name, wf.plan.tasks["a"].retries) == ("123", 2)


# -- task counts and graphs ----------------------------------------------------------------------


def test_a_file_with_more_tasks_than_the_limit_fails_validation() -> None:
    text = TEAM + "tasks:\n" + "".join(f"  - {{id: t{i}, agent: w}}\n" for i in range(10_001))
    assert problems(text) == [
        (
            2,
            "tasks",
            "the plan has 10,001 tasks, more than the limit of 10,000 (Limits.max_tasks)",
        )
    ]


def test_max_tasks_of_validate_plan() -> None:
    plan = Plan([Task(id=f"t{i}", agent="w") for i in range(11)])
    assert DEFAULT_MAX_TASKS == 10_000
    [problem] = validate_plan(plan, agents={"w": ()}, max_tasks=10)
    assert (problem.where, problem.message) == (
        "tasks",
        "the plan has 11 tasks, more than the limit of 10 (Limits.max_tasks)",
    )
    assert validate_plan(plan, agents={"w": ()}, max_tasks=None) == []


def test_a_long_chain_is_checked_without_recursion() -> None:
    n = 3000  # past Python's recursion limit
    tasks = [Task(id="t0", agent="w")] + [
        Task(id=f"t{i}", agent="w", needs=(f"t{i - 1}",), instruction="{{ tasks.t0.output }}")
        for i in range(1, n)
    ]
    plan = Plan(tasks)
    assert validate_plan(plan, agents={"w": ()}) == []
    assert find_cycles(plan) == []
    short = Plan(tasks[:1200])
    assert len(upstream_of(short)["t1199"]) == 1199


def test_a_long_cycle_is_named_in_short_and_cycles_are_counted() -> None:
    n = 3000
    ring = Plan([Task(id=f"t{i}", agent="w", needs=(f"t{(i + 1) % n}",)) for i in range(n)])
    [problem] = validate_plan(ring, agents={"w": ()})
    assert problem.message.startswith("dependency cycle: t0 → t2999 → t2998")
    assert f"… ({n + 1 - 20} more)" in problem.message
    # every task needs the next and the first: a cycle through t0 for each task
    fan = Plan([Task(id=f"t{i}", agent="w", needs=(f"t{(i + 1) % n}", "t0")) for i in range(n)])
    assert len(validate_plan(fan, agents={"w": ()})) == 20


def test_many_agents_and_many_unknown_names_stay_short() -> None:
    agents = "".join(f"  a{i}: {{model: test, backups: [zz{i}]}}\n" for i in range(1000))
    tasks = "".join(f"  - {{id: t{i}, agent: nope{i}}}\n" for i in range(1000))
    with pytest.raises(PlanValidationError) as info:
        load_workflow_text("agents:\n" + agents + "tasks:\n" + tasks, path=FILE)
    found = info.value.problems
    assert len(found) == 101  # a hundred, and how many more
    assert found[0].message == "unknown backup agent 'zz0' (none of the 1,000 known)"
    assert found[-1].message == "… and 1,900 more problems"
    assert max(len(str(p)) for p in found) < 300


# -- odd task ids -------------------------------------------------------------------------------

ODD_IDS = ["", " ", "a b", "1a", "ü", "a.b", "*", "a[1]", "-", "tasks", "a\nb", "x" * 300]


@pytest.mark.parametrize("tid", ODD_IDS, ids=repr)
def test_an_odd_id_in_a_list_is_reported_at_its_line(tid: str) -> None:
    text = TEAM + f"tasks:\n  - id: ok\n    agent: w\n  - id: {json.dumps(tid)}\n    agent: nope\n"
    found = problems(text)
    if tid in ("tasks", "x" * 300):  # valid, only its agent is unknown
        assert found == [(6, f"tasks.{tid}.agent", "unknown agent 'nope' (known: w)")]
        return
    assert found == [
        (5, f"tasks.{tid}.id", f"invalid task id {tid!r}: use letters, digits, _ and -"),
        (6, f"tasks.{tid}.agent", "unknown agent 'nope' (known: w)"),
    ]


@pytest.mark.parametrize("tid", ["", " ", "*", "1a"], ids=repr)
def test_an_odd_id_as_a_key_is_reported_at_its_line(tid: str) -> None:
    text = TEAM + f"tasks:\n  ok: {{agent: w}}\n  {json.dumps(tid)}: {{agent: w}}\n"
    assert problems(text) == [
        (4, f"tasks.{tid}.id", f"invalid task id {tid!r}: use letters, digits, _ and -")
    ]


def test_a_task_named_star_does_not_silence_the_others() -> None:
    assert problems(
        TEAM
        + textwrap.dedent("""\
        tasks:
          - {id: "*", agent: w, instructoin: x}
          - {id: b, agent: nope}
        """)
    ) == [
        (3, "tasks[0]", "unknown key 'instructoin' (did you mean 'instruction'?)"),
        (4, "tasks.b.agent", "unknown agent 'nope' (known: w)"),
    ]


# -- duplicate keys ----------------------------------------------------------------------------


def test_duplicate_keys_are_reported_wherever_they_are() -> None:
    assert problems("""\
        agents: {w: {model: test}}
        tasks:
          a: {agent: w}
          b:
            agent: w
            agent: w
          a: {agent: w}
        name: x
        name: y
        """) == [
        (6, "tasks.b.agent", "duplicate key 'agent' (first at line 5)"),
        (7, "tasks.a", "duplicate key 'a' (first at line 3)"),
        (9, "name", "duplicate key 'name' (first at line 8)"),
    ]


def test_a_duplicate_anchor_is_refused() -> None:
    error = refused("a: &x 1\nb: &x 2\n")
    assert str(error) == (
        f"{FILE}:2: invalid YAML: found duplicate anchor 'x'; first occurrence (line 1), "
        "second occurrence (column 4)"
    )


# -- garbage ----------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(8))
def test_random_bytes_are_refused(tmp_path: Path, seed: int) -> None:
    path = tmp_path / "garbage.yaml"
    path.write_bytes(random.Random(seed).randbytes(4000))
    with pytest.raises(ConfigError) as info:
        load_workflow(path)
    assert str(info.value).startswith(str(path))


@pytest.mark.parametrize("seed", range(8))
def test_random_text_is_refused(seed: int) -> None:
    rng = random.Random(seed)
    text = "".join(chr(rng.randrange(1, 0x3000)) for _ in range(3000))
    with pytest.raises(ConfigError) as info:
        load_workflow_text(text, path=FILE, import_code=False)
    error = info.value
    if isinstance(error, PlanValidationError):  # YAML, but not a workflow: every problem placed
        assert error.problems
        assert all(str(p).startswith(f"{FILE}:") for p in error.problems)
    else:
        assert str(error).startswith(FILE)


def mutations(text: str, count: int) -> Iterator[str]:
    """`text` with a few characters inserted, deleted or replaced, the same ones every time."""
    rng = random.Random(8)
    palette = "[]{}:,-&*!|>'\"#%@?<\n \t\\\x00\x1b\x85\u2028\ufeffa1."
    for _ in range(count):
        chars = list(text)
        for _ in range(rng.randrange(1, 4)):
            i = rng.randrange(len(chars))
            action = rng.randrange(3)
            if action == 0:
                chars.insert(i, rng.choice(palette))
            elif action == 1:
                del chars[i]
            else:
                chars[i] = rng.choice(palette)
        yield "".join(chars)


def test_mutated_workflows_load_or_fail_with_located_config_errors() -> None:
    path = str(DATA / "full.yaml")
    original = (DATA / "full.yaml").read_text(encoding="utf-8")
    loaded, errors = 0, []
    for text in mutations(original, 200):
        try:
            load_workflow_text(text, path=path, import_code=False)
        except ConfigError as exc:  # anything else fails the test
            errors.append(exc)
        else:
            loaded += 1
    assert loaded > 0
    assert len(errors) > 50
    for error in errors:
        if isinstance(error, PlanValidationError):
            assert all(p.file == path for p in error.problems)
        else:
            one_line(error, path)


# -- code: imported to run, only looked up to check ---------------------------------------------


@pytest.fixture
def module(tmp_path: Path) -> Callable[[str], str]:
    """Writes a module of this source beside the test's workflow files; its (unique) name."""

    def write(source: str) -> str:
        name = f"hostile_{uuid.uuid4().hex[:12]}"
        (tmp_path / f"{name}.py").write_text(textwrap.dedent(source), encoding="utf-8")
        return name

    return write


def workflow_file(folder: Path, agents: dict[str, str]) -> Path:
    lines = ["agents:"] + [f"  {name}: {{python: {ref!r}}}" for name, ref in agents.items()]
    lines += ["tasks:", f"  - {{id: a, agent: {next(iter(agents))}}}"]
    path = folder / f"flow_{uuid.uuid4().hex[:8]}.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("import sys\nsys.exit(3)\n", "its code called sys.exit(3) at import"),
        ("raise SystemExit('bye')\n", "its code called sys.exit('bye') at import"),
        ("raise KeyboardInterrupt\n", "interrupted (KeyboardInterrupt)"),
        ("raise ValueError('no config')\n", "ValueError: no config"),
        ("import nosuchmodule_for_podium\n", "No module named 'nosuchmodule_for_podium'"),
    ],
)
def test_a_module_that_fails_on_import_is_a_located_problem(
    tmp_path: Path, module: Callable[[str], str], source: str, message: str
) -> None:
    name = module(source + "def act(call):\n    return 1\n")
    path = workflow_file(tmp_path, {"w": f"{name}:act"})
    with pytest.raises(PlanValidationError) as info:
        load_workflow(path)
    [problem] = info.value.problems
    assert (problem.file, problem.line, problem.where) == (str(path), 2, "agents.w.python")
    assert problem.message.startswith(f"importing module {name!r} failed: ")
    assert message in problem.message


def test_a_module_attribute_that_fails_when_read(
    tmp_path: Path, module: Callable[..., str]
) -> None:
    name = module("def __getattr__(name):\n    raise RuntimeError('lazy ' + name)\n")
    with pytest.raises(PlanValidationError) as info:
        load_workflow(workflow_file(tmp_path, {"w": f"{name}:act"}))
    assert info.value.problems[0].message == (
        f"reading 'act' from module {name!r} failed: RuntimeError: lazy act"
    )


def test_checking_runs_no_code(tmp_path: Path, module: Callable[[str], str]) -> None:
    marker = tmp_path / "imported"
    name = module(f"""\
        from pathlib import Path
        Path({str(marker)!r}).write_text("imported")
        raise SystemExit(1)

        def act(call):
            return 1

        def search(query: str) -> str:
            return query
        """)
    path = workflow_file(tmp_path, {"w": f"{name}:act"})
    path.write_text(
        path.read_text(encoding="utf-8").replace(
            "tasks:",
            f"  r: {{model: test, tools: [s]}}\ntools:\n  s: {{python: '{name}:search'}}\ntasks:",
        ),
        encoding="utf-8",
    )
    wf = load_workflow(path, import_code=False)
    assert not marker.exists()
    assert name not in sys.modules
    agents = {a.name: a for a in wf.agents}
    [tool] = agents["r"].tools
    assert (tool.name, tool.parameters["properties"]) == ("s", {})  # stands in for the function
    stand_ins: list[Callable[..., object] | None] = [agents["w"].function, tool.function]
    for stand_in in stand_ins:
        assert stand_in is not None
        with pytest.raises(ConfigError, match=r"was not imported: .* import_code=False"):
            stand_in("call")


def test_checking_does_not_import_the_packages_on_the_way(tmp_path: Path) -> None:
    marker = tmp_path / "imported"
    package = f"hostile_pkg_{uuid.uuid4().hex[:8]}"
    (tmp_path / package / "inner").mkdir(parents=True)
    (tmp_path / package / "__init__.py").write_text(
        f"from pathlib import Path\nPath({str(marker)!r}).write_text('x')\n", encoding="utf-8"
    )
    (tmp_path / package / "inner" / "__init__.py").write_text("", encoding="utf-8")
    (tmp_path / package / "inner" / "agents.py").write_text(
        "def act(call):\n    return 1\n", encoding="utf-8"
    )
    ok = workflow_file(tmp_path, {"w": f"{package}.inner.agents:act"})
    assert len(load_workflow(ok, import_code=False).agents) == 1
    missing = workflow_file(tmp_path, {"w": f"{package}.inner.nothing:act"})
    with pytest.raises(PlanValidationError) as info:
        load_workflow(missing, import_code=False)
    assert "not found in the workflow's folder" in info.value.problems[0].message
    assert not marker.exists()


@pytest.mark.parametrize(
    ("source", "reference", "message"),
    [
        (
            "def write(call): ...\n",
            ":wirte",
            "cannot import 'wirte' from module {m!r} (did you mean 'write'?)",
        ),
        ("LIMIT = 3\n", ":LIMIT", "'{m}:LIMIT' is not callable (it is a int)"),
        ("class A:\n    def run(self): ...\n", ":A.walk", "class 'A' defines no 'walk'"),
        ("def f(:\n", ":f", "importing module {m!r} would fail: SyntaxError"),
        ("def f(call): ...\n", "", "'{m}' is not a reference of the form module:function"),
    ],
)
def test_checking_finds_what_the_source_shows(
    tmp_path: Path, module: Callable[[str], str], source: str, reference: str, message: str
) -> None:
    name = module(source)
    path = workflow_file(tmp_path, {"w": name + reference})
    with pytest.raises(PlanValidationError) as info:
        load_workflow(path, import_code=False)
    assert message.format(m=name) in info.value.problems[0].message


@pytest.mark.parametrize(
    ("source", "reference"),
    [
        ("def __getattr__(name): ...\n", ":anything"),  # defined when asked
        ("from os.path import *\n", ":join"),
        ("try:\n    from x import act\nexcept ImportError:\n    def act(c): ...\n", ":act"),
        ("import json as act\n", ":act"),
        ("class A(dict):\n    pass\n", ":A.get"),  # inherited
        ("act = lambda call: 1\n", ":act"),
    ],
)
def test_checking_accepts_what_the_source_cannot_rule_out(
    tmp_path: Path, module: Callable[[str], str], source: str, reference: str
) -> None:
    path = workflow_file(tmp_path, {"w": module(source) + reference})
    assert isinstance(load_workflow(path, import_code=False), Workflow)


# -- through the command line -------------------------------------------------------------------

CLI_CASES = {
    "nul": (TEAM + "tasks: []\nname: a\x00b\n").encode(),
    "bomb": laughs().encode(),
    "brackets": flow_lists(100_000).encode(),
    "latin-1": "name: café\n".encode("latin-1"),
    "tag": b"name: !!python/object/apply:os.system ['true']\n",
    "number": b"tasks: " + b"9" * 5000 + b"\n",
}


@pytest.mark.parametrize("case", list(CLI_CASES))
def test_validate_refuses_a_hostile_file_in_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, case: str
) -> None:
    monkeypatch.chdir(tmp_path)
    path = tmp_path / f"{case}.yaml"
    path.write_bytes(CLI_CASES[case])
    result = CliRunner().invoke(app, ["validate", str(path)])
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    assert result.stderr.startswith(f"error: {path}")
    assert result.stderr.count("\n") == 1
    assert "Traceback" not in result.stderr


def test_validate_imports_nothing_and_run_names_the_failing_module(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, module: Callable[[str], str]
) -> None:
    monkeypatch.chdir(tmp_path)
    name = module("import sys\nsys.exit(4)\ndef act(call):\n    return 1\n")
    path = workflow_file(tmp_path, {"w": f"{name}:act"})
    checked = CliRunner().invoke(app, ["validate", str(path)])
    assert (checked.exit_code, checked.stdout) == (0, "ok: 1 tasks, 1 agent\n")
    ran = CliRunner().invoke(app, ["run", str(path), "--store", "memory://"])
    assert ran.exit_code == 2
    assert f"{path}:2: agents.w.python: importing module {name!r} failed: its code called " in (
        ran.stderr
    )
    assert "Traceback" not in ran.stderr


@pytest.mark.slow
def test_the_console_script_refuses_a_bomb_in_one_line(tmp_path: Path) -> None:
    path = tmp_path / "bomb.yaml"
    path.write_text(laughs(), encoding="utf-8")
    script = Path(sys.executable).parent / "podium"
    if not script.exists():
        pytest.skip("the podium console script is not installed beside this Python")
    proc = subprocess.run(
        [str(script), "validate", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert proc.stderr.startswith(f"error: {path}:6: alias *a4 repeats 66,430 nodes")
    assert proc.stderr.count("\n") == 1


# -- both parsers -------------------------------------------------------------------------------

BOTH = {
    "bomb": laughs(),
    "recursive": "a: &a [*a]\n",
    "deep": flow_lists(500),
    "deeper than libyaml goes": flow_lists(5000),
    "deep block": block_maps(100),
    "nul": "name: a\x00\n",
    "tag": "name: !!binary aGk=\n",
    "number": "tasks: " + "9" * 200 + "\n",
    "syntax": "tasks: [a, b\nc: d\n",
    "two documents": "tasks: []\n---\ntasks: []\n",
}


@pytest.mark.parametrize("case", list(BOTH))
def test_without_libyaml_the_refusals_are_the_same(
    monkeypatch: pytest.MonkeyPatch, case: str
) -> None:
    def without_column(error: ConfigError) -> str:
        return str(error).rpartition(" (column ")[0]

    fast = refused(BOTH[case])
    monkeypatch.setattr(_yaml_compose, "_FastLoader", None)
    slow = refused(BOTH[case])
    assert (slow.line, without_column(slow)) == (fast.line, without_column(fast))
