"""``use: openapi`` in a workflow file: an agent lists orders, and deleting one (declared
irreversible) waits for a person's approval of that exact call."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from pathlib import Path

import msgspec
import pytest

from podium import Orchestrator
from podium.events import ToolCalled
from podium.exceptions import PlanValidationError
from podium.models import ModelRequest, ModelResponse, ToolCall, ToolResultMessage
from podium.plan import Workflow, load_workflow
from podium.testing import FunctionModel
from tests.tools.data.openapi.orders_app import TOKEN, Orders, ServerThread

pytestmark = pytest.mark.anyio

ORDERS = Path(__file__).parent / "data" / "openapi" / "orders.yaml"


def workflow_text(port: int, document: str = str(ORDERS)) -> str:
    return f"""\
name: tidy-orders
tools:
  shop:
    use: openapi
    with:
      document: {json.dumps(document)}
      base_url: http://127.0.0.1:{port}
      allow_hosts: ["127.0.0.1:{port}"]
      auth: {{bearer_env: ORDERS_TOKEN}}
      operations: [listOrders, deleteOrder]
      effects: {{deleteOrder: irreversible}}
agents:
  clerk:
    model: test
    tools: [shop_listOrders, shop_deleteOrder]
tasks:
  - id: tidy
    agent: clerk
    instruction: delete the shipped orders
"""


def clerk() -> FunctionModel:
    """Lists the shipped orders, deletes the first, then says what it did."""

    def answer(request: ModelRequest) -> ModelResponse | str:
        results = [m for m in request.messages if isinstance(m, ToolResultMessage)]
        if not results:
            listing = ToolCall(id="c1", name="shop_listOrders", arguments={"status": "shipped"})
            return ModelResponse(tool_calls=(listing,))
        if len(results) == 1:
            [first, *_] = json.loads(results[0].content)["body"]
            delete = ToolCall(id="c2", name="shop_deleteOrder", arguments={"orderId": first["id"]})
            return ModelResponse(tool_calls=(delete,))
        return f"deleted: {results[-1].content}"

    return FunctionModel(answer)


@pytest.fixture
def shop(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[int, Orders]]:
    monkeypatch.setenv("ORDERS_TOKEN", TOKEN)
    state = Orders()
    state.orders = {
        "o1": {"id": "o1", "status": "shipped", "item": "lamp", "quantity": 1},
        "o2": {"id": "o2", "status": "open", "item": "desk", "quantity": 1},
    }
    server = ServerThread(state)
    port = server.start()
    try:
        yield port, state
    finally:
        server.stop()


def with_model(workflow: Workflow, model: FunctionModel) -> Workflow:
    agents = tuple(dataclasses.replace(a, model=model) for a in workflow.agents)
    return dataclasses.replace(workflow, agents=agents)


async def test_an_irreversible_delete_waits_for_approval(
    shop: tuple[int, Orders], tmp_path: Path
) -> None:
    port, state = shop
    path = tmp_path / "tidy.yaml"
    path.write_text(workflow_text(port), encoding="utf-8")
    loaded = load_workflow(path)
    [agent] = loaded.agents
    assert [(t.name, t.effect) for t in agent.tools] == [
        ("shop_listOrders", "read"),
        ("shop_deleteOrder", "irreversible"),
    ]
    wf = with_model(loaded, clerk())
    async with Orchestrator(store="memory://") as orch:
        parked = await orch.run(wf)
        assert parked.status == "waiting"
        assert set(state.orders) == {"o1", "o2"}  # nothing deleted yet
        [pending] = await orch.approvals()
        assert (pending.tool, pending.arguments) == ("shop_deleteOrder", {"orderId": "o1"})
        done = await orch.approve(parked.run_id, by="ann", workflow=wf)
        events = await orch.events(parked.run_id)
    assert done.status == "succeeded"
    assert done.output == 'deleted: {"status": 204, "body": null}'
    assert set(state.orders) == {"o2"}
    deletes = [r for r in state.seen if r["method"] == "DELETE"]
    assert [r["raw_path"] for r in deletes] == ["/orders/o1"]  # once, after the approval
    assert {r["headers"]["authorization"] for r in state.seen} == {f"Bearer {TOKEN}"}
    calls = [e for e in events if isinstance(e, ToolCalled)]
    assert [(c.tool, c.effect, c.error) for c in calls][-1] == (
        "shop_deleteOrder",
        "irreversible",
        None,
    )
    journal = b"".join(msgspec.json.encode(e) for e in events)
    assert TOKEN.encode() not in journal  # the secret is nowhere in the run's record


def test_a_broken_document_is_reported_at_the_entry(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text(
        ORDERS.read_text(encoding="utf-8").replace("schemas/NewOrder", "schemas/NewOrdr"),
        encoding="utf-8",
    )
    path = tmp_path / "tidy.yaml"
    text = workflow_text(9, str(broken)).replace("[listOrders, deleteOrder]", "[createOrder]")
    path.write_text(text.replace("shop_listOrders, shop_deleteOrder", "shop"), encoding="utf-8")
    with pytest.raises(PlanValidationError) as info:
        load_workflow(path)
    [problem] = info.value.problems
    assert (problem.line, problem.where) == (5, "tools.shop.with")  # the `with:` line
    assert problem.message == (
        f"{broken}: at #/paths/~1orders/post/requestBody/content/application~1json/schema:"
        " $ref '#/components/schemas/NewOrdr' points nowhere (no 'NewOrdr')"
    )
