"""The mandatory requirements of A2A 1.0, checked with raw HTTP, independent of any A2A SDK.

Each test names the spec section it checks (a2a-protocol.org, specification 1.0); the
requirement ids in brackets are the A2A TCK's names for the same rule. `docs/a2a.md` lists
what is covered here and what Podium does not offer.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.a2a.conftest import Serve

V1 = {"A2A-Version": "1.0"}
TERMINAL = {
    "TASK_STATE_COMPLETED",
    "TASK_STATE_FAILED",
    "TASK_STATE_CANCELED",
    "TASK_STATE_REJECTED",
}


def message(text: str, message_id: str = "m-1", **fields: Any) -> dict[str, Any]:
    return {"messageId": message_id, "role": "ROLE_USER", "parts": [{"text": text}], **fields}


def post(url: str, body: Any, headers: dict[str, str] | None = None) -> httpx.Response:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    headers = {"Content-Type": "application/json", **(V1 if headers is None else headers)}
    return httpx.post(f"{url}/", content=data, headers=headers, timeout=30)


def rpc(url: str, method: str, params: dict[str, Any], **options: Any) -> dict[str, Any]:
    """One JSON-RPC call's response object (`options`: ``id``, ``headers``)."""
    body = {"jsonrpc": "2.0", "id": options.get("id", 1), "method": method, "params": params}
    reply = post(url, body, options.get("headers"))
    assert reply.status_code == 200
    out: dict[str, Any] = reply.json()
    return out


def error_code(reply: dict[str, Any]) -> int:
    assert "result" not in reply, reply
    code: int = reply["error"]["code"]
    return code


def send(url: str, text: str, message_id: str = "m-1", **config: Any) -> dict[str, Any]:
    """A blocking (unless told) SendMessage; the task it returns."""
    params: dict[str, Any] = {"message": message(text, message_id)}
    if config:
        params["configuration"] = config
    task: dict[str, Any] = rpc(url, "SendMessage", params)["result"]["task"]
    return task


def events(reply: httpx.Response) -> list[Any]:
    """The JSON payloads of a server-sent event stream."""
    return [json.loads(line[5:]) for line in reply.text.splitlines() if line.startswith("data:")]


# -- the agent card (§8.2, §4.4.1) ------------------------------------------------------------


def test_the_card_is_json_at_the_well_known_path_with_the_required_fields(
    a2a_server: Serve,
) -> None:
    """[CARD] §8.2: the card at /.well-known/agent-card.json; its required fields (§4.4.1)."""
    served = a2a_server("shout")
    reply = httpx.get(f"{served.url}/.well-known/agent-card.json", timeout=30)
    assert reply.status_code == 200
    assert reply.headers["content-type"].startswith("application/json")
    card = reply.json()
    for field in ("name", "description", "version", "defaultInputModes", "defaultOutputModes"):
        assert card[field], field
    assert isinstance(card["capabilities"], dict)
    bindings = {i["protocolBinding"]: i for i in card["supportedInterfaces"]}
    assert set(bindings) == {"JSONRPC", "HTTP+JSON"}
    for interface in bindings.values():
        assert interface["url"].startswith(served.url)
        assert interface["protocolVersion"] == "1.0"  # Major.Minor, no patch (§3.6)
    for skill in card["skills"]:
        assert all(skill[field] for field in ("id", "name", "description", "tags")), skill


# -- the JSON-RPC 2.0 envelope (§9) -----------------------------------------------------------


@pytest.mark.parametrize("request_id", [7, "req-7"])
def test_a_response_echoes_the_id_and_says_jsonrpc_2_0(
    a2a_server: Serve, request_id: int | str
) -> None:
    """JSON-RPC 2.0 §5: ``jsonrpc: "2.0"``, the request's id, exactly one of result/error."""
    served = a2a_server("shout")
    ok = rpc(served.url, "SendMessage", {"message": message("hi")}, id=request_id)
    failed = rpc(served.url, "GetTask", {"id": "nope"}, id=request_id)
    for reply in (ok, failed):
        assert reply["jsonrpc"] == "2.0"
        assert reply["id"] == request_id
        assert ("result" in reply) != ("error" in reply)
    assert isinstance(failed["error"]["code"], int)
    assert isinstance(failed["error"]["message"], str)


