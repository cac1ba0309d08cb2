"""What else in a workflow file runs code, checked when a deployment restricts it.

Under an allow-list (`podium._allowed_modules`) the ``python:``, ``reducer`` and interceptor
references are judged as they are resolved. Three more places would get around it, and are
judged here:

- a check's ``rule: module:function`` (imported when the check first runs): resolved now, so
  it is refused with its line before anything runs, and is found as the other references are;
- ``executor: {ray: {runtime_env: ...}}``: Ray installs packages and runs setup hooks from it;
- an MCP server's ``command`` starts a program (refused in `compile_mcp_servers`).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from podium._allowed_modules import AllowedModules
from podium.plan._yaml_check import Checker, Resolver
from podium.plan._yaml_nodes import JSON, Loc


def check_code(
    check: Checker, resolve: Resolver, data: Mapping[str, JSON], allowed: AllowedModules
) -> None:
    """Resolve every check's ``rule`` and refuse a Ray ``runtime_env`` (problems to `check`).

    Only under an allow-list: without one, a rule is imported when its check first runs.
    """
    for loc, rule in _rules(data):
        resolve(rule, loc)
    executor = data.get("executor")
    ray = executor.get("ray") if isinstance(executor, dict) else None
    if isinstance(ray, dict) and ray.get("runtime_env"):
        check.add(
            ("executor", "ray", "runtime_env"),
            "a Ray runtime_env installs packages and runs code on the workers, and "
            f"{allowed.source} restricts the code workflow files may run: set the runtime "
            "environment where the Ray cluster is started instead",
        )


def _rules(data: Mapping[str, JSON]) -> Iterator[tuple[Loc, str]]:
    """The ``rule`` of every check of a task, an agent or a default plan's task."""
    planner = data.get("planner")
    fallback = planner.get("fallback") if isinstance(planner, dict) else None
    places: list[tuple[Loc, JSON]] = [
        (("tasks",), data.get("tasks")),
        (("agents",), data.get("agents")),
        (
            ("planner", "fallback", "tasks"),
            fallback.get("tasks") if isinstance(fallback, dict) else None,
        ),
    ]
    for loc, section in places:
        for key, body in _items(section):
            checks = body.get("checks") if isinstance(body, dict) else None
            for i, entry in _items(checks if isinstance(checks, list) else None):
                rule = entry.get("rule") if isinstance(entry, dict) else None
                if isinstance(rule, str) and _well_formed(rule):  # else the check reports it
                    yield (*loc, key, "checks", i, "rule"), rule


def _well_formed(rule: str) -> bool:
    module, colon, attr = rule.partition(":")
    return bool(colon) and all(p.isidentifier() for p in [*module.split("."), *attr.split(".")])


def _items(section: JSON) -> list[tuple[str | int, JSON]]:
    if isinstance(section, list):
        return list(enumerate(section))
    if isinstance(section, dict):
        return [(key, body) for key, body in section.items() if isinstance(key, str)]
    return []


__all__ = ["check_code"]
