"""`--input` parsing and import paths."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from podium.cli._inputs import add_import_paths, parse_inputs
from podium.exceptions import ConfigError
from tests.cli.helpers import DATA, invoke


def test_pairs_become_strings() -> None:
    assert parse_inputs(["topic=tides", "count=3", "eq=a=b", "empty="]) == {
        "topic": "tides",
        "count": "3",
        "eq": "a=b",
        "empty": "",
    }


def test_at_reads_a_file_and_double_at_escapes(tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("line one\nline two\n", encoding="utf-8")
    parsed = parse_inputs([f"doc=@{notes}", "handle=@@podium"])
    assert parsed == {"doc": "line one\nline two\n", "handle": "@podium"}


@pytest.mark.parametrize(
    ("pair", "message"),
    [
        ("novalue", "expected NAME=VALUE"),
        ("=x", "expected NAME=VALUE"),
        ("doc=@/no/such/file.txt", "cannot read the file"),
    ],
)
def test_bad_pairs_are_config_errors(pair: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_inputs([pair])


def test_a_name_given_twice_is_an_error() -> None:
    with pytest.raises(ConfigError, match="more than once"):
        parse_inputs(["a=1", "a=2"])


def test_a_binary_file_is_an_error(tmp_path: Path) -> None:
    blob = tmp_path / "blob.bin"
    blob.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(ConfigError, match="not UTF-8"):
        parse_inputs([f"b=@{blob}"])


def test_import_paths_put_the_workflow_folder_first(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "path", ["/elsewhere"])
    monkeypatch.chdir(tmp_path)
    folder = tmp_path / "flows"
    folder.mkdir()
    add_import_paths(folder / "wf.yaml")
    add_import_paths(folder / "wf.yaml")  # idempotent
    assert sys.path == [str(folder), str(tmp_path), "/elsewhere"]


@pytest.mark.parametrize(
    ("pair", "message"),
    [
        # Python decodes argv bytes that are not UTF-8 to lone surrogates
        ("topic=caf\udce9", r"--input topic: the value is not UTF-8 text \(byte 0xE9\)"),
        ("topic=@@\udcff", r"--input topic: the value is not UTF-8 text \(byte 0xFF\)"),
        ("topic=\ud800", r"--input topic: the value is not UTF-8 text;"),
        ("to\udce9pic=x", r"--input 'to\\udce9pic': an input name is letters, digits, _ and -"),
        ("a\x00b=x", r"--input 'a\\x00b': an input name is"),
        ("a b=x", r"--input 'a b': an input name is"),
        ("1st=x", r"--input '1st': an input name is"),
        ("a\x1b[31m=x", r"--input 'a\\x1b\[31m': an input name is"),
    ],
)
def test_names_and_values_that_are_not_text_are_config_errors(pair: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as info:
        parse_inputs([pair])
    assert str(info.value).encode("utf-8")  # printable: no lone surrogate in the message
    assert "\n" not in str(info.value)


def test_a_file_name_that_is_not_utf8_is_read_and_shown_escaped(tmp_path: Path) -> None:
    name = "notes-caf\udce9.txt"  # the file name's bytes are not UTF-8
    try:
        (tmp_path / name).write_text("moons", encoding="utf-8")
    except (UnicodeEncodeError, OSError):
        pytest.skip("this file system wants UTF-8 file names")
    assert parse_inputs([f"doc=@{tmp_path / name}"]) == {"doc": "moons"}
    with pytest.raises(ConfigError) as info:
        parse_inputs([f"doc=@{tmp_path / 'no' / name}"])
    assert "notes-caf\\udce9.txt: cannot read the file" in str(info.value)
    assert str(info.value).encode("utf-8")


def test_a_value_that_is_not_utf8_is_a_usage_error_of_run() -> None:
    result = invoke("run", DATA / "report.yaml", "--store", "memory://", "-i", "topic=caf\udce9")
    assert result.exit_code == 2
    assert result.stderr.startswith("error: --input topic: the value is not UTF-8 text")
    assert "Traceback" not in result.stderr