def test_json_that_does_not_parse_is_a_parse_error_with_a_null_id(a2a_server: Serve) -> None:
    """JSON-RPC 2.0 §5.1: -32700, id null."""
    served = a2a_server("shout")
    reply = post(served.url, b'{"jsonrpc": "2.0", "id": 1, "method": ').json()
    assert error_code(reply) == -32700
    assert reply["id"] is None


@pytest.mark.parametrize(
    "body",
    [
        {"id": 1, "method": "GetTask", "params": {"id": "x"}},  # no jsonrpc
        {"jsonrpc": "1.0", "id": 1, "method": "GetTask", "params": {"id": "x"}},
        {"jsonrpc": "2.0", "id": 1, "method": 5},  # a method that is not a string
        {"jsonrpc": "2.0", "id": 1},  # no method
        [],  # an empty batch
    ],
    ids=["no-jsonrpc", "jsonrpc-1.0", "method-not-string", "no-method", "empty-batch"],
)
def test_a_malformed_request_object_is_an_invalid_request(a2a_server: Serve, body: Any) -> None:
    """JSON-RPC 2.0 §5.1: -32600."""
    served = a2a_server("shout")
    assert error_code(post(served.url, body).json()) == -32600


def test_an_unknown_method_is_method_not_found(a2a_server: Serve) -> None:
    """JSON-RPC 2.0 §5.1: -32601; a 0.3 name under A2A-Version 1.0 is unknown too (§3.6.2)."""
    served = a2a_server("shout")
    assert error_code(rpc(served.url, "NoSuchMethod", {})) == -32601
    assert error_code(rpc(served.url, "tasks/get", {"id": "x"})) == -32601


@pytest.mark.parametrize(
    ("method", "params"),
    [
        ("GetTask", {"id": 5}),  # a number where a string belongs
        ("SendMessage", {}),  # no message
        ("SendMessage", {"message": {"role": "ROLE_USER", "parts": [{"text": "x"}]}}),  # no id
        ("ListTasks", {"pageSize": 0}),
        ("GetTask", {"id": "x", "historyLength": -1}),
    ],
    ids=["wrong-type", "no-message", "no-message-id", "page-size-0", "negative-history"],
)
def test_bad_params_are_invalid_params(
    a2a_server: Serve, method: str, params: dict[str, Any]
) -> None:
    """JSON-RPC 2.0 §5.1: -32602; §3.3.2: servers validate input before processing."""
    served = a2a_server("shout")
    assert error_code(rpc(served.url, method, params)) == -32602


# -- SendMessage, GetTask, CancelTask (§3.1) ---------------------------------------------------


def test_send_message_returns_a_task_with_its_required_fields(a2a_server: Serve) -> None:
    """[CORE-SEND-001, CORE-MULTI-001a, CORE-MULTI-003] §3.1.1, §3.4: a Task with a unique
    id, a context id and a status; blocking by default, so it has ended (§3.2.2)."""
    served = a2a_server("shout")
    first = send(served.url, "hello")
    second = send(served.url, "hello", "m-2")
    for task in (first, second):
        assert task["id"]
        assert task["contextId"]
        assert task["status"]["state"] == "TASK_STATE_COMPLETED"
        assert task["status"]["timestamp"]
        assert task["history"][0]["messageId"] in {"m-1", "m-2"}
    assert first["id"] != second["id"]
    assert first["artifacts"][0]["parts"] == [{"text": "HELLO"}]


def test_a_client_context_id_is_kept(a2a_server: Serve) -> None:
    """[CORE-MULTI-002] §3.4.1: the server may keep the client's context id; Podium does."""
    served = a2a_server("shout")
    params = {"message": message("hi", contextId="ctx-1")}
    task = rpc(served.url, "SendMessage", params)["result"]["task"]
    assert task["contextId"] == "ctx-1"


