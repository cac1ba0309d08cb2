"""Record every model and tool exchange of a run; replay the run from them with no model at all.

A run's cassette is a JSON-lines file, one exchange a line: a model request and its response (or
error), or a tool call and its result (or error). Exchanges are keyed by ``(task, seq)``: `seq`
counts the model requests and tool calls of one task, from 0, over its attempts and handoffs.
Parallel tasks finish in any order, but the exchanges of one task come one after another, so a
key names the same exchange in every replay of the run.

Replaying, no model is resolved or called and no tool runs (so no side effect happens again):
each request is compared with the one recorded under its key and answered with what was
recorded. A request that no longer matches raises `CassetteDivergence` naming the task, the
exchange and the first field that differs (``messages[1].content``, ``arguments``, …); the task
fails with that typed error, which is never retried.

Wire it with ``Orchestrator(record=PATH)`` / ``Orchestrator(replay=PATH)`` (or a `Cassette`), or
``podium run FILE --record PATH`` / ``--replay PATH``. A cassette holds one run. It is a model- and
tool-call interceptor, the innermost one, so budgets, breakers, rate limits and timeouts apply to
a recorded call as to a real one; Python agents run as they are.
"""

from __future__ import annotations

import builtins
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import msgspec

from podium.exceptions import ConfigError, ModelError, ToolError
from podium.models import _errors
from podium.models._allow import ModelRequestsRefused
from podium.models._base import Model, ModelRequest, ModelResponse
from podium.models._calls import CallModel, ModelCallInput
from podium.models._cassette import CassetteDivergence, first_difference, request_hash
from podium.models._registry import resolve_model
from podium.tools._calls import CallTool, ToolCallInput, ToolCallResult

JSON = Any
Mode = Literal["record", "replay"]
HINT = "record the run again (Orchestrator(record=...) or podium run --record)"


