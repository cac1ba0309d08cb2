"""``python_sandbox``: results, limits, refusals, hostile input, cancellation, concurrency.

The escape corpus lives in ``test_sandbox_escapes.py``; runs inside workflows in
``test_sandbox_workflow.py``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import secrets
import stat
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from podium.exceptions import ConfigError, ToolError
from podium.tools import _sandbox_launcher as launcher
from podium.tools import sandbox as sandbox_module
from podium.tools._sandbox_bwrap import Layout, bwrap_argv, choose_python, readable_by_others
from podium.tools._sandbox_result import Report, parse_report, which_limit
from podium.tools._standard import standard_tools
from podium.tools.sandbox import PythonSandboxOptions, Sandbox, SandboxUnavailable
from tests.tools.escapes._harness import leftovers

pytestmark = [pytest.mark.anyio, pytest.mark.slow]


def sandbox(**kw: object) -> Sandbox:
    return Sandbox(PythonSandboxOptions.model_validate({"wall_time": 5, **kw}))


@pytest.fixture
def public_dir() -> Iterator[Path]:
    """A directory every user can read (the sandbox's bwrap runs as nobody when we are root)."""
    path = Path(tempfile.mkdtemp(prefix="podium-sbx-"))
    path.chmod(0o755)
    yield path
    for f in path.iterdir():
        f.unlink()
    path.rmdir()


async def test_a_program_runs_and_its_output_and_files_come_back() -> None:
    code = (
        "import sys\n"
        "print(open('data/in.txt').read().upper())\n"
        "print('careful', file=sys.stderr)\n"
        "open('out.txt', 'w').write('made here')\n"
        "open('blob.bin', 'wb').write(bytes(range(256)))\n"
        "open('kept.txt', 'a').write('!')\n"
    )
    inputs = {"data/in.txt": "hello", "same.txt": "untouched", "kept.txt": "x"}
    result = await sandbox().run(code, inputs)
    assert (result.exit_code, result.signal, result.limit) == (0, None, None)
    assert (result.stdout, result.stderr) == ("HELLO\n", "careful\n")
    files = {f.name: (f.size, f.text) for f in result.files}
    assert files == {"out.txt": (9, "made here"), "blob.bin": (256, None), "kept.txt": (2, "x!")}


async def test_exit_status_and_signals_are_reported() -> None:
    failed = await sandbox().run("raise SystemExit(3)")
    assert (failed.exit_code, failed.signal, failed.limit) == (3, None, None)
    killed = await sandbox().run("import os, signal; os.kill(os.getpid(), signal.SIGKILL)")
    assert (killed.exit_code, killed.signal) == (None, "SIGKILL")
    broken = await sandbox().run("def f(:\n")
    assert broken.exit_code == 1
    assert "SyntaxError" in broken.stderr


async def test_output_and_file_lists_are_cut_with_a_flag() -> None:
    result = await sandbox(output_kb=1, max_files=3, text_file_kb=1).run(
        "import sys\n"
        "for i in range(5): open(f'f{i}.txt', 'w').write('x' * 2000 if i == 0 else 'y')\n"
        "sys.stderr.buffer.write(b'\\xff' * 5000)\n"
    )
    assert result.stderr_truncated
    assert result.stderr == "\ufffd" * 1024
    assert result.limit == "output"
    assert result.files_truncated
    assert [(f.name, f.text) for f in result.files] == [
        ("f0.txt", None),  # larger than text_file_kb: size only
        ("f1.txt", "y"),
        ("f2.txt", "y"),
    ]


@pytest.mark.parametrize(
    "name", ["../up.txt", "/etc/passwd", "a/../../b", "main.py", "", "a//b", "x\0y", "./x"]
)
async def test_bad_input_file_names_are_refused(name: str) -> None:
    with pytest.raises(ToolError, match="is not allowed"):
        await sandbox().run("pass", {name: "x"})


async def test_oversized_programs_and_inputs_are_refused_before_anything_runs() -> None:
    small = sandbox(code_kb=1, input_kb=1)
    with pytest.raises(ToolError, match="larger than 1 KiB"):
        await small.run("#" * 2000)
    with pytest.raises(ToolError, match="more than 1 KiB"):
        await small.run("pass", {"a.txt": "x" * 2000})
    with pytest.raises(ToolError, match="more than 100 input files"):
        await small.run("pass", {f"{i}.txt": "" for i in range(101)})
    with pytest.raises(ToolError, match="not valid text"):
        await small.run("print('\ud800')")
    with pytest.raises(ToolError, match="could not be written"):
        await sandbox().run("pass", {"a": "file", "a/b": "under a file"})


async def test_a_missing_bwrap_is_refused_never_run_unsandboxed() -> None:
    with pytest.raises(ConfigError, match=r"bubblewrap is not at '/nonexistent/bwrap'"):
        sandbox(bwrap="/nonexistent/bwrap")
    with pytest.raises(ConfigError, match="bubblewrap is not at"):
        standard_tools("python_sandbox", {"bwrap": "/nonexistent/bwrap"}, "py")


async def test_a_sandbox_that_cannot_start_is_an_error_and_nothing_runs(
    public_dir: Path,
) -> None:
    fake = public_dir / "bwrap"
    fake.write_text("#!/bin/sh\necho 'bwrap: No permissions to create new namespace' >&2\nexit 1\n")
    fake.chmod(0o755)
    with pytest.raises(SandboxUnavailable, match="No permissions to create new namespace"):
        await sandbox(bwrap=str(fake)).run("print('ran')")
    with pytest.raises(SandboxUnavailable, match="exit status 1"):
        await sandbox(bwrap="/usr/bin/false").run("print('ran')")
    junk = public_dir / "not-a-program"
    junk.write_bytes(b"\x7fELF garbage")
    junk.chmod(0o755)
    with pytest.raises(SandboxUnavailable, match="Exec format error"):
        await sandbox(bwrap=str(junk)).run("print('ran')")


def test_one_sandbox_serves_several_event_loops() -> None:
    shared = sandbox(concurrency=1)

    async def both() -> list[str]:
        got = await asyncio.gather(shared.run("print(1)"), shared.run("print(2)"))
        return [r.stdout for r in got]

    for _ in range(2):  # each asyncio.run is a new loop: a semaphore bound to the first would fail
        assert asyncio.run(both()) == ["1\n", "2\n"]


async def test_the_host_kills_a_sandbox_that_overstays(
    public_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    marker = "podium-overstay-" + secrets.token_hex(6)
    fake = public_dir / "bwrap"
    fake.write_text(f"#!/bin/sh\nexec sh -c 'sleep 60; echo {marker}'\n")
    fake.chmod(0o755)
    monkeypatch.setattr(sandbox_module, "_GRACE", 0.2)
    result = await sandbox(bwrap=str(fake), wall_time=0.3).run("pass")
    assert (result.limit, result.signal, result.exit_code) == ("wall_time", "SIGKILL", None)
    assert leftovers(marker) == []


async def test_cancelling_the_call_kills_the_sandbox() -> None:
    marker = "podium-cancel-" + secrets.token_hex(6)
    sleeper = f"import time; time.sleep(60)  # {marker}"
    code = f"import os, sys\nos.execv(sys.executable, [sys.executable, '-c', {sleeper!r}])\n"
    task = asyncio.create_task(sandbox(wall_time=60).run(code))
    for _ in range(500):
        if leftovers(marker):
            break
        await asyncio.sleep(0.02)
    assert leftovers(marker), "the program never started"
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert leftovers(marker) == []  # gone by the time the cancelled call returned


async def test_concurrent_runs_are_isolated_from_each_other() -> None:
    shared = sandbox(concurrency=2)
    code = (
        "import os\n"
        "n = open('n.txt').read()\n"
        "open(f'mine-{n}.txt', 'w').write(n)\n"
        "print(n, sorted(os.listdir('.')))\n"
    )
    results = await asyncio.gather(*(shared.run(code, {"n.txt": str(i)}) for i in range(6)))
    for i, result in enumerate(results):
        assert result.stdout == f"{i} ['main.py', 'mine-{i}.txt', 'n.txt']\n"


def test_bad_options_name_the_field() -> None:
    with pytest.raises(ConfigError, match="wall_time: Input should be greater than 0"):
        standard_tools("python_sandbox", {"wall_time": 0}, "py")
    with pytest.raises(ConfigError, match="shell: Extra inputs are not permitted"):
        standard_tools("python_sandbox", {"shell": True}, "py")
    with pytest.raises(ConfigError, match="no Python interpreter"):
        choose_python("/nonexistent/python3", run_as=None)


def test_an_interpreter_out_of_reach_of_the_sandbox_user_is_not_chosen(public_dir: Path) -> None:
    hidden = public_dir / "python3"
    hidden.write_text("")
    hidden.chmod(stat.S_IRWXU)  # only its owner
    assert not readable_by_others(str(hidden))
    assert readable_by_others("/usr/bin/python3")
    with pytest.raises(ConfigError, match=r"uid 65534 can run"):
        choose_python(str(hidden), run_as=65534)
    chosen = os.path.realpath(choose_python(None, run_as=65534)[0])
    assert readable_by_others(chosen)


def test_the_file_report_skips_links_and_keeps_its_budget(tmp_path: Path) -> None:
    (tmp_path / "main.py").write_text("code")
    (tmp_path / "a.txt").write_text("a" * 10)
    (tmp_path / "b.txt").write_text("b" * 10)
    (tmp_path / "link").symlink_to("/etc/hostname")
    limits = {"max_files": 10, "text_file": 10, "text_total": 15}
    got = launcher.collect(str(tmp_path), {}, limits)
    assert got == {
        "files": [
            {"name": "a.txt", "size": 10, "text": "a" * 10},
            {"name": "b.txt", "size": 10, "text": None},  # past the total budget
        ],
        "files_truncated": False,
    }


def test_limits_are_read_from_how_a_run_ended() -> None:
    def limit(stderr: str = "", truncated: bool = False, **report: object) -> object:
        return which_limit(
            Report.model_validate(report),
            truncated=truncated,
            stderr=stderr,
            cpu_limit=2,
            disk_limit=1 << 20,
        )

    assert limit(exit=0) is None
    assert limit(exit=1, stderr="ValueError: nope") is None
    assert limit(timed_out=True, signal=9) == "wall_time"
    assert limit(signal=9, cpu=2.5) == "cpu_time"
    assert limit(signal=9, cpu=0.1) is None
    assert limit(exit=1, disk_used=1 << 20) == "disk"
    assert limit(exit=1, stderr="OSError: [Errno 27] File too large") == "file_size"
    assert limit(exit=1, truncated=True) == "output"
    assert parse_report(b"  ") is None
    with pytest.raises(ToolError, match="could not be read"):
        parse_report(b'{"exit": "x"}')


def test_the_file_walk_is_bounded_and_names_are_text(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    limits = {"max_files": 100, "text_file": 10, "text_total": 100}
    (tmp_path / os.fsdecode(b"odd-\xff.txt")).write_text("odd")
    deep = tmp_path
    for _ in range(5):
        deep = deep / "d"
        deep.mkdir()
    (deep / "deep.txt").write_text("deep")
    monkeypatch.setattr(launcher, "MAX_DEPTH", 3)
    got = launcher.collect(str(tmp_path), {}, limits)
    assert got == {
        "files": [{"name": "odd-\ufffd.txt", "size": 3, "text": "odd"}],
        "files_truncated": True,
    }
    monkeypatch.setattr(launcher, "MAX_DEPTH", 10)
    assert [f["name"] for f in launcher.collect(str(tmp_path), {}, limits)["files"]] == [
        "odd-\ufffd.txt",
        "d/d/d/d/d/deep.txt",
    ]
    monkeypatch.setattr(launcher, "MAX_ENTRIES", 3)
    assert launcher.collect(str(tmp_path), {}, limits)["files_truncated"]


NO_USER_NAMESPACES = """
import asyncio, ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
if libc.unshare(0x10000000) != 0:  # CLONE_NEWUSER: a namespace of our own to set limits in
    sys.exit("cannot make a user namespace here: " + os.strerror(ctypes.get_errno()))
with open("/proc/sys/user/max_user_namespaces", "w") as f:
    f.write("0")  # no user namespace may be created below this one
from podium.tools.sandbox import Sandbox, SandboxUnavailable
try:
    print("RAN", asyncio.run(Sandbox().run("print('ran')")))
except SandboxUnavailable as exc:
    print("UNAVAILABLE", exc)
"""


async def test_without_user_namespaces_the_tool_refuses() -> None:
    """A real bwrap on a system where user namespaces are off (set so in a child namespace)."""
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-c", NO_USER_NAMESPACES, stdout=asyncio.subprocess.PIPE
    )
    out, _ = await child.communicate()
    assert child.returncode == 0
    text = out.decode()
    assert text.startswith("UNAVAILABLE the sandbox could not start"), text
    assert "namespace" in text
    assert "RAN" not in text


def test_the_command_line_shares_nothing_it_need_not() -> None:
    layout = Layout(
        bwrap="/usr/bin/bwrap",
        python="/home/ann/py/bin/python3",
        prefix="/home/ann/py",
        run_as=None,
        disk=1 << 20,
        shm=1 << 16,
    )
    argv = bwrap_argv(layout, "launcher", report_fd=7, info_fd=8)
    text = " ".join(argv)
    for part in (
        "--unshare-all --unshare-user --disable-userns",
        "--cap-drop ALL",
        "--die-with-parent --new-session --as-pid-1 --clearenv",
        "--ro-bind /home/ann/py/bin/python3 /home/ann/py/bin/python3",
        "--ro-bind-try /home/ann/py/lib /home/ann/py/lib",
        "--size 1048576 --perms 0755 --tmpfs /work",
        "--remount-ro /dev --remount-ro /",
    ):
        assert part in text
    assert "--share-net" not in argv
    binds = [argv[i + 1] for i, a in enumerate(argv) if a.startswith("--ro-bind") or a == "--bind"]
    assert "/home/ann/py" not in binds  # its lib/ and the interpreter only, never the whole prefix
    assert argv[-6:] == ["/home/ann/py/bin/python3", "-I", "-S", "-c", "launcher", "7"]
    system = bwrap_argv(
        dataclasses.replace(layout, python="/usr/bin/python3", prefix="/usr"),
        "launcher",
        report_fd=7,
        info_fd=8,
    )
    assert [a for a in system if a.startswith("/home")] == []