def test_return_immediately_answers_while_the_task_works(a2a_server: Serve, tmp_path: Path) -> None:
    """[CORE-EXECUTION-MODE-002] §3.2.2: ``returnImmediately`` returns a task not yet ended;
    without it the call waits for the end [CORE-EXECUTION-MODE-001]."""
    served = a2a_server("slow")
    task = send(served.url, "later", returnImmediately=True)
    assert task["status"]["state"] == "TASK_STATE_WORKING"
    (tmp_path / "gate").touch()
    assert send(served.url, "now", "m-2")["status"]["state"] == "TASK_STATE_COMPLETED"


def test_get_task_returns_the_task_and_an_unknown_id_is_task_not_found(
    a2a_server: Serve,
) -> None:
    """[CORE-GET-001, CORE-GET-002] §3.1.3: GetTask; -32001 for an id it does not know."""
    served = a2a_server("shout")
    task = send(served.url, "hello")
    got = rpc(served.url, "GetTask", {"id": task["id"]})["result"]
    assert got["id"] == task["id"]
    assert got["status"]["state"] == "TASK_STATE_COMPLETED"
    assert got["artifacts"] == task["artifacts"]
    reply = rpc(served.url, "GetTask", {"id": "no-such-task"})
    assert error_code(reply) == -32001
    assert reply["error"]["data"][0]["reason"] == "TASK_NOT_FOUND"


def test_history_length_bounds_the_history(a2a_server: Serve) -> None:
    """[CORE-HIST-001..003] §3.2.4: never more messages than ``historyLength``; 0 omits the
    history (on GetTask and on SendMessage); unset returns all of it."""
    served = a2a_server("gated")
    task = send(served.url, "careful")
    answer = {"message": message("approve fine", "m-2", taskId=task["id"])}
    rpc(served.url, "SendMessage", answer)
    full = rpc(served.url, "GetTask", {"id": task["id"]})["result"]["history"]
    assert len(full) >= 2
    assert full[0]["messageId"] == "m-1"
    for length in range(len(full) + 1):
        got = rpc(served.url, "GetTask", {"id": task["id"], "historyLength": length})["result"]
        assert got.get("history", []) == full[len(full) - length :]
    assert "history" not in send(served.url, "quiet", "m-3", historyLength=0)


def test_cancel_task_cancels_a_working_task_and_refuses_an_ended_one(
    a2a_server: Serve,
) -> None:
    """[CORE-CANCEL-001..003] §3.1.5: the canceled task back; -32002 once it has ended;
    -32001 for an unknown id."""
    served = a2a_server("slow")
    task = send(served.url, "later", returnImmediately=True)
    canceled = rpc(served.url, "CancelTask", {"id": task["id"]})["result"]
    assert canceled["status"]["state"] == "TASK_STATE_CANCELED"
    assert error_code(rpc(served.url, "CancelTask", {"id": task["id"]})) == -32002
    assert error_code(rpc(served.url, "CancelTask", {"id": "no-such-task"})) == -32001


def test_a_message_to_an_ended_or_unknown_task_is_refused(a2a_server: Serve) -> None:
    """[CORE-SEND-002, CORE-MULTI-004] §3.1.1, §3.4.2: -32004 for an ended task, -32001 for
    a task id the server does not know."""
    served = a2a_server("shout")
    task = send(served.url, "hello")
    again = {"message": message("more", "m-2", taskId=task["id"])}
    assert error_code(rpc(served.url, "SendMessage", again)) == -32004
    unknown = {"message": message("more", "m-3", taskId="no-such-task")}
    assert error_code(rpc(served.url, "SendMessage", unknown)) == -32001


def test_a_task_id_infers_its_context_and_a_mismatched_context_is_refused(
    a2a_server: Serve,
) -> None:
    """[CORE-MULTI-005, CORE-MULTI-006] §3.4.3: a message with only a task id continues in
    the task's context; one whose context id is not the task's is rejected."""
    served = a2a_server("gated")
    params = {"message": message("careful", contextId="ctx-a")}
    task = rpc(served.url, "SendMessage", params)["result"]["task"]
    assert task["status"]["state"] == "TASK_STATE_INPUT_REQUIRED"
    wrong = {"message": message("approve", "m-2", taskId=task["id"], contextId="ctx-b")}
    assert error_code(rpc(served.url, "SendMessage", wrong)) == -32602
    state = rpc(served.url, "GetTask", {"id": task["id"]})["result"]["status"]["state"]
    assert state == "TASK_STATE_INPUT_REQUIRED"  # the refused answer decided nothing
    right = {"message": message("approve", "m-3", taskId=task["id"])}
    answered = rpc(served.url, "SendMessage", right)["result"]["task"]
    assert answered["contextId"] == "ctx-a"
    assert answered["status"]["state"] == "TASK_STATE_COMPLETED"


