"""Turning command-line arguments into what the library takes: run inputs, import paths."""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Sequence
from pathlib import Path

from podium._allowed_modules import from_environment
from podium.exceptions import ConfigError
from podium.plan._workflow import INPUT_NAME

_SURROGATE = re.compile("[\ud800-\udfff]")  # how Python decodes argv bytes that are not UTF-8


def parse_inputs(pairs: Sequence[str]) -> dict[str, str]:
    """``["k=v", "doc=@notes.txt"]`` → ``{"k": "v", "doc": <the file's text>}``.

    Values stay strings: the workflow's declared input types parse them (``n=3`` becomes ``3``
    for an ``integer`` input). ``k=@@x`` passes the literal string ``@x``. Names are input
    names (letters, digits, ``_`` and ``-``); values are text: an argument that is not UTF-8
    (Python decodes its bytes to lone surrogates) is refused.
    """
    inputs: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        name = name.strip()
        if not sep or not name:
            raise ConfigError(f"--input {pair!r}: expected NAME=VALUE or NAME=@FILE")
        if not INPUT_NAME.match(name):
            raise ConfigError(
                f"--input {name!r}: an input name is letters, digits, _ and -, and does not "
                "start with a digit"
            )
        if name in inputs:
            raise ConfigError(f"--input {name!r} is given more than once")
        inputs[name] = _value(name, value)
    return inputs


def _value(name: str, value: str) -> str:
    if value.startswith("@@"):
        return _text(name, value[1:])
    if not value.startswith("@"):
        return _text(name, value)
    path = Path(value[1:])  # a file name need not be UTF-8: the bytes are given back to open()
    shown = _printable(str(path))
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(
            f"--input {name}=@{shown}: cannot read the file ({exc.strerror or exc})"
        ) from None
    except UnicodeDecodeError:
        raise ConfigError(f"--input {name}=@{shown}: the file is not UTF-8 text") from None


def _text(name: str, value: str) -> str:
    bad = _SURROGATE.search(value)
    if bad is None:
        return value
    code = ord(bad.group())
    byte = f" (byte 0x{code - 0xDC00:02X})" if 0xDC80 <= code <= 0xDCFF else ""
    raise ConfigError(
        f"--input {name}: the value is not UTF-8 text{byte}; pass text, or NAME=@FILE to read "
        "a UTF-8 file"
    )


def _printable(text: str) -> str:
    """`text` with lone surrogates escaped, so that printing it cannot fail."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def add_import_paths(workflow_file: str | os.PathLike[str] | None) -> None:
    """Let ``python: module:function`` agents import from the workflow's folder and the cwd.

    Not under ``PODIUM_ALLOWED_MODULES``: a file there could then stand in for any module
    imported later; the loader finds the allowed modules in those folders itself.
    """
    if from_environment() is not None:
        return
    folders = [Path.cwd()]
    if workflow_file is not None:
        folders.insert(0, Path(workflow_file).resolve().parent)
    for folder in reversed(folders):
        entry = str(folder)
        if entry not in sys.path:
            sys.path.insert(0, entry)
