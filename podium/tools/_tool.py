"""Tools: typed functions a model may call, with a declared effect."""

from __future__ import annotations

import inspect
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal, get_type_hints, overload

import msgspec
import pydantic

from podium._sync import run_sync
from podium.events import MAX_DEPTH
from podium.exceptions import ConfigError, ToolError
from podium.models._base import ToolSpec

JSON = Any
Effect = Literal["read", "write", "irreversible"]
EFFECTS: tuple[Effect, ...] = ("read", "write", "irreversible")


@dataclass(frozen=True, slots=True, kw_only=True)
class ToolContext:
    """What a tool may learn about the call it serves.

    A tool asks for it by declaring a parameter annotated `ToolContext`; the model never sees it.
    `idempotency_key` is stable across re-executions of the same call after a crash: a tool with
    side effects uses it so that its effect lands once. It is
    ``{run_id}/{task_id}/{n}:{digest}``: the call's ordinal among the task attempt's
    side-effecting calls and a hash of the tool and its arguments, never the model's call id
    (which differs between attempts); see `podium.tools._effects`.
    """

    run_id: str
    task_id: str
    agent: str
    call_id: str
    idempotency_key: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Undo:
    """How to undo a call of a side-effecting tool that succeeded, should its run fail or be
    cancelled later (a saga's compensating step, at the level of one call).

    `tool` names the undo tool; `arguments` makes its arguments from the call's arguments and
    result (in a workflow file, templates over ``{{ arguments.NAME }}`` and ``{{ result... }}``).
    They are made when the call succeeds and journaled with it (`ToolCalled.undo`), so an undo
    after a crash, or on request (`podium rollback`), calls exactly what was recorded.

    Example::

        book = Tool.from_function(
            book_room,
            effect="write",
            compensate=Undo(tool="cancel_booking", arguments=lambda a, r: {"id": r["id"]}),
        )
    """

    tool: str
    arguments: Callable[[dict[str, JSON], JSON], dict[str, JSON]]

    def make(self, arguments: dict[str, JSON], result: JSON) -> dict[str, JSON]:
        """The undo call as journaled: ``{"tool", "arguments"}``, or ``{"tool", "error"}`` when
        the arguments cannot be made (the undo then fails visibly instead of guessing)."""
        try:
            made = self.arguments(arguments, result)
            made = to_json_value(made, self.tool)
        except Exception as exc:  # user code: recorded, never raised into the call that succeeded
            return {"tool": self.tool, "error": f"{type(exc).__name__}: {exc}"}
        if not isinstance(made, dict):
            return {"tool": self.tool, "error": f"its arguments are a {type(made).__name__}"}
        return {"tool": self.tool, "arguments": made}