@pytest.mark.parametrize(
    "part",
    [
        {"raw": "aGk=", "mediaType": "image/png"},
        {"url": "https://example.com/a.pdf", "mediaType": "application/pdf"},
        {"text": "hi", "mediaType": "application/x-unknown"},
    ],
    ids=["raw", "url", "odd-text"],
)
def test_an_unsupported_media_type_is_content_type_not_supported(
    a2a_server: Serve, part: dict[str, Any]
) -> None:
    """[CORE-SEND-003] §3.1.1: -32005 over JSON-RPC, 415 over HTTP+JSON (§5.4)."""
    served = a2a_server("shout")
    body = {"message": {"messageId": "m-1", "role": "ROLE_USER", "parts": [part]}}
    assert error_code(rpc(served.url, "SendMessage", body)) == -32005
    rest = httpx.post(f"{served.url}/message:send", json=body, headers=V1, timeout=30)
    assert rest.status_code == 415
    assert rest.json()["error"]["details"][0]["reason"] == "CONTENT_TYPE_NOT_SUPPORTED"


@pytest.mark.parametrize("media", ["", "text/plain", "text/markdown; charset=utf-8"])
def test_text_of_any_text_media_type_is_read(a2a_server: Serve, media: str) -> None:
    """§3.1.1: the refusal above is for media the agent cannot read, not for text."""
    served = a2a_server("shout")
    part = {"text": "plain words", "mediaType": media}
    body = {"message": {"messageId": "m-1", "role": "ROLE_USER", "parts": [part]}}
    task = rpc(served.url, "SendMessage", body)["result"]["task"]
    assert task["artifacts"][0]["parts"] == [{"text": "PLAIN WORDS"}]


# -- ListTasks (§3.1.4) -----------------------------------------------------------------------


def test_list_tasks_sorts_newest_first_and_pages_with_a_cursor(a2a_server: Serve) -> None:
    """[CORE-LIST-002..005] §3.1.4: newest status first; ``nextPageToken`` always present and
    empty on the last page; artifacts only with ``includeArtifacts``."""
    served = a2a_server("shout")
    ids = [send(served.url, f"n{i}", f"m{i}")["id"] for i in range(3)]
    seen: list[dict[str, Any]] = []
    token = ""
    for _ in range(3):
        page = rpc(served.url, "ListTasks", {"pageSize": 2, "pageToken": token})["result"]
        assert page["totalSize"] == 3
        assert all("artifacts" not in t for t in page["tasks"])
        seen += page["tasks"]
        token = page["nextPageToken"]
        if not token:
            break
    assert token == ""
    assert [t["id"] for t in seen] == ids[::-1]
    stamps = [t["status"]["timestamp"] for t in seen]
    assert stamps == sorted(stamps, reverse=True)
    full = rpc(served.url, "ListTasks", {"includeArtifacts": True})["result"]["tasks"]
    assert all(t["artifacts"] for t in full)


# -- what the card says is not offered (§3.3.4) -------------------------------------------------


@pytest.mark.parametrize(
    ("method", "params"),
    [
        ("CreateTaskPushNotificationConfig", {"taskId": "x", "url": "https://example.com/hook"}),
        ("GetTaskPushNotificationConfig", {"taskId": "x", "id": "y"}),
        ("ListTaskPushNotificationConfigs", {"taskId": "x"}),
        ("DeleteTaskPushNotificationConfig", {"taskId": "x", "id": "y"}),
    ],
)
def test_push_notifications_are_not_supported(
    a2a_server: Serve, method: str, params: dict[str, Any]
) -> None:
    """[CORE-CAP-001] §3.3.4: the card says ``pushNotifications: false``, so -32003."""
    served = a2a_server("shout")
    card = httpx.get(f"{served.url}/.well-known/agent-card.json", timeout=30).json()
    assert card["capabilities"].get("pushNotifications", False) is False
    assert error_code(rpc(served.url, method, params)) == -32003


