"""Composing interceptors: each hook takes one input object and the `next` step.

`chain([a, b, c], "request", terminal)` is a function that calls ``a.request(input, next)``,
whose `next` calls ``b.request``, and so on; the last `next` is `terminal`. The first
interceptor of the list is the outermost: it sees the call first and the result last.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

I = TypeVar("I")  # noqa: E741 - the input of a hook
O = TypeVar("O")  # noqa: E741 - its output

Step = Callable[[I], Awaitable[O]]


def chain(interceptors: Sequence[Any], hook: str, terminal: Step[I, O]) -> Step[I, O]:
    """The composition of `interceptors`' `hook` methods around `terminal` (see the module)."""
    call = terminal
    for interceptor in reversed(interceptors):
        call = _bind(getattr(interceptor, hook), call)
    return call


def _bind(hook: Callable[[I, Step[I, O]], Awaitable[O]], next_: Step[I, O]) -> Step[I, O]:
    if _takes_next(hook):  # a call without a Python frame of ours in between
        return functools.partial(hook, next=next_)  # type: ignore[call-arg]

    def step(input: I) -> Awaitable[O]:
        return hook(input, next_)

    return step


def _takes_next(hook: Callable[..., Any]) -> bool:
    """Whether `hook`'s second parameter is `next` and may be passed by name."""
    try:
        params = list(inspect.signature(hook).parameters.values())
    except (TypeError, ValueError):
        return False
    kinds = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    return len(params) == 2 and params[1].name == "next" and params[1].kind in kinds


__all__ = ["Step", "chain"]
