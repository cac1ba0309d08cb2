"""The `podium` command: run, resume, list and inspect runs; validate workflow files."""

from podium.cli._app import app
from podium.cli._approvals import approve as approve  # registers approvals, approve, reject
from podium.cli._audit import audit as audit  # registers `podium audit`
from podium.cli._diagnose import diagnose as diagnose  # registers `podium diagnose`
from podium.cli._rollback import rollback as rollback  # registers `podium rollback`
from podium.cli._route import route as route  # registers `podium route` on `app`
from podium.cli._stats import stats as stats  # registers `podium stats` and `podium feedback`


def main() -> None:
    """Entry point of the `podium` console script."""
    app()


__all__ = ["app", "main"]