def test_the_extended_card_is_an_unsupported_operation(a2a_server: Serve) -> None:
    """[CORE-CAP-003] §3.3.4: without ``capabilities.extendedAgentCard``, -32004."""
    served = a2a_server("shout")
    card = httpx.get(f"{served.url}/.well-known/agent-card.json", timeout=30).json()
    assert not card["capabilities"].get("extendedAgentCard")
    assert error_code(rpc(served.url, "GetExtendedAgentCard", {})) == -32004
    rest = httpx.get(f"{served.url}/extendedAgentCard", headers=V1, timeout=30)
    assert rest.status_code == 400
    assert rest.json()["error"]["details"][0]["reason"] == "UNSUPPORTED_OPERATION"


# -- streaming (§3.1.2, §3.1.6, §9.4, §11.7) --------------------------------------------------


def test_a_json_rpc_stream_is_server_sent_events_of_json_rpc_responses(
    a2a_server: Serve,
) -> None:
    """[CORE-STREAM-001, CORE-STREAM-003] §3.1.2, §9.4: ``text/event-stream``; every event a
    JSON-RPC response with the request's id; the Task first, the stream ends at the end."""
    served = a2a_server("shout")
    body = {
        "jsonrpc": "2.0",
        "id": "s-1",
        "method": "SendStreamingMessage",
        "params": {"message": message("stream")},
    }
    reply = post(served.url, body)
    assert reply.status_code == 200
    assert reply.headers["content-type"].startswith("text/event-stream")
    sent = events(reply)
    assert sent
    assert all(e["jsonrpc"] == "2.0" and e["id"] == "s-1" and "result" in e for e in sent)
    results = [e["result"] for e in sent]
    assert "task" in results[0]
    last = results[-1].get("statusUpdate", results[-1].get("task"))
    assert last["status"]["state"] in TERMINAL


def test_a_rest_stream_is_server_sent_events_of_stream_responses(a2a_server: Serve) -> None:
    """[HTTP_JSON-SSE-001] §11.7: POST /message:stream; each event's data a StreamResponse."""
    served = a2a_server("shout")
    reply = httpx.post(
        f"{served.url}/message:stream", json={"message": message("x")}, headers=V1, timeout=30
    )
    assert reply.status_code == 200
    assert reply.headers["content-type"].startswith("text/event-stream")
    sent = events(reply)
    assert "task" in sent[0]
    kinds = {"task", "message", "statusUpdate", "artifactUpdate"}
    assert all(len(e) == 1 and next(iter(e)) in kinds for e in sent)


def test_subscribing_to_an_ended_task_is_an_unsupported_operation(a2a_server: Serve) -> None:
    """§3.1.6: SubscribeToTask on a task in a terminal state: -32004."""
    served = a2a_server("shout")
    task = send(served.url, "done")
    reply = post(
        served.url,
        {"jsonrpc": "2.0", "id": 3, "method": "SubscribeToTask", "params": {"id": task["id"]}},
    )
    assert error_code(reply.json()) == -32004


# -- the HTTP+JSON binding (§11) --------------------------------------------------------------


def test_rest_paths_methods_and_statuses(a2a_server: Serve) -> None:
    """[HTTP_JSON-URL-001/002, HTTP_JSON-QP-001, HTTP_JSON-STATUS-001] §11.3, §11.5, §5.4:
    the resource paths and verbs, camelCase query parameters, the spec's HTTP statuses."""
    served = a2a_server("slow")
    url = served.url

    def call(method: str, path: str, body: Any = None) -> httpx.Response:
        return httpx.request(method, f"{url}{path}", json=body, headers=V1, timeout=30)

    sent = call(
        "POST",
        "/message:send",
        {"message": message("x"), "configuration": {"returnImmediately": True}},
    )
    assert sent.status_code == 200
    task_id = sent.json()["task"]["id"]
    got = call("GET", f"/tasks/{task_id}?historyLength=0")
    assert got.status_code == 200
    assert got.json()["id"] == task_id
    assert "history" not in got.json()
    listed = call("GET", f"/tasks?pageSize=1&contextId={task_id}")
    assert [t["id"] for t in listed.json()["tasks"]] == [task_id]
    assert call("POST", f"/tasks/{task_id}:cancel", {}).status_code == 200
    again = call("POST", f"/tasks/{task_id}:cancel", {})
    assert again.status_code == 409  # TaskNotCancelableError
    assert call("GET", "/tasks/no-such-task").status_code == 404  # TaskNotFoundError
    assert (
        call("POST", "/tasks/x/pushNotificationConfigs", {"url": "https://e.x"}).status_code == 400
    )


