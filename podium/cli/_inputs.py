"""Turning command-line arguments into what the library takes: run inputs, import paths."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from pathlib import Path

from podium.exceptions import ConfigError


def parse_inputs(pairs: Sequence[str]) -> dict[str, str]:
    """``["k=v", "doc=@notes.txt"]`` → ``{"k": "v", "doc": <the file's text>}``.

    Values stay strings: the workflow's declared input types parse them (``n=3`` becomes ``3``
    for an ``integer`` input). ``k=@@x`` passes the literal string ``@x``.
    """
    inputs: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        name = name.strip()
        if not sep or not name:
            raise ConfigError(f"--input {pair!r}: expected NAME=VALUE or NAME=@FILE")
        if name in inputs:
            raise ConfigError(f"--input {name!r} is given more than once")
        inputs[name] = _value(name, value)
    return inputs


def _value(name: str, value: str) -> str:
    if value.startswith("@@"):
        return value[1:]
    if not value.startswith("@"):
        return value
    path = Path(value[1:])
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(
            f"--input {name}=@{path}: cannot read the file ({exc.strerror or exc})"
        ) from None
    except UnicodeDecodeError:
        raise ConfigError(f"--input {name}=@{path}: the file is not UTF-8 text") from None


def add_import_paths(workflow_file: str | os.PathLike[str] | None) -> None:
    """Let ``python: module:function`` agents import from the workflow's folder and the cwd."""
    folders = [Path.cwd()]
    if workflow_file is not None:
        folders.insert(0, Path(workflow_file).resolve().parent)
    for folder in reversed(folders):
        entry = str(folder)
        if entry not in sys.path:
            sys.path.insert(0, entry)
