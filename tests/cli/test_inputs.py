"""`--input` parsing and import paths."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from podium.cli._inputs import add_import_paths, parse_inputs
from podium.exceptions import ConfigError


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