def test_rest_errors_are_aip_193_with_an_error_info(a2a_server: Serve) -> None:
    """[HTTP_JSON-ERR-001/002] §11.6: ``{"error": {code, status, message, details}}`` with a
    google.rpc.ErrorInfo whose reason is UPPER_SNAKE_CASE and domain a2a-protocol.org."""
    served = a2a_server("shout")
    reply = httpx.get(f"{served.url}/tasks/no-such-task", headers=V1, timeout=30)
    error = reply.json()["error"]
    assert error["code"] == reply.status_code == 404
    assert error["status"] == "NOT_FOUND"
    assert "no-such-task" in error["message"]
    [info] = error["details"]
    assert info["@type"] == "type.googleapis.com/google.rpc.ErrorInfo"
    assert info["reason"] == "TASK_NOT_FOUND"
    assert info["domain"] == "a2a-protocol.org"


# -- versions (§3.6) --------------------------------------------------------------------------


def test_a2a_version_1_0_with_or_without_a_patch_is_served(a2a_server: Serve) -> None:
    """[VER-SERVER-001, VER-CLIENT-002] §3.6: 1.0 is served; a patch number changes nothing."""
    served = a2a_server("shout")
    for version in ("1.0", "1.0.3"):
        reply = rpc(
            served.url, "SendMessage", {"message": message("v")}, headers={"A2A-Version": version}
        )
        assert reply["result"]["task"]["status"]["state"] == "TASK_STATE_COMPLETED"


def test_an_unsupported_version_is_version_not_supported(a2a_server: Serve) -> None:
    """[VER-SERVER-002] §3.6.2: -32009 over JSON-RPC (1.0 and 0.3 methods), 400 over REST."""
    served = a2a_server("shout")
    bad = {"A2A-Version": "99.0"}
    assert (
        error_code(rpc(served.url, "SendMessage", {"message": message("v")}, headers=bad)) == -32009
    )
    assert error_code(rpc(served.url, "tasks/get", {"id": "x"}, headers=bad)) == -32009
    rest = httpx.get(f"{served.url}/tasks/x", headers=bad, timeout=30)
    assert rest.status_code == 400
    assert rest.json()["error"]["details"][0]["reason"] == "VERSION_NOT_SUPPORTED"


@pytest.mark.parametrize("headers", [{}, {"A2A-Version": ""}], ids=["missing", "empty"])
def test_a_missing_or_empty_version_is_0_3(a2a_server: Serve, headers: dict[str, str]) -> None:
    """[VER-SERVER-003] §3.6.2: no version (or an empty one) means 0.3: a 0.3 method is served
    in 0.3 shapes. A method only 1.0 has is served as 1.0 (Podium's choice: it has no 0.3
    meaning, and clients that leave the header out would otherwise be refused)."""
    served = a2a_server("shout")
    old = {
        "message": {
            "messageId": "o",
            "role": "user",
            "kind": "message",
            "parts": [{"kind": "text", "text": "x"}],
        }
    }
    v03 = rpc(served.url, "message/send", old, headers=headers)["result"]
    assert v03["kind"] == "task"
    assert v03["status"]["state"] == "completed"
    v1 = rpc(served.url, "SendMessage", {"message": message("y")}, headers=headers)
    assert v1["result"]["task"]["status"]["state"] == "TASK_STATE_COMPLETED"
    rest = httpx.get(f"{served.url}/tasks/{v03['id']}", headers=headers, timeout=30)
    assert rest.status_code == 200
    assert rest.json()["status"]["state"] == "TASK_STATE_COMPLETED"