@dataclass(frozen=True, slots=True, kw_only=True)
class Tool:
    """A function a model may call.

    Build one with `@tool` or `Tool.from_function`. Arguments are validated against the function's
    signature before the call; invalid arguments and exceptions become a `ToolError` whose message
    goes back to the model.
    """

    name: str
    description: str
    parameters: dict[str, JSON]
    effect: Effect
    function: Callable[..., Any]
    _validator: pydantic.TypeAdapter[Any] = field(repr=False)
    _context_param: str | None = field(default=None, repr=False)
    compensate: Undo | None = None
    """How to undo a successful call (see `Undo`); only for a ``write`` or ``irreversible`` tool."""
    egress: Callable[[dict[str, JSON]], str | None] | None = None
    """For a ``read`` tool that sends what it is given to a destination the call chooses (a URL):
    given a call's arguments, that destination, or None when the deployment fixes it. Data can
    leave through such a read, so the provenance gate judges a call whose destination untrusted
    content may have composed like a side effect (`podium.policy.ProvenanceGate`)."""

    @classmethod
    def from_function(
        cls,
        function: Callable[..., Any],
        *,
        name: str | None = None,
        description: str | None = None,
        effect: Effect = "read",
        compensate: Undo | None = None,
        egress: Callable[[dict[str, JSON]], str | None] | None = None,
    ) -> Tool:
        if effect not in EFFECTS:
            raise ConfigError(f"tool effect must be one of {EFFECTS}, not {effect!r}")
        if compensate is not None and effect == "read":
            raise ConfigError(
                f"tool {name or function.__name__!r} reads only: it has nothing to undo"
                " (give it effect 'write' or 'irreversible', or drop `compensate`)"
            )
        hints = get_type_hints(function)
        sig = inspect.signature(function)
        fields: dict[str, Any] = {}
        context_param = None
        for pname, param in sig.parameters.items():
            ann = hints.get(pname, Any)
            if ann is ToolContext:
                context_param = pname
                continue
            if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
                raise ConfigError(f"tool {function.__name__!r}: *args/**kwargs are not supported")
            default = ... if param.default is param.empty else param.default
            fields[pname] = (ann, default)
        model = pydantic.create_model(f"{function.__name__}_args", **fields)
        schema = model.model_json_schema()
        schema.pop("title", None)
        doc = inspect.getdoc(function) or ""
        return cls(
            name=name or function.__name__,
            description=description if description is not None else doc.split("\n\n")[0],
            parameters=schema,
            effect=effect,
            function=function,
            _validator=pydantic.TypeAdapter(model),
            _context_param=context_param,
            compensate=compensate,
            egress=egress,
        )

    def spec(self) -> ToolSpec:
        """The tool as a model sees it."""
        return ToolSpec(name=self.name, description=self.description, parameters=self.parameters)

    def validate(self, arguments: dict[str, JSON]) -> dict[str, Any]:
        """Check arguments against the signature; raise `ToolError` saying what is wrong."""
        try:
            parsed = self._validator.validate_python(arguments)
        except pydantic.ValidationError as exc:
            errors = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or 'arguments'}: {e['msg']}"
                for e in exc.errors()
            )
            raise ToolError(f"invalid arguments for tool {self.name!r}: {errors}") from None
        return dict(parsed)

    async def call(self, arguments: dict[str, JSON], context: ToolContext) -> JSON:
        """Validate and call; a sync function runs in a worker thread."""
        kwargs = self.validate(arguments)
        if self._context_param is not None:
            kwargs[self._context_param] = context
        try:
            if inspect.iscoroutinefunction(self.function):
                result = await self.function(**kwargs)
            else:
                result = await run_sync(self.function, **kwargs)
        except ToolError:
            raise
        except Exception as exc:
            raise ToolError(f"tool {self.name!r} failed: {type(exc).__name__}: {exc}") from exc
        return to_json_value(result, self.name)


def _encode_extra(value: Any) -> Any:
    if isinstance(value, pydantic.BaseModel):
        return value.model_dump(mode="json")
    raise TypeError(f"{type(value).__name__} is not JSON-serialisable")


def to_json_value(value: Any, what: str) -> JSON:
    """Make a value JSON-compatible (dataclasses, pydantic models, dates…); else `ToolError`."""
    if value is None or isinstance(value, str | int | float | bool):
        return value
    try:
        return msgspec.to_builtins(value, enc_hook=_encode_extra, str_keys=True)
    except (TypeError, ValueError, msgspec.EncodeError) as exc:
        raise ToolError(f"{what!r} returned a value that is not JSON-serialisable: {exc}") from None
    except RecursionError:
        raise ToolError(
            f"{what!r} returned a value nested deeper than {MAX_DEPTH} levels (or a cycle)"
        ) from None


def result_text(value: JSON) -> str:
    """A tool result as the text a model reads."""
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


AnyFunc = Callable[..., Any] | Callable[..., Awaitable[Any]]


@overload
def tool(function: Callable[..., Any], /) -> Tool: ...


@overload
def tool(
    *,
    name: str | None = None,
    description: str | None = None,
    effect: Effect = "read",
    compensate: Undo | None = None,
    egress: Callable[[dict[str, JSON]], str | None] | None = None,
) -> Callable[[Callable[..., Any]], Tool]: ...


def tool(
    function: Callable[..., Any] | None = None,
    /,
    *,
    name: str | None = None,
    description: str | None = None,
    effect: Effect = "read",
    compensate: Undo | None = None,
    egress: Callable[[dict[str, JSON]], str | None] | None = None,
) -> Tool | Callable[[Callable[..., Any]], Tool]:
    """Turn a typed function into a `Tool`.

    Example:
        ```python
        @tool(effect="write")
        def send_email(to: str, body: str) -> str:
            "Send an email."
            ...
        ```
    """
    if function is not None:
        return Tool.from_function(function)

    def wrap(fn: Callable[..., Any]) -> Tool:
        return Tool.from_function(
            fn,
            name=name,
            description=description,
            effect=effect,
            compensate=compensate,
            egress=egress,
        )

    return wrap