class RecordedError(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """An exception a model raised, enough to raise it again."""

    type: str
    message: str
    provider: str | None = None
    retryable: bool | None = None
    status_code: int | None = None
    retry_after_s: float | None = None


class ModelExchange(
    msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True, tag="model", tag_field="kind"
):
    """One model request of a task and its response (or the error it raised)."""

    task: str
    seq: int
    agent: str
    model: str
    request_hash: str
    request: ModelRequest
    response: ModelResponse | None = None
    error: RecordedError | None = None


class ToolExchange(
    msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True, tag="tool", tag_field="kind"
):
    """One tool call of a task and its result (or the error the model was shown)."""

    task: str
    seq: int
    agent: str
    tool: str
    arguments: dict[str, JSON] = {}
    result: JSON = None
    error: str | None = None


RunExchange = ModelExchange | ToolExchange
_decoder = msgspec.json.Decoder(RunExchange)


def _recorded_error(exc: Exception) -> RecordedError:
    if isinstance(exc, _errors.ProviderError):
        prefix = f"{exc.provider}: "
        message = str(exc)
        return RecordedError(
            type=type(exc).__name__,
            message=message.removeprefix(prefix),
            provider=exc.provider,
            retryable=exc.retryable,
            status_code=exc.status_code,
            retry_after_s=getattr(exc, "retry_after_s", None),
        )
    # the argument, not str(): str(KeyError("k")) is "'k'"
    args = exc.args
    message = args[0] if len(args) == 1 and isinstance(args[0], str) else str(exc)
    return RecordedError(type=type(exc).__name__, message=message)


class ReplayedError(ModelError):
    """A recorded model error of a type replay cannot rebuild (`type` names the original)."""

    def __init__(self, recorded: RecordedError) -> None:
        self.type = recorded.type
        super().__init__(recorded.message)


_REBUILT: dict[str, type[Exception]] = {
    cls.__name__: cls for cls in (ModelError, ModelRequestsRefused)
}


def _raise_again(recorded: RecordedError) -> Exception:
    """The recorded error as it was raised: a provider error, `ModelError` or a built-in one."""
    cls = getattr(_errors, recorded.type, None)
    if not (isinstance(cls, type) and issubclass(cls, _errors.ProviderError)):
        plain = _REBUILT.get(recorded.type) or getattr(builtins, recorded.type, None)
        if isinstance(plain, type) and issubclass(plain, Exception) and plain is not Exception:
            try:
                return plain(recorded.message)
            except TypeError:  # a constructor that wants more than a message
                pass
        return ReplayedError(recorded)
    provider = recorded.provider or ""
    if issubclass(cls, _errors.RateLimited):
        return cls(
            recorded.message,
            provider=provider,
            retry_after_s=recorded.retry_after_s,
            retryable=recorded.retryable,
            status_code=recorded.status_code,
        )
    return cls(
        recorded.message,
        provider=provider,
        retryable=recorded.retryable,
        status_code=recorded.status_code,
    )


class Cassette:
    """The exchanges of one run, being recorded or replayed.

    Build one with `Cassette.record` (starts the file afresh) or `Cassette.replay`.

    Raises:
        ConfigError: a cassette to replay cannot be read, or holds an exchange twice.
    """

    def __init__(self, path: str | Path, mode: Mode) -> None:
        if mode not in ("record", "replay"):
            raise ConfigError(f"a cassette's mode is 'record' or 'replay', not {mode!r}")
        self.path = Path(path)
        self.mode: Mode = mode
        self._next: dict[str, int] = {}
        self._recorded: dict[tuple[str, int], RunExchange] = {}
        self._used: set[tuple[str, int]] = set()
        if mode == "replay":
            self._load()
        else:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.path.write_bytes(b"")

    @classmethod
    def record(cls, path: str | Path) -> Cassette:
        """A cassette that records into `path` (emptied first)."""
        return cls(path, "record")

    @classmethod
    def replay(cls, path: str | Path) -> Cassette:
        """A cassette that replays the run recorded in `path`."""
        return cls(path, "replay")

    @property
    def replaying(self) -> bool:
        return self.mode == "replay"

    @property
    def exchanges(self) -> list[RunExchange]:
        """The recorded exchanges (replay), ordered by task and sequence number."""
        return [self._recorded[key] for key in sorted(self._recorded)]

    @property
    def unused(self) -> list[tuple[str, int]]:
        """Keys of recorded exchanges the replay has not asked for (yet)."""
        return sorted(set(self._recorded) - self._used)

    def _load(self) -> None:
        try:
            lines = self.path.read_bytes().splitlines()
        except OSError as exc:
            raise ConfigError(f"cannot read cassette: {exc}", file=str(self.path)) from exc
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                exchange = _decoder.decode(line)
            except msgspec.DecodeError as exc:
                raise ConfigError(
                    f"not a run cassette exchange: {exc}", file=str(self.path), line=number
                ) from exc
            key = (exchange.task, exchange.seq)
            if key in self._recorded:
                raise ConfigError(
                    f"exchange {exchange.seq} of task {exchange.task!r} is recorded twice",
                    file=str(self.path),
                    line=number,
                )
            self._recorded[key] = exchange

    # -- keys and lookups -----------------------------------------------------------------------

    def next_seq(self, task: str) -> int:
        """Take the next sequence number of `task`."""
        seq = self._next.get(task, 0)
        self._next[task] = seq + 1
        return seq

    def peek(self, task: str) -> RunExchange | None:
        """The recorded exchange `task` asks for next, if there is one."""
        return self._recorded.get((task, self._next.get(task, 0)))

    def _expect(self, task: str, seq: int, kind: str) -> RunExchange:
        exchange = self._recorded.get((task, seq))
        if exchange is None:
            count = sum(1 for t, _ in self._recorded if t == task)
            raise self._divergence(
                task, seq, "(end of cassette)", f"{count} exchanges for the task", f"a {kind} call"
            )
        recorded_kind = "model" if isinstance(exchange, ModelExchange) else "tool"
        if recorded_kind != kind:
            raise self._divergence(task, seq, "kind", recorded_kind, kind)
        self._used.add((task, seq))
        return exchange

    def _divergence(
        self, task: str, seq: int, field: str, recorded: object, actual: object
    ) -> CassetteDivergence:
        return CassetteDivergence(self.path, seq, field, recorded, actual, task=task, hint=HINT)

    def answer(self, task: str, seq: int, request: ModelRequest) -> ModelExchange:
        """The recorded exchange for this model request.

        Raises:
            CassetteDivergence: nothing is recorded there, or a different request.
        """
        exchange = self._expect(task, seq, "model")
        assert isinstance(exchange, ModelExchange)
        if exchange.request_hash != request_hash(request):
            field, recorded, actual = first_difference(exchange.request, request)
            raise self._divergence(task, seq, field, recorded, actual)
        return exchange

    def tool_result(
        self, task: str, seq: int, tool: str, arguments: Mapping[str, JSON]
    ) -> ToolExchange:
        """The recorded exchange for this tool call.

        Raises:
            CassetteDivergence: nothing is recorded there, another tool, or other arguments.
        """
        exchange = self._expect(task, seq, "tool")
        assert isinstance(exchange, ToolExchange)
        if exchange.tool != tool:
            raise self._divergence(task, seq, "tool", exchange.tool, tool)
        if exchange.arguments != dict(arguments):
            name = next(
                (
                    k
                    for k in sorted({*exchange.arguments, *arguments})
                    if exchange.arguments.get(k) != arguments.get(k)
                ),
                "",
            )
            raise self._divergence(
                task,
                seq,
                f"arguments.{name}",
                exchange.arguments.get(name),
                arguments.get(name),
            )
        return exchange

    def write(self, exchange: RunExchange) -> None:
        """Append one exchange to the file (one short line, written at once)."""
        with self.path.open("ab") as file:
            file.write(msgspec.json.encode(exchange) + b"\n")

    # -- as an interceptor ----------------------------------------------------------------------

    def resolve(self, spec: Model | str) -> Model:
        """The model an agent names, as the loop of a replayed run holds it: replaying, a stand-in
        that is never called (the recording answers), so no model is resolved or loaded."""
        if not self.replaying:
            return resolve_model(spec)
        return _Recorded(spec if isinstance(spec, str) else spec.name)

    async def request(self, input: ModelCallInput, next: CallModel) -> ModelResponse:
        """Record the call and its answer, or answer it from the recording."""
        task = input.task_id
        seq = self.next_seq(task)
        if self.replaying:
            exchange = self.answer(task, seq, input.request)
            if exchange.error is not None:
                raise _raise_again(exchange.error)
            assert exchange.response is not None
            return msgspec.structs.replace(exchange.response, model=exchange.model)
        try:
            response = await next(input)
        except Exception as exc:  # a cancelled request is no exchange
            self._write_model(input, seq, error=_recorded_error(exc))
            raise
        self._write_model(input, seq, response=response)
        return response

    def _write_model(
        self,
        input: ModelCallInput,
        seq: int,
        *,
        response: ModelResponse | None = None,
        error: RecordedError | None = None,
    ) -> None:
        self.write(
            ModelExchange(
                task=input.task_id,
                seq=seq,
                agent=input.agent,
                model=input.model.name,
                request_hash=request_hash(input.request),
                request=input.request,
                response=response,
                error=error,
            )
        )

    async def call(self, input: ToolCallInput, next: CallTool) -> ToolCallResult:
        """Record the call and its result, or return the recorded result without calling."""
        task = input.context.task_id
        seq = self.next_seq(task)
        arguments = dict(input.arguments)
        if self.replaying:
            exchange = self.tool_result(task, seq, input.tool.name, arguments)
            if exchange.error is not None:
                raise ToolError(exchange.error)
            return ToolCallResult(exchange.result)
        try:
            result = await next(input)
        except ToolError as exc:
            self._write_tool(input, seq, arguments, error=str(exc))
            raise
        self._write_tool(input, seq, arguments, result=result.result)
        return result

    def _write_tool(
        self,
        input: ToolCallInput,
        seq: int,
        arguments: dict[str, JSON],
        *,
        result: JSON = None,
        error: str | None = None,
    ) -> None:
        self.write(
            ToolExchange(
                task=input.context.task_id,
                seq=seq,
                agent=input.context.agent,
                tool=input.tool.name,
                arguments=arguments,
                result=result,
                error=error,
            )
        )


class _Recorded:
    """A replayed run's stand-in for a model: named as the agent names it, never called."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.provider = name.partition(":")[0]

    async def request(self, request: ModelRequest) -> ModelResponse:
        raise ModelError(f"{self.name}: a replayed run calls no model")  # pragma: no cover


def as_cassette(value: Cassette | str | Path | None, mode: Mode) -> Cassette | None:
    """A `Cassette` for ``record=`` / ``replay=``: a path becomes one in `mode`."""
    if value is None or isinstance(value, Cassette):
        return value
    return Cassette(value, mode)


__all__ = [
    "Cassette",
    "ModelExchange",
    "RecordedError",
    "ReplayedError",
    "RunExchange",
    "ToolExchange",
    "as_cassette",
]
