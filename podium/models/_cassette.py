"""Record model exchanges once, replay them in tests with no model at all.

A cassette is a JSON-lines file: one `Exchange` (index, request hash, request, response, model
name) a line. `RecordingModel` wraps a real model and appends each exchange as it completes;
`ReplayModel` answers from the cassette. When a request no longer matches what was recorded,
replay fails with `CassetteDivergence`, naming the exchange and the first field that differs
(``messages[2].content``, ``tools[0].parameters``, ``output_schema``, …).
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import msgspec

from podium.exceptions import ConfigError, ModelError
from podium.models._base import Model, ModelRequest, ModelResponse, ModelWrapper


class Exchange(msgspec.Struct, frozen=True, kw_only=True):
    """One recorded request and the response it got."""

    index: int
    request_hash: str
    model: str
    request: ModelRequest
    response: ModelResponse


_decoder = msgspec.json.Decoder(Exchange)


def request_hash(request: ModelRequest) -> str:
    """A stable SHA-256 of the request's content (dict keys sorted), as hex."""
    return hashlib.sha256(msgspec.json.encode(request, order="sorted")).hexdigest()


class CassetteDivergence(ModelError):
    """A replayed request differs from the one recorded at that point.

    Attributes:
        index: the exchange (0-based) the request was compared with; in a run's cassette, its
            sequence number within `task`.
        field: the first field that differs, e.g. ``messages[1].content``.
        recorded: the recorded value of that field.
        actual: the value in the new request.
        task: the task whose exchange diverged (run cassettes only).
    """

    retryable = False  # the same request diverges again

    def __init__(
        self,
        path: Path,
        index: int,
        field: str,
        recorded: object,
        actual: object,
        *,
        task: str | None = None,
        hint: str = "record the cassette again with RecordingModel",
    ) -> None:
        self.path = path
        self.index = index
        self.field = field
        self.recorded = recorded
        self.actual = actual
        self.task = task
        where = f"task {task!r}: exchange" if task is not None else "request"
        super().__init__(
            f"{where} {index} diverges from cassette {str(path)!r} at {field}: recorded "
            f"{_short(recorded)}, now {_short(actual)}. If the change is intended, {hint}."
        )


def _short(value: object, limit: int = 120) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def read_cassette(path: str | Path) -> list[Exchange]:
    """Every exchange in a cassette file, in order.

    Raises:
        ConfigError: the file is missing or a line is not an exchange.
    """
    path = Path(path)
    try:
        lines = path.read_bytes().splitlines()
    except OSError as exc:
        raise ConfigError(f"cannot read cassette: {exc}", file=str(path)) from exc
    exchanges = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            exchanges.append(_decoder.decode(line))
        except msgspec.DecodeError as exc:
            raise ConfigError(
                f"not a cassette exchange: {exc}", file=str(path), line=number
            ) from exc
    return exchanges


class RecordingModel(ModelWrapper):
    """Passes requests to `inner` and appends each exchange to the cassette at `path`.

    Args:
        inner: the model that really answers.
        path: the cassette file; its folder is created if needed.
        append: keep exchanges already in the file (default: start the cassette afresh).
    """

    def __init__(self, inner: Model, path: str | Path, *, append: bool = False) -> None:
        super().__init__(inner)
        self.path = Path(path)
        self._append = append
        self._count: int | None = None

    async def request(self, request: ModelRequest) -> ModelResponse:
        response = await self.inner.request(request)
        self._write(request, response)
        return response

    def _write(self, request: ModelRequest, response: ModelResponse) -> None:
        # One short line per model call: cheap next to the call, so written inline.
        if self._count is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            keep = self._append and self.path.exists()
            self._count = len(read_cassette(self.path)) if keep else 0
            if not keep:
                self.path.write_bytes(b"")
        exchange = Exchange(
            index=self._count,
            request_hash=request_hash(request),
            model=self.inner.name,
            request=request,
            response=response,
        )
        with self.path.open("ab") as file:
            file.write(msgspec.json.encode(exchange) + b"\n")
        self._count += 1


class ReplayModel:
    """Answers from a cassette, deterministically, with no model behind it.

    Requests are matched in recorded order. A request that matches a later, not yet used
    exchange exactly (parallel tasks finishing in another order) takes that one; any other
    mismatch raises `CassetteDivergence` against the next unused exchange.

    Raises:
        ConfigError: the cassette cannot be read (at construction).
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.exchanges = read_cassette(self.path)
        self._used = [False] * len(self.exchanges)

    @property
    def name(self) -> str:
        return self.exchanges[0].model if self.exchanges else f"replay:{self.path.stem}"

    @property
    def provider(self) -> str:
        return self.name.partition(":")[0]

    @property
    def remaining(self) -> int:
        """Exchanges not replayed yet."""
        return self._used.count(False)

    async def request(self, request: ModelRequest) -> ModelResponse:
        unused = [i for i, used in enumerate(self._used) if not used]
        if not unused:
            raise CassetteDivergence(
                self.path,
                len(self.exchanges),
                "(end of cassette)",
                f"{len(self.exchanges)} exchanges",
                "one more request",
            )
        digest = request_hash(request)
        match = next((i for i in unused if self.exchanges[i].request_hash == digest), None)
        if match is None:
            index = unused[0]
            field, recorded, actual = first_difference(self.exchanges[index].request, request)
            raise CassetteDivergence(self.path, index, field, recorded, actual)
        self._used[match] = True
        return self.exchanges[match].response


def first_difference(recorded: ModelRequest, actual: ModelRequest) -> tuple[str, Any, Any]:
    """The path of the first field where two requests differ, with both values."""
    found = _diff("", recorded, actual)
    # Equal content with a different hash cannot happen; report the whole request just in case.
    return found if found is not None else ("request", recorded, actual)


def _diff(path: str, a: Any, b: Any) -> tuple[str, Any, Any] | None:
    if isinstance(a, msgspec.Struct) and isinstance(b, msgspec.Struct):
        return _diff_structs(path, a, b)
    if isinstance(a, tuple) and isinstance(b, tuple):
        return _diff_tuples(path, a, b)
    return None if a == b else (path, a, b)


def _diff_structs(path: str, a: msgspec.Struct, b: msgspec.Struct) -> tuple[str, Any, Any] | None:
    if type(a) is not type(b):
        tag_a, tag_b = a.__struct_config__.tag, b.__struct_config__.tag
        return (f"{path}.role", tag_a, tag_b) if tag_a != tag_b else (path, a, b)
    for field in msgspec.structs.fields(a):
        name = f"{path}.{field.name}" if path else field.name
        found = _diff(name, getattr(a, field.name), getattr(b, field.name))
        if found is not None:
            return found
    return None


def _diff_tuples(path: str, a: tuple[Any, ...], b: tuple[Any, ...]) -> tuple[str, Any, Any] | None:
    for i, (x, y) in enumerate(zip(a, b, strict=False)):
        found = _diff(f"{path}[{i}]", x, y)
        if found is not None:
            return found
    return (f"{path} (length)", len(a), len(b)) if len(a) != len(b) else None
