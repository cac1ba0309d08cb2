"""Record/replay: cassettes written by `RecordingModel` answer `ReplayModel` deterministically."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from podium.exceptions import ConfigError, ModelError
from podium.models import (
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
from podium.models._cassette import (
    CassetteDivergence,
    RecordingModel,
    ReplayModel,
    read_cassette,
    request_hash,
)
from podium.testing import FunctionModel

SEARCH = ToolSpec(name="search", parameters={"type": "object", "properties": {"q": {}}})


def conversation(last: str = "thanks") -> ModelRequest:
    return ModelRequest(
        messages=(
            SystemMessage(content="be brief"),
            UserMessage(content="find cats"),
            AssistantMessage(
                tool_calls=(ToolCall(id="c1", name="search", arguments={"q": "cat"}),)
            ),
            ToolResultMessage(call_id="c1", name="search", content="3 cats"),
            UserMessage(content=last),
        ),
        tools=(SEARCH,),
        output_schema={"type": "object", "properties": {"n": {"type": "integer"}}},
        max_tokens=100,
    )


def echo(request: ModelRequest) -> ModelResponse:
    last = request.messages[-1]
    text = last.content if isinstance(last, UserMessage | SystemMessage) else "?"
    return ModelResponse(
        text=f"echo: {text}",
        tool_calls=(ToolCall(id="t", name="search", arguments={"q": text, "n": [1, 2]}),),
        usage=TokenUsage(input_tokens=10, output_tokens=3),
        model="test:echo",
        finish_reason="tool_calls",
    )


async def record(path: Path, requests: list[ModelRequest]) -> list[ModelResponse]:
    recorder = RecordingModel(FunctionModel(echo, name="echo"), path)
    return [await recorder.request(r) for r in requests]


def ask(text: str) -> ModelRequest:
    return ModelRequest(messages=(UserMessage(content=text),))


@pytest.mark.anyio
async def test_replay_returns_the_recorded_responses_in_order(tmp_path: Path) -> None:
    path = tmp_path / "cassettes" / "run.jsonl"
    requests = [conversation(), ask("second"), ask("third")]
    recorded = await record(path, requests)
    replay = ReplayModel(path)
    assert (replay.name, replay.provider) == ("test:echo", "test")
    assert [await replay.request(r) for r in requests] == recorded
    assert replay.remaining == 0


@pytest.mark.anyio
async def test_the_cassette_is_json_lines_with_hashes(tmp_path: Path) -> None:
    path = tmp_path / "run.jsonl"
    await record(path, [conversation(), ask("x")])
    lines = path.read_text().splitlines()
    assert len(lines) == 2
    assert '"role":"tool"' in lines[0]
    exchanges = read_cassette(path)
    assert [e.index for e in exchanges] == [0, 1]
    assert exchanges[0].request == conversation()
    assert exchanges[0].request_hash == request_hash(conversation())
    assert exchanges[1].model == "test:echo"


@pytest.mark.anyio
async def test_recording_starts_afresh_unless_appending(tmp_path: Path) -> None:
    path = tmp_path / "run.jsonl"
    await record(path, [ask("a"), ask("b")])
    await record(path, [ask("c")])
    assert [e.request for e in read_cassette(path)] == [ask("c")]
    appender = RecordingModel(FunctionModel(echo, name="echo"), path, append=True)
    await appender.request(ask("d"))
    assert [(e.index, e.request) for e in read_cassette(path)] == [(0, ask("c")), (1, ask("d"))]


@pytest.mark.anyio
async def test_recording_passes_errors_through_and_records_nothing(tmp_path: Path) -> None:
    def fail(_: ModelRequest) -> ModelResponse:
        raise ModelError("down")

    recorder = RecordingModel(FunctionModel(fail), tmp_path / "run.jsonl")
    with pytest.raises(ModelError, match="down"):
        await recorder.request(ask("x"))
    assert not (tmp_path / "run.jsonl").exists()
    assert (recorder.name, recorder.provider) == ("test:function", "test")


@pytest.mark.parametrize(
    ("changed", "field"),
    [
        (conversation(last="thank you"), "messages[4].content"),
        (
            ModelRequest(
                messages=(*conversation().messages[:3],
                          ToolResultMessage(call_id="c1", name="search", content="4 cats"),
                          conversation().messages[4]),
                tools=(SEARCH,),
                output_schema=conversation().output_schema,
                max_tokens=100,
            ),
            "messages[3].content",
        ),
        (
            ModelRequest(
                messages=(*conversation().messages[:4], AssistantMessage(content="thanks")),
                tools=(SEARCH,),
                output_schema=conversation().output_schema,
                max_tokens=100,
            ),
            "messages[4].role",
        ),
        (
            ModelRequest(
                messages=conversation().messages[:4],
                tools=(SEARCH,),
                output_schema=conversation().output_schema,
                max_tokens=100,
            ),
            "messages (length)",
        ),
        (
            ModelRequest(
                messages=conversation().messages,
                tools=(ToolSpec(name="search", parameters={"type": "object"}),),
                output_schema=conversation().output_schema,
                max_tokens=100,
            ),
            "tools[0].parameters",
        ),
        (
            ModelRequest(
                messages=conversation().messages,
                tools=(SEARCH,),
                output_schema={"type": "object"},
                max_tokens=100,
            ),
            "output_schema",
        ),
        (
            ModelRequest(
                messages=conversation().messages,
                tools=(SEARCH,),
                output_schema=conversation().output_schema,
                max_tokens=100,
                temperature=0.7,
            ),
            "temperature",
        ),
    ],
)  # fmt: skip
@pytest.mark.anyio
async def test_a_changed_request_names_the_exchange_and_field(
    tmp_path: Path, changed: ModelRequest, field: str
) -> None:
    path = tmp_path / "run.jsonl"
    await record(path, [ask("first"), conversation()])
    replay = ReplayModel(path)
    await replay.request(ask("first"))
    with pytest.raises(CassetteDivergence) as caught:
        await replay.request(changed)
    error = caught.value
    assert (error.index, error.field) == (1, field)
    assert f"request 1 diverges from cassette {str(path)!r} at {field}" in str(error)
    assert isinstance(error, ModelError)


@pytest.mark.anyio
async def test_divergence_reports_both_values(tmp_path: Path) -> None:
    path = tmp_path / "run.jsonl"
    await record(path, [ask("hello")])
    with pytest.raises(CassetteDivergence) as caught:
        await ReplayModel(path).request(ask("goodbye"))
    assert (caught.value.recorded, caught.value.actual) == ("hello", "goodbye")
    assert "recorded 'hello', now 'goodbye'" in str(caught.value)


@pytest.mark.anyio
async def test_requests_past_the_end_diverge(tmp_path: Path) -> None:
    path = tmp_path / "run.jsonl"
    await record(path, [ask("only")])
    replay = ReplayModel(path)
    await replay.request(ask("only"))
    with pytest.raises(CassetteDivergence, match="end of cassette") as caught:
        await replay.request(ask("only"))
    assert caught.value.index == 1


@pytest.mark.anyio
async def test_concurrent_requests_may_arrive_in_another_order(tmp_path: Path) -> None:
    path = tmp_path / "run.jsonl"
    recorded = await record(path, [ask("a"), ask("b"), ask("c")])
    replay = ReplayModel(path)
    answers = await asyncio.gather(*(replay.request(ask(t)) for t in ("c", "a", "b")))
    assert answers == [recorded[2], recorded[0], recorded[1]]


def test_request_hash_is_stable_and_content_based() -> None:
    assert request_hash(conversation()) == request_hash(conversation())
    assert request_hash(conversation()) != request_hash(conversation(last="other"))
    reordered = ModelRequest(
        messages=(UserMessage(content="x"),), output_schema={"b": 1, "a": {"d": 2, "c": 3}}
    )
    same = ModelRequest(
        messages=(UserMessage(content="x"),), output_schema={"a": {"c": 3, "d": 2}, "b": 1}
    )
    assert request_hash(reordered) == request_hash(same)
    assert len(request_hash(same)) == 64
    # Pinned: a change here makes every recorded cassette diverge.
    assert request_hash(ask("hi")) == (
        "5239ca5d99b60cdbcc6126a6265b9d3419d82d0f94c8cdbf4cfcfc20c87ad5ef"
    )


def test_an_empty_cassette_replays_nothing(tmp_path: Path) -> None:
    path = tmp_path / "empty.jsonl"
    path.write_text("\n")
    replay = ReplayModel(path)
    assert replay.name == "replay:empty"
    assert replay.remaining == 0


def test_unreadable_cassettes_are_config_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read cassette"):
        ReplayModel(tmp_path / "missing.jsonl")
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"index": 0}\n')
    with pytest.raises(ConfigError, match="not a cassette exchange") as caught:
        ReplayModel(bad)
    assert caught.value.line == 1
