"""`podium a2a serve` over real HTTP, with the A2A SDK's own client and raw requests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from a2a.client import ClientConfig, create_client
from a2a.types import (
    CancelTaskRequest,
    GetTaskRequest,
    ListTasksRequest,
    Message,
    Part,
    Role,
    SendMessageConfiguration,
    SendMessageRequest,
    SubscribeToTaskRequest,
    Task,
    TaskState,
)

from podium.server import AuthConfig, Principal, token_digest
from podium.store import open_store
from tests.a2a.conftest import Serve

pytestmark = pytest.mark.anyio
V1 = {"A2A-Version": "1.0"}


def msg(text: str, *, task_id: str = "", message_id: str = "m-1") -> Message:
    return Message(
        message_id=message_id, role=Role.ROLE_USER, parts=[Part(text=text)], task_id=task_id
    )


async def send(url: str, message: Message, *, stream: bool = False, **config: Any) -> list[Any]:
    """Every response of one send (a streaming one when `stream`)."""
    async with httpx.AsyncClient(timeout=30) as hc:
        client = await create_client(url, ClientConfig(httpx_client=hc, streaming=stream))
        request = SendMessageRequest(
            message=message, configuration=SendMessageConfiguration(**config)
        )
        return [r async for r in client.send_message(request)]


async def get_json(url: str) -> Any:
    async with httpx.AsyncClient(timeout=30) as hc:
        return (await hc.get(url)).json()


async def post(
    url: str, body: dict[str, Any], headers: dict[str, str] | None = None
) -> httpx.Response:
    async with httpx.AsyncClient(timeout=30) as hc:
        return await hc.post(url, json=body, headers=headers or {})


async def call(url: str, method: str, request: Any) -> Any:
    async with httpx.AsyncClient(timeout=30) as hc:
        client = await create_client(url, ClientConfig(httpx_client=hc))
        return await getattr(client, method)(request)


async def test_the_card_describes_the_workflow(a2a_server: Serve) -> None:
    served = a2a_server("shout")
    card = await get_json(f"{served.url}/.well-known/agent-card.json")
    assert card["name"] == "shout"
    assert card["skills"][0]["tags"] == ["counting", "shouting"]
    assert {i["protocolBinding"] for i in card["supportedInterfaces"]} == {"JSONRPC", "HTTP+JSON"}
    assert card["capabilities"]["streaming"] is True
    assert "securitySchemes" not in card


async def test_a_team_offers_a_skill_per_agent_and_runs_the_message_as_a_goal(
    a2a_server: Serve,
) -> None:
    served = a2a_server("team")
    card = await get_json(f"{served.url}/.well-known/agent-card.json")
    assert [s["id"] for s in card["skills"]] == ["shouter", "counter"]


async def test_a_blocking_send_returns_the_completed_task_with_its_output(
    a2a_server: Serve,
) -> None:
    served = a2a_server("shout")
    [response] = await send(served.url, msg("hello there"))
    task = response.task
    assert task.status.state == TaskState.TASK_STATE_COMPLETED
    assert task.artifacts[0].parts[0].text == "HELLO THERE"
    assert [m.message_id for m in task.history] == ["m-1"]
    # the task is the Podium run, in the store
    store = open_store(served.store_url)
    await store.open()
    try:
        info = await store.get_run(task.id)
        assert info is not None
        assert info.status == "succeeded"
        assert info.name == "shout"
    finally:
        await store.close()


async def test_streaming_sends_the_task_then_its_updates(a2a_server: Serve) -> None:
    served = a2a_server("shout")
    responses = await send(served.url, msg("stream me"), stream=True)
    kinds = [r.WhichOneof("payload") for r in responses]
    assert kinds[0] == "task"
    assert kinds[-1] == "status_update"
    assert responses[-1].status_update.status.state == TaskState.TASK_STATE_COMPLETED
    artifacts = [r.artifact_update.artifact for r in responses if r.HasField("artifact_update")]
    assert artifacts
    assert artifacts[-1].parts[0].text == "STREAM ME"


async def test_get_and_list_honour_history_length_filters_and_pages(a2a_server: Serve) -> None:
    served = a2a_server("shout")
    ids = []
    for i in range(3):
        [r] = await send(served.url, msg(f"n{i}", message_id=f"m{i}"))
        ids.append(r.task.id)
    got = await call(served.url, "get_task", GetTaskRequest(id=ids[0], history_length=0))
    assert got.id == ids[0]
    assert len(got.history) == 0
    got = await call(served.url, "get_task", GetTaskRequest(id=ids[0]))
    assert len(got.history) == 1
    first = await call(served.url, "list_tasks", ListTasksRequest(page_size=2))
    assert first.total_size == 3
    assert len(first.tasks) == 2
    assert first.next_page_token
    rest = await call(
        served.url, "list_tasks", ListTasksRequest(page_size=2, page_token=first.next_page_token)
    )
    assert {t.id for t in [*first.tasks, *rest.tasks]} == set(ids)
    assert not rest.next_page_token
    working = await call(
        served.url, "list_tasks", ListTasksRequest(status=TaskState.TASK_STATE_WORKING)
    )
    assert working.total_size == 0
    by_context = await call(served.url, "list_tasks", ListTasksRequest(context_id=ids[1]))
    assert [t.id for t in by_context.tasks] == [ids[1]]


async def test_an_unknown_task_is_not_found(a2a_server: Serve) -> None:
    served = a2a_server("shout")
    body = {"jsonrpc": "2.0", "id": 1, "method": "GetTask", "params": {"id": "nope"}}
    r = await post(f"{served.url}/", body, V1)
    assert r.json()["error"]["code"] == -32001


async def test_an_approval_is_input_required_and_a_reply_decides_it(a2a_server: Serve) -> None:
    served = a2a_server("gated")
    [r] = await send(served.url, msg("careful"))
    task = r.task
    assert task.status.state == TaskState.TASK_STATE_INPUT_REQUIRED
    assert "approve" in task.status.message.parts[0].text
    [r] = await send(served.url, msg("approve looks fine", task_id=task.id, message_id="m-2"))
    assert r.task.status.state == TaskState.TASK_STATE_COMPLETED
    assert r.task.artifacts[0].parts[0].text == "CAREFUL"
    texts = [m.parts[0].text for m in r.task.history]
    assert texts[0] == "careful"
    assert texts[-1] == "approve looks fine"


async def test_a_rejection_ends_the_task_rejected(a2a_server: Serve) -> None:
    served = a2a_server("gated")
    [r] = await send(served.url, msg("risky"))
    [r] = await send(served.url, msg("reject no thanks", task_id=r.task.id, message_id="m-2"))
    assert r.task.status.state == TaskState.TASK_STATE_REJECTED
    for state, count in [
        (TaskState.TASK_STATE_REJECTED, 1),
        (TaskState.TASK_STATE_FAILED, 0),
        (TaskState.TASK_STATE_SUBMITTED, 0),  # a state no run is in
    ]:
        listed = await call(served.url, "list_tasks", ListTasksRequest(status=state))
        assert listed.total_size == count
    later = ListTasksRequest(status_timestamp_after=r.task.status.timestamp)
    assert (await call(served.url, "list_tasks", later)).total_size == 0


async def test_a_reply_that_decides_nothing_is_refused(a2a_server: Serve) -> None:
    served = a2a_server("gated")
    [r] = await send(served.url, msg("risky"))
    body = {
        "jsonrpc": "2.0",
        "id": 2,
        "method": "SendMessage",
        "params": {
            "message": {
                "messageId": "m-2",
                "taskId": r.task.id,
                "role": "ROLE_USER",
                "parts": [{"text": "maybe later"}],
            }
        },
    }
    reply = (await post(f"{served.url}/", body, V1)).json()
    assert reply["error"]["code"] == -32602
    got = await call(served.url, "get_task", GetTaskRequest(id=r.task.id))
    assert got.status.state == TaskState.TASK_STATE_INPUT_REQUIRED


async def test_cancel_ends_a_working_task_and_a_second_cancel_is_refused(
    a2a_server: Serve,
) -> None:
    served = a2a_server("slow")
    [r] = await send(served.url, msg("take your time"), return_immediately=True)
    assert r.task.status.state == TaskState.TASK_STATE_WORKING
    canceled = await call(served.url, "cancel_task", CancelTaskRequest(id=r.task.id))
    assert canceled.status.state == TaskState.TASK_STATE_CANCELED
    body = {"jsonrpc": "2.0", "id": 3, "method": "CancelTask", "params": {"id": r.task.id}}
    reply = (await post(f"{served.url}/", body, V1)).json()
    assert reply["error"]["code"] == -32002


async def test_subscribe_follows_a_live_task_to_its_end(a2a_server: Serve, tmp_path: Path) -> None:
    served = a2a_server("slow")
    [r] = await send(served.url, msg("later"), return_immediately=True)
    seen: list[Any] = []
    first = anyio.Event()

    async def follow() -> None:
        async with httpx.AsyncClient(timeout=30) as hc:
            client = await create_client(served.url, ClientConfig(httpx_client=hc))
            async for event in client.subscribe(SubscribeToTaskRequest(id=r.task.id)):
                seen.append(event)
                first.set()

    async with anyio.create_task_group() as tg:
        tg.start_soon(follow)
        await first.wait()
        (tmp_path / "gate").touch()
    assert seen[0].task.id == r.task.id
    assert seen[-1].status_update.status.state == TaskState.TASK_STATE_COMPLETED


async def test_tasks_survive_a_restart_of_the_server(a2a_server: Serve, tmp_path: Path) -> None:
    first = a2a_server("slow")
    [r] = await send(first.url, msg("survive"), return_immediately=True)
    first.stop()  # the run is interrupted, resumable
    second = a2a_server("slow", store=first.store_url)
    (tmp_path / "gate").touch()
    task: Task | None = None
    for _ in range(600):
        task = await call(second.url, "get_task", GetTaskRequest(id=r.task.id))
        if task.status.state == TaskState.TASK_STATE_COMPLETED:
            break
        await anyio.sleep(0.05)
    assert task is not None
    assert task.status.state == TaskState.TASK_STATE_COMPLETED
    assert task.artifacts[0].parts[0].text == "slow: survive"
    assert task.history[0].parts[0].text == "survive"


async def _raw_send(url: str, method: str, headers: dict[str, str]) -> dict[str, Any]:
    message: dict[str, Any] = {"messageId": "raw", "role": "ROLE_USER", "parts": [{"text": "hi"}]}
    if method == "message/send":
        message = {
            "messageId": "raw",
            "role": "user",
            "kind": "message",
            "parts": [{"kind": "text", "text": "hi"}],
        }
    body = {"jsonrpc": "2.0", "id": 9, "method": method, "params": {"message": message}}
    out: dict[str, Any] = (await post(f"{url}/", body, headers)).json()
    return out


async def test_version_header_rules_on_json_rpc(a2a_server: Serve) -> None:
    served = a2a_server("shout")
    # 1.0 method with the header: served
    assert (await _raw_send(served.url, "SendMessage", V1))["result"]["task"]["status"][
        "state"
    ] == ("TASK_STATE_COMPLETED")
    # no header means 0.3 (spec 3.6.2): a 0.3 method is served in 0.3 shapes
    old = await _raw_send(served.url, "message/send", {})
    assert old["result"]["kind"] == "task"
    assert old["result"]["status"]["state"] == "completed"
    # no header, a method only 1.0 has: served as 1.0
    assert "result" in await _raw_send(served.url, "SendMessage", {})
    # a version this server does not speak: refused
    assert (await _raw_send(served.url, "SendMessage", {"A2A-Version": "9.0"}))["error"][
        "code"
    ] == -32009
    # a 1.0 method under an explicit 0.3 header: refused
    assert (await _raw_send(served.url, "SendMessage", {"A2A-Version": "0.3"}))["error"][
        "code"
    ] == -32009


async def test_version_header_rules_on_rest(a2a_server: Serve) -> None:
    served = a2a_server("shout")
    body = {"message": {"messageId": "r", "role": "ROLE_USER", "parts": [{"text": "rest"}]}}
    ok = await post(f"{served.url}/message:send", body)
    assert ok.status_code == 200
    assert ok.json()["task"]["status"]["state"] == "TASK_STATE_COMPLETED"
    bad = await post(f"{served.url}/message:send", body, {"A2A-Version": "9.0"})
    assert bad.status_code == 400


async def test_with_tokens_the_card_declares_bearer_and_calls_need_a_token(
    a2a_server: Serve,
) -> None:
    auth = AuthConfig(
        [
            (token_digest("op-token"), Principal("olga", ("operator", "approver"))),
            (token_digest("view-token"), Principal("vic", ("viewer",))),
        ]
    )
    served = a2a_server("shout", auth=auth)
    card = await get_json(f"{served.url}/.well-known/agent-card.json")
    assert card["securitySchemes"]["bearer"]["httpAuthSecurityScheme"]["scheme"] == "Bearer"
    assert card["securityRequirements"] == [{"schemes": {"bearer": {}}}]
    assert await _raw_send(served.url, "SendMessage", V1) == {
        "error": "unauthorized: send Authorization: Bearer <token>"
    }
    viewer = await _raw_send(
        served.url, "SendMessage", {**V1, "Authorization": "Bearer view-token"}
    )
    assert "may not operate" in viewer["error"]["message"]
    ok = await _raw_send(served.url, "SendMessage", {**V1, "Authorization": "Bearer op-token"})
    assert ok["result"]["task"]["status"]["state"] == "TASK_STATE_COMPLETED"
