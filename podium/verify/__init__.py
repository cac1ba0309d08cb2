"""Checks on outputs: JSON Schema validation, and the verifiers declared on tasks and agents.

A `Check` is data on a `Task` or an `Agent` (``checks:`` in a workflow file); the runtime runs
each on every output of the task (or of the agent) and turns a failing verdict into a retry with
the checker's feedback, a backup agent, a person's approval or a failed task. `run_check` runs
one check and returns its `Verdict`; `complete` is a rule that finds cut-off answers.
`Confidence` (on a task or an agent) measures how sure Podium is of an output — agreement of
samples, of checks, grounding, the routing margin — and asks a person when it is low.
"""

from podium.verify._checks import ERROR_TYPES, CheckCall, JudgeFn, Verdict, run_check
from podium.verify._confidence import Confidence, agreement, combine
from podium.verify._rules import complete
from podium.verify._schema import check_schema, validate_output
from podium.verify._sources import collect_sources, output_text
from podium.verify._spec import KINDS, LANGUAGES, Check, check_problem

__all__ = [
    "ERROR_TYPES",
    "KINDS",
    "LANGUAGES",
    "Check",
    "CheckCall",
    "Confidence",
    "JudgeFn",
    "Verdict",
    "agreement",
    "check_problem",
    "check_schema",
    "collect_sources",
    "combine",
    "complete",
    "output_text",
    "run_check",
    "validate_output",
]
