"""One model call as interceptors see it: `ModelCallInput` in, a `ModelResponse` out.

A model interceptor wraps every model call of every attempt of an orchestrator:

```python
class Slow:
    async def request(self, input: ModelCallInput, next: CallModel) -> ModelResponse:
        started = time.monotonic()
        response = await next(input)        # or next(input.with_model(other))
        log.info("%s took %.1fs", input.model.name, time.monotonic() - started)
        return response
```

It may change the input (another model, another request), answer without calling `next`, or
raise; the errors it raises are what the call raised.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from typing import Protocol

from podium._chain import chain
from podium.models._base import Model, ModelRequest, ModelResponse, ModelWrapper


@dataclass(frozen=True, slots=True, kw_only=True)
class ModelCallInput:
    """A model call about to be made.

    Attributes:
        model: the model to call.
        request: what it is asked.
        run_id, task_id, agent, attempt: where the call comes from.
    """

    model: Model
    request: ModelRequest
    run_id: str = ""
    task_id: str = ""
    agent: str = ""
    attempt: int = 1

    def with_model(self, model: Model) -> ModelCallInput:
        return replace(self, model=model)

    def with_request(self, request: ModelRequest) -> ModelCallInput:
        return replace(self, request=request)


CallModel = Callable[[ModelCallInput], Awaitable[ModelResponse]]
"""Makes a model call (the rest of the chain)."""


class ModelInterceptor(Protocol):
    """Wraps model calls (see the module docstring)."""

    async def request(self, input: ModelCallInput, next: CallModel) -> ModelResponse: ...


async def call_model(input: ModelCallInput) -> ModelResponse:
    """The end of every chain: the model itself."""
    return await input.model.request(input.request)


class InterceptedModel(ModelWrapper):
    """A model whose every request goes through `interceptors` (outermost first)."""

    def __init__(self, model: Model, interceptors: Sequence[ModelInterceptor]) -> None:
        super().__init__(model)
        self._call = chain(interceptors, "request", call_model)

    async def request(self, request: ModelRequest) -> ModelResponse:
        return await self._call(ModelCallInput(model=self.inner, request=request))


__all__ = ["CallModel", "InterceptedModel", "ModelCallInput", "ModelInterceptor", "call_model"]
