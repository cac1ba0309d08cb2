"""MkDocs hooks of Podium's documentation site (``hooks:`` in mkdocs.yml).

- The ``Tools`` and ``Tutorials`` sections of the nav list the pages that exist in
  ``docs/tools/`` and ``docs/tutorials/`` (an ``index.md`` first), so a page added there shows up
  without editing mkdocs.yml, and a section with no page is left out.
- ``<!-- podium:workflow-schema -->`` in a page becomes the workflow-file reference: a table per
  section of the JSON Schema that ``podium schema workflow`` prints.
- ``<!-- podium:cli -->`` becomes the CLI reference, read from the Typer app's click commands.

Both references are made from the code at build time, so they cannot drift from it.
"""

from __future__ import annotations

import enum
import json
import logging
import re
from pathlib import Path
from typing import Any

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.structure.pages import Page

log = logging.getLogger("mkdocs.hooks.podium")

WORKFLOW_MARKER = "<!-- podium:workflow-schema -->"
CLI_MARKER = "<!-- podium:cli -->"
FOLDER_SECTIONS = {"Tools": "tools", "Tutorials": "tutorials"}


# -- nav -------------------------------------------------------------------------------------


def on_config(config: MkDocsConfig) -> MkDocsConfig:
    """Fill the folder sections of the nav with the pages that exist."""
    docs = Path(config.docs_dir)
    nav: list[Any] = []
    for item in config.nav or []:
        title = next(iter(item)) if isinstance(item, dict) and len(item) == 1 else None
        folder = FOLDER_SECTIONS.get(title) if title is not None else None
        if folder is None:
            nav.append(item)
            continue
        pages = _pages(docs / folder, folder)
        if pages:
            nav.append({title: pages})
        else:
            log.info("no page in docs/%s/: the %r section is left out", folder, title)
    config.nav = nav
    return config


def _pages(folder: Path, prefix: str) -> list[str]:
    names = sorted(p.name for p in folder.glob("*.md"))
    if "index.md" in names:
        names.remove("index.md")
        names.insert(0, "index.md")
    return [f"{prefix}/{name}" for name in names]


def on_page_markdown(markdown: str, page: Page, config: MkDocsConfig, **_: Any) -> str:
    """Put the generated references where their markers are."""
    if WORKFLOW_MARKER in markdown:
        markdown = markdown.replace(WORKFLOW_MARKER, workflow_reference())
    if CLI_MARKER in markdown:
        markdown = markdown.replace(CLI_MARKER, cli_reference())
    return markdown


# -- the workflow file -------------------------------------------------------------------------


def workflow_reference() -> str:
    """A table of the top-level sections, then one per body of the schema."""
    from podium.plan._file_schema import workflow_schema

    schema = workflow_schema()
    parts = ["## Sections", "", _table(schema), ""]
    for name, body in schema["$defs"].items():
        parts += [f"### {name}", "", _cell(body["description"]), ""]
        if "properties" in body:
            parts += [_table(body), ""]
        elif "allOf" in body or "oneOf" in body:
            parts += [f"Type: {_type(body)}", ""]
    return "\n".join(parts)


def _table(body: dict[str, Any]) -> str:
    required = set(body.get("required", ()))
    rows = ["| key | type | default | description |", "|---|---|---|---|"]
    for key, prop in body["properties"].items():
        default = "required" if key in required else _default(prop)
        rows.append(
            f"| `{key}` | {_type(prop)} | {default} | {_cell(prop.get('description', ''))} |"
        )
    return "\n".join(rows)


def _default(prop: dict[str, Any]) -> str:
    if "default" not in prop:
        return ""
    return f"`{json.dumps(prop['default'])}`"


def _type(node: dict[str, Any]) -> str:  # noqa: PLR0911 - one case per schema form
    """A short, linked type of a schema node: ``list of [Task](#task)``, ``integer ≥ 1``."""
    if "$ref" in node:
        name = node["$ref"].rsplit("/", 1)[-1]
        return f"[{name}](#{name.lower()})"
    if "allOf" in node:
        return " and ".join(_type(n) for n in node["allOf"] if "$ref" in n) + " with `id`"
    for key in ("anyOf", "oneOf"):
        if key in node:
            options = [n for n in node[key] if n != {"type": "null"}] or node[key]
            return " or ".join(dict.fromkeys(_type(n) for n in options))
    if "enum" in node:
        return " \\| ".join(f"`{v}`" for v in node["enum"])
    if "const" in node:
        return f"`{node['const']}`"
    kind = node.get("type")
    if isinstance(kind, list):
        return " or ".join(_word(k) for k in kind)
    if kind == "array":
        items = _plural(_type(node.get("items", {})))
        if "minItems" in node and node["minItems"] == node.get("maxItems"):
            return f"list of {node['minItems']} {items}"
        return f"list of {items}" + _bounds(node)
    if kind == "object" and isinstance(node.get("additionalProperties"), dict):
        inner = node["additionalProperties"]
        return "mapping" if not inner else f"mapping of names to {_plural(_type(inner))}"
    if kind is None:
        return "any"
    return _word(kind) + _bounds(node)


