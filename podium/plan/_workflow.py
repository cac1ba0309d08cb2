"""`Workflow`: a plan with its agents, declared inputs and context policy.

Built in Python or compiled from a YAML file (`podium.plan.load_workflow`); both give the same
object, which the orchestrator runs.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from podium.context import ContextPolicy
from podium.exceptions import ConfigError
from podium.plan._router_spec import RouterSpec
from podium.plan._task import Plan

if TYPE_CHECKING:
    from podium.agents import Agent
    from podium.models._prices import Price
    from podium.plan._planner import Planner
    from podium.plan._validate import Locate
    from podium.policy import Guardrail, Policy

JSON = Any
INPUT_TYPES = ("string", "integer", "number", "boolean", "array", "object", "any")
INPUT_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_\-]*$")
"""What an input name may be: letters, digits, ``_`` and ``-``, not starting with a digit."""
_REQUIRED: Any = object()


@dataclass(frozen=True, slots=True, kw_only=True)
class InputSpec:
    """A declared run input. Without a default it is required."""

    name: str
    type: str = "any"
    default: JSON = _REQUIRED
    description: str = ""

    @property
    def required(self) -> bool:
        return self.default is _REQUIRED

    def coerce(self, value: JSON) -> JSON:
        """Accept a value of the declared type; strings (from the CLI) are parsed."""
        if isinstance(value, str) and self.type not in ("string", "any"):
            try:
                value = json.loads(value)
            except json.JSONDecodeError:
                raise ConfigError(
                    f"input {self.name!r} must be {self.type}, got {value!r}"
                ) from None
        checks: dict[str, tuple[type, ...]] = {
            "string": (str,),
            "integer": (int,),
            "number": (int, float),
            "boolean": (bool,),
            "array": (list,),
            "object": (dict,),
        }
        expected = checks.get(self.type)
        bad_bool = isinstance(value, bool) and self.type in ("integer", "number")
        if expected is not None and (not isinstance(value, expected) or bad_bool):
            raise ConfigError(
                f"input {self.name!r} must be {self.type}, got {type(value).__name__} {value!r}"
            )
        return value


@dataclass(frozen=True, slots=True, kw_only=True)
class ExecutorSpec:
    """Where a workflow's attempts run: the ``executor`` section of a workflow file.

    ``podium run`` and ``podium resume`` build the executor from it (their ``--executor``
    overrides it); in Python, pass the executor itself: ``Orchestrator(executor=...)``.

    Attributes:
        kind: ``"local"`` (the driving process) or ``"ray"`` (a Ray cluster: see
            `podium.runtime.ray.RayExecutor`, whose arguments the other fields are).
        address: the Ray cluster (``None``: a new local Ray instance).
        num_cpus: CPUs of a new local Ray instance.
        runtime_env: Ray's runtime environment of the workers.
        agent_resources: what each agent's attempts ask of Ray, by agent name.
        max_concurrency: attempts of an agent in flight at once on the cluster, by agent name.
    """

    kind: Literal["local", "ray"] = "local"
    address: str | None = None
    num_cpus: int | None = None
    runtime_env: Mapping[str, JSON] = field(default_factory=dict)
    agent_resources: Mapping[str, Mapping[str, JSON]] = field(default_factory=dict)
    max_concurrency: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class Workflow:
    """A runnable plan: tasks, the agents they may use, declared inputs.

    Args:
        name: a short name (shown in `podium runs`).
        plan: the tasks and the output.
        agents: agents defined with the workflow (the orchestrator may add more).
        inputs: declared run inputs; ``None`` accepts any inputs.
        context: merge policies of the blackboard.
        source_path: the file it was compiled from.
        source_text: that file's text, kept in the journal so a run can be resumed by another
            process.
        locate: maps (task id, field) to (file, line) for messages.
        policy: which actions wait for approval (``None``: the orchestrator's policy).
        planner: plans goals for this workflow's agents and re-plans failed branches (the
            ``planner`` section of a file; ``None``: the orchestrator's).
        prices: model prices that extend or override the orchestrator's for this workflow's runs
            (the ``prices`` section of a file).
        interceptors: wrap this workflow's attempts, model calls and tool calls, inside the
            orchestrator's own interceptors (the ``interceptors`` section of a file: import
            paths).
        executor: where the file asks its attempts to run (the ``executor`` section; ``None``:
            it does not say). Read by the command line, which builds the executor.
        router: how its tasks are routed (the ``router`` section; ``None``: the orchestrator's
            router as it is). See `podium.routing.router_for`.
        guardrails: rules over its attempts', model calls' and tool calls' inputs and outputs
            (the ``guardrails`` section), after the policy's (`podium.policy.Guardrail`).
    """

    name: str
    plan: Plan
    agents: Sequence[Agent] = ()
    inputs: Sequence[InputSpec] | None = None
    context: ContextPolicy = field(default_factory=ContextPolicy)
    source_path: str | None = None
    source_text: str | None = None
    locate: Locate | None = None
    policy: Policy | None = None
    model: str | None = None
    planner: Planner | None = None
    prices: Mapping[str, Price] = field(default_factory=dict)
    interceptors: Sequence[Any] = ()
    executor: ExecutorSpec | None = None
    router: RouterSpec | None = None
    guardrails: Sequence[Guardrail] = ()

    def input_names(self) -> list[str] | None:
        return None if self.inputs is None else [i.name for i in self.inputs]

    def bind_inputs(self, given: Mapping[str, JSON]) -> dict[str, JSON]:
        """Check and complete the run inputs: defaults, required ones, types."""
        given = dict(given)
        if self.inputs is None:
            return given
        declared = {i.name: i for i in self.inputs}
        unknown = sorted(set(given) - set(declared))
        if unknown:
            raise ConfigError(
                f"workflow {self.name!r} has no input(s) {unknown} "
                f"(declared: {sorted(declared) or 'none'})"
            )
        bound: dict[str, JSON] = {}
        missing = []
        for name, spec in declared.items():
            if name in given:
                bound[name] = spec.coerce(given[name])
            elif spec.required:
                missing.append(name)
            else:
                bound[name] = spec.default
        if missing:
            flags = " ".join(f"--input {m}=…" for m in missing)
            raise ConfigError(f"workflow {self.name!r} needs input(s) {missing}: pass {flags}")
        return bound

    def with_model(self, model: str) -> Workflow:
        """The same workflow with every model-driven agent on `model` (``provider:name``).

        This is how one flag (``podium run --model openai:gpt-4o-mini``) points a workflow
        written for the local model at a hosted one.
        """
        agents = [
            a if a.model is None else dataclasses.replace(a, model=model) for a in self.agents
        ]
        return dataclasses.replace(self, agents=agents, model=model)

    def source(self) -> dict[str, JSON]:
        """What `RunSubmitted.workflow` records."""
        out: dict[str, JSON] = {"name": self.name}
        if self.source_path is not None:
            out["path"] = self.source_path
        if self.source_text is not None:
            out["text"] = self.source_text
        if self.model is not None:
            out["model"] = self.model
        if not len(self.plan):
            out["agents_file"] = True  # a team for a goal: its file is compiled without tasks
        return out
