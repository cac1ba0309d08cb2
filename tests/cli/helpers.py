"""Running `podium` in-process for the tests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from typer.testing import CliRunner, Result

from podium.cli import app

DATA = Path(__file__).parent / "data"
"""The workflow files and the agent module of the tests."""


def invoke(*args: object) -> Result:
    """Run `podium ARGS` in-process; an unexpected exception fails the test."""
    result = CliRunner().invoke(app, [str(a) for a in args])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result


def invoke_json(*args: object) -> tuple[int, Any]:
    """Run `podium ARGS --json`: the exit code and the one JSON value on stdout."""
    result = invoke(*args, "--json")
    return result.exit_code, json.loads(result.stdout)