def _word(kind: str) -> str:
    return {"object": "mapping", "array": "list"}.get(kind, kind)


def _plural(text: str) -> str:
    """``string matching …`` → ``strings matching …``."""
    return re.sub(r"^(string|integer|number|boolean|mapping|list)\b", r"\1s", text)


def _bounds(node: dict[str, Any]) -> str:
    bounds = []
    if "minimum" in node and "maximum" in node:
        bounds.append(f"from {node['minimum']} to {node['maximum']}")
    elif "minimum" in node:
        bounds.append(f"≥ {node['minimum']}")
    elif "exclusiveMinimum" in node:
        bounds.append(f"> {node['exclusiveMinimum']}")
    if "minItems" in node:
        bounds.append(f"at least {node['minItems']}")
    if "minLength" in node:
        bounds.append("non-empty")
    if "pattern" in node:
        bounds.append(f"matching `{node['pattern']}`")
    return " " + ", ".join(bounds) if bounds else ""


def _cell(text: str) -> str:
    """Text for a table cell: one line, pipes escaped."""
    return " ".join(text.split()).replace("|", "\\|")


# -- the CLI -----------------------------------------------------------------------------------


def cli_reference() -> str:
    """Every command of ``podium``, with its help, usage and parameters."""
    from typer.main import get_command

    from podium.cli import app

    parts: list[str] = []
    for path, command in _commands(get_command(app), ["podium"]):
        parts += _command(path, command)
    return "\n".join(parts)


# Typer (0.29) carries its own copy of click: its commands are read by duck typing, as click's.


def _commands(group: Any, path: list[str]) -> list[tuple[list[str], Any]]:
    found: list[tuple[list[str], Any]] = []
    for name, command in (getattr(group, "commands", None) or {}).items():
        if command.hidden:
            continue
        found.append(([*path, name], command))
        found += _commands(command, [*path, name])
    return found


def _command(path: list[str], command: Any) -> list[str]:
    name = " ".join(path)
    heading = "#" * min(len(path), 4)
    lines = [f"{heading} `{name}`", "", _help(command.help or command.short_help or ""), ""]
    if getattr(command, "commands", None):
        return lines
    ctx = command.make_context(name, [], resilient_parsing=True)
    params = [p for p in command.params if not p.hidden]
    usage = ["[OPTIONS]"] if any(p.param_type_name == "option" for p in params) else []
    for p in params:
        if p.param_type_name == "argument":
            word = (p.name or "").upper() + ("..." if p.nargs == -1 else "")
            usage.append(word if p.required else f"[{word}]")
    lines += ["```text", " ".join([name, *usage]), "```", ""]
    if params:
        lines += ["| parameter | type | default | description |", "|---|---|---|---|"]
        lines += [_param(p, ctx) for p in params]
        lines.append("")
    return lines


def _help(text: str) -> str:
    # Typer's help is Rich markup: `\[` is a literal bracket; \b marks click's unwrapped blocks
    return text.replace("\\[", "[").replace("\b", "").strip()


def _param(param: Any, ctx: Any) -> str:
    if param.param_type_name == "option":
        names = ", ".join(f"`{o}`" for o in [*param.opts, *param.secondary_opts])
    else:
        names = f"`{(param.name or '').upper()}`"
    flag = param.param_type_name == "option" and param.is_flag
    kind = "flag" if flag else param.metavar or _kind(param)
    default = param.get_default(ctx, call=False)
    shown = "" if default in (None, (), [], False) or callable(default) else f"`{default}`"
    if param.required:
        shown = "required"
    help_text = _help(param.help or "")
    return f"| {names} | {_cell(str(kind))} | {_cell(shown)} | {_cell(help_text)} |"


def _kind(param: Any) -> str:
    annotation = getattr(getattr(param, "type_descriptor", None), "annotation", None)
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return " | ".join(f"`{m.value}`" for m in annotation)
    bare = str(param.bare_type())
    return {"str": "TEXT", "int": "INTEGER", "float": "NUMBER", "Path": "PATH"}.get(bare, bare)
