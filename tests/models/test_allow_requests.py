"""The switch that refuses real model requests: off for the whole suite, on where a test opts in."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest

from podium import Agent, Orchestrator, Plan, Task
from podium.exceptions import ModelError
from podium.models import (
    ModelRequest,
    ModelRequestsRefused,
    UserMessage,
    _allow,
    allow_model_requests,
    model_requests_allowed,
    override_allow_model_requests,
)
from podium.models._anthropic import AnthropicModel
from podium.models._local import LocalModel
from podium.models._openai import OpenAIModel
from podium.testing import TestModel

REQUEST = ModelRequest(messages=(UserMessage(content="hi"),))


class Transport:
    """A mock transport that counts what reaches it (and answers like OpenAI)."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, request: httpx2.Request) -> httpx2.Response:
        self.calls += 1
        message = {"role": "assistant", "content": "hello"}
        body = {
            "id": "chatcmpl-1",
            "object": "chat.completion",
            "created": 1,
            "model": "m",
            "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4},
        }
        return httpx2.Response(200, json=body)


@pytest.fixture
def switch() -> Iterator[None]:
    """Lets a test move the switch, and puts it back."""
    saved = _allow._allowed
    yield
    allow_model_requests(saved)


def test_the_suite_refuses_model_requests() -> None:
    assert not model_requests_allowed()


@pytest.mark.model_requests
def test_the_marker_allows_them() -> None:
    assert model_requests_allowed()


@pytest.mark.anyio
async def test_openai_is_refused_before_any_request_with_how_to_opt_in() -> None:
    transport = Transport()
    async with httpx2.AsyncClient(transport=httpx2.MockTransport(transport)) as http:
        model = OpenAIModel("gpt-5.4-mini", api_key="sk-test", http_client=http)
        with pytest.raises(ModelRequestsRefused) as caught:
            await model.request(REQUEST)
        with pytest.raises(ModelRequestsRefused):
            model.stream(REQUEST)
    assert transport.calls == 0
    message = str(caught.value)
    assert "'openai:gpt-5.4-mini'" in message
    assert "allow_model_requests(True)" in message
    assert "@pytest.mark.model_requests" in message
    assert "PODIUM_ALLOW_MODEL_REQUESTS=1" in message
    assert isinstance(caught.value, ModelError)


@pytest.mark.anyio
async def test_anthropic_is_refused_before_any_request() -> None:
    transport = Transport()
    async with httpx2.AsyncClient(transport=httpx2.MockTransport(transport)) as http:
        model = AnthropicModel("claude-sonnet-4-6", api_key="sk-ant-test", http_client=http)
        with pytest.raises(ModelRequestsRefused, match="anthropic:claude-sonnet-4-6"):
            await model.request(REQUEST)
    assert transport.calls == 0


@pytest.mark.anyio
async def test_the_local_model_is_refused_before_it_is_loaded(tmp_path: Path) -> None:
    broken = tmp_path / "broken.gguf"
    broken.write_bytes(b"not a model")  # loading it would be a ConfigError
    with pytest.raises(ModelRequestsRefused, match="local:"):
        await LocalModel(str(broken)).request(REQUEST)


@pytest.mark.model_requests
@pytest.mark.anyio
async def test_an_opted_in_test_reaches_the_provider() -> None:
    transport = Transport()
    async with httpx2.AsyncClient(transport=httpx2.MockTransport(transport)) as http:
        model = OpenAIModel("gpt-5.4-mini", api_key="sk-test", http_client=http)
        response = await model.request(REQUEST)
    assert (response.text, transport.calls) == ("hello", 1)


@pytest.mark.anyio
async def test_the_override_allows_within_its_block_only() -> None:
    transport = Transport()
    async with httpx2.AsyncClient(transport=httpx2.MockTransport(transport)) as http:
        model = OpenAIModel("gpt-5.4-mini", api_key="sk-test", http_client=http)
        with override_allow_model_requests(True):
            assert model_requests_allowed()
            await model.request(REQUEST)
        assert not model_requests_allowed()
        with pytest.raises(ModelRequestsRefused):
            await model.request(REQUEST)
    assert transport.calls == 1


@pytest.mark.parametrize(
    ("value", "allowed"),
    [("0", False), ("false", False), (" OFF ", False), ("no", False), ("1", True), ("yes", True)],
)
def test_without_a_setting_the_environment_decides(
    switch: None, monkeypatch: pytest.MonkeyPatch, value: str, allowed: bool
) -> None:
    allow_model_requests(None)
    monkeypatch.setenv("PODIUM_ALLOW_MODEL_REQUESTS", value)
    assert model_requests_allowed() is allowed
    monkeypatch.delenv("PODIUM_ALLOW_MODEL_REQUESTS")
    assert model_requests_allowed()  # the default is to allow
    allow_model_requests(False)
    monkeypatch.setenv("PODIUM_ALLOW_MODEL_REQUESTS", "1")
    assert not model_requests_allowed()  # a setting in code wins over the environment


@pytest.mark.anyio
async def test_fakes_are_never_refused() -> None:
    response = await TestModel().request(REQUEST)
    assert response.text == "success (no tool calls)"


@pytest.mark.anyio
async def test_a_refused_request_fails_its_task_without_a_retry() -> None:
    async with httpx2.AsyncClient(transport=httpx2.MockTransport(Transport())) as http:
        model = OpenAIModel("gpt-5.4-mini", api_key="sk-test", http_client=http)
        agent = Agent(name="llm", model=model)
        async with Orchestrator(agents=[agent], store="memory://") as orch:
            result = await orch.run(Plan([Task(id="t", agent="llm", instruction="go")]))
    error = result.tasks["t"]["error"]
    assert result.status == "failed"
    assert error["type"] == "ModelRequestsRefused"
    assert not error.get("retryable", False)
