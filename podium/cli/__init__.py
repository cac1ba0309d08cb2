"""The `podium` command: run, resume, list and inspect runs; validate workflow files."""

from podium.cli._app import app


def main() -> None:
    """Entry point of the `podium` console script."""
    app()


__all__ = ["app", "main"]
