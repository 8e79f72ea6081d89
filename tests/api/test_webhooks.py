"""Webhooks end to end on a real host: signed hooks in, Event Grid in, signed callbacks out."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from convergio.api._eventgrid import sign_cloud_event
from convergio.webhooks import sign, verify
from tests._helpers import HostProcess
from tests.api.conftest import APP, Api, new_key
from tests.providers._servers import LoopbackServer

GRAPHS = {
    "echo": {"name": "echo", "agents": [{"id": "a", "prompt": "echo {{ input.word }}"}], "output": "a"},
    "approval": {
        "name": "approval",
        "agents": [
            {"id": "draft", "prompt": "draft {{ input.word }}"},
            {
                "id": "publish",
                "depends_on": ["draft"],
                "await_event": {"name": "approval", "timeout_seconds": 600},
                "prompt": "publish ({{ event.comment | default('none') }}) {{ outputs.draft }}",
            },
        ],
        "output": "publish",
    },
}


class Receiver:
    """A callback receiver on loopback: answers 500 to the first ``failures`` posts, then 200."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.seen: list[tuple[dict[str, str], bytes]] = []
        self.lock = threading.Lock()
        self.app = Starlette(routes=[Route("/cb", self.handle, methods=["POST"])])

    async def handle(self, request: Request) -> Response:
        body = await request.body()
        with self.lock:
            self.seen.append((dict(request.headers), body))
            fail = len(self.seen) <= self.failures
        return JSONResponse({"ok": not fail}, status_code=500 if fail else 200)


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("hooks-home")


@pytest.fixture(scope="module")
def host(home: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[HostProcess]:
    graphs = tmp_path_factory.mktemp("hook-graphs")
    for name, spec in GRAPHS.items():
        (graphs / f"{name}.json").write_text(json.dumps(spec))
    env = {"CONVERGIO_GRAPHS_DIR": str(graphs), "CONVERGIO_WEBHOOK_BACKOFF_MS": "100"}
    with HostProcess(APP, home, env=env) as running:
        yield running


@pytest.fixture(scope="module")
def api(host: HostProcess, home: Path) -> Iterator[Api]:
    with Api(host.base_url, new_key(home, "Hooks School")) as client:
        yield client


def create_hook(api: Api, **body: Any) -> dict[str, Any]:
    answer = api.http.post("/hooks", json=body)
    assert answer.status_code == 201, answer.text
    return dict(answer.json())


def post_signed(
    api: Api, url: str, secret: str, payload: Any, *, delivery: str = "", at: float | None = None
) -> httpx.Response:
    body = json.dumps(payload).encode()
    stamp = int(time.time() if at is None else at)
    delivery = delivery or uuid.uuid4().hex
    headers = {
        "X-Convergio-Timestamp": str(stamp),
        "X-Convergio-Signature": sign(secret, stamp, delivery, body),
        "X-Convergio-Delivery": delivery,
        "content-type": "application/json",
    }
    return httpx.post(url, content=body, headers=headers, timeout=30)


def run_ids(api: Api) -> set[str]:
    return {r["id"] for r in api.http.get("/runs", params={"limit": 200}).json()["runs"]}


def test_a_signed_delivery_starts_a_run_with_the_body_as_input(api: Api) -> None:
    hook = create_hook(api, graph_ref="echo")
    assert hook["secret"].startswith("whsec_") and hook["url"].endswith(f"/hooks/{hook['id']}")
    listed = api.http.get("/hooks").json()["hooks"]
    assert [h["id"] for h in listed] == [hook["id"]] and "secret" not in listed[0]
    answer = post_signed(api, hook["url"], hook["secret"], {"word": "kiwi"})
    assert answer.status_code == 202, answer.text
    run = api.wait(answer.json()["id"])
    assert run["status"] == "Completed" and "kiwi" in json.dumps(run["output"])


@pytest.mark.parametrize(
    ("secret", "age", "reason"),
    [("whsec_wrong", 0, "bad_signature"), (None, 301, "stale_timestamp"), (None, -400, "stale_timestamp")],
)
def test_a_bad_signature_or_stale_timestamp_is_401_and_starts_nothing(
    api: Api, secret: str | None, age: int, reason: str
) -> None:
    hook = create_hook(api, graph_ref="echo")
    before = run_ids(api)
    answer = post_signed(api, hook["url"], secret or hook["secret"], {"word": "x"}, at=time.time() - age)
    assert answer.status_code == 401, answer.text
    assert answer.json()["error"]["details"] == [{"path": "headers", "message": reason}]
    assert hook["secret"] not in answer.text
    assert run_ids(api) == before


def test_missing_headers_are_named(api: Api) -> None:
    hook = create_hook(api, graph_ref="echo")
    answer = httpx.post(hook["url"], json={"word": "x"}, timeout=30)
    assert answer.status_code == 401
    assert answer.json()["error"]["message"].startswith("X-Convergio-Timestamp")


def test_a_replayed_delivery_starts_nothing_new_and_answers_the_first_run(api: Api) -> None:
    hook = create_hook(api, graph_ref="echo")
    first = post_signed(api, hook["url"], hook["secret"], {"word": "one"}, delivery="d-1")
    before = run_ids(api)
    again = post_signed(api, hook["url"], hook["secret"], {"word": "two"}, delivery="d-1")
    assert first.status_code == 202 and again.status_code == 200, again.text
    assert again.json()["id"] == first.json()["id"] and again.json()["replayed"] is True
    assert run_ids(api) == before
    other = post_signed(api, hook["url"], hook["secret"], {"word": "three"}, delivery="d-2")
    assert other.status_code == 202 and other.json()["id"] != first.json()["id"]


def test_a_captured_delivery_replayed_under_a_new_delivery_id_starts_nothing(api: Api) -> None:
    """Issue 18.7: the delivery id was not signed, so a captured request replayed within the
    tolerance under a fresh X-Convergio-Delivery started a second run."""
    hook = create_hook(api, graph_ref="echo")
    captured = post_signed(api, hook["url"], hook["secret"], {"word": "once"}, delivery="cap-1")
    assert captured.status_code == 202, captured.text
    request = captured.request
    before = run_ids(api)
    for other in ("cap-2", uuid.uuid4().hex):
        headers = dict(request.headers) | {"x-convergio-delivery": other}
        replay = httpx.post(hook["url"], content=request.content, headers=headers, timeout=30)
        assert replay.status_code == 401, replay.text
        assert replay.json()["error"]["details"] == [{"path": "headers", "message": "bad_signature"}]
    same = httpx.post(hook["url"], content=request.content, headers=dict(request.headers), timeout=30)
    assert same.status_code == 200 and same.json()["replayed"] is True, same.text
    assert run_ids(api) == before


def test_an_event_hook_raises_its_event_into_a_waiting_run(api: Api) -> None:
    hook = create_hook(api, graph_ref="approval", event="approval")
    run_id = api.start(run_input={"word": "memo"}, graph_ref="approval")
    api.wait_node(run_id, "publish", "awaiting_input")

    def waiting() -> list[str]:
        return [r["id"] for r in api.http.get("/runs", params={"waiting": "true"}).json()["runs"]]

    for _ in range(600):  # the run index hears of the wait from the orchestration, a moment later
        if run_id in waiting():
            break
        time.sleep(0.05)
    assert run_id in waiting()
    url = hook["url"].replace("{run_id}", run_id)
    answer = post_signed(api, url, hook["secret"], {"approved": True, "comment": "ship it"}, delivery="e-1")
    assert answer.status_code == 202, answer.text
    assert run_id not in waiting()  # the hook's answer is counted as the API's is
    run = api.wait(run_id)
    assert run["status"] == "Completed" and "ship it" in json.dumps(run["output"])
    again = post_signed(api, url, hook["secret"], {"approved": False}, delivery="e-1")
    assert again.status_code == 200 and again.json()["replayed"] is True


def test_hook_requests_are_checked(api: Api) -> None:
    unknown = api.http.post("/hooks", json={"graph_ref": "nope"})
    assert unknown.status_code == 400 and unknown.json()["error"]["details"][0]["path"] == "graph_ref"
    no_event = api.http.post("/hooks", json={"graph_ref": "echo", "event": "approval"})
    assert no_event.status_code == 400 and no_event.json()["error"]["details"][0]["path"] == "event"
    hook = create_hook(api, graph_ref="echo")
    assert api.http.delete(f"/hooks/{hook['id']}").status_code == 200
    gone = post_signed(api, hook["url"], hook["secret"], {"word": "x"})
    assert gone.status_code == 404


def event_grid_url(host: HostProcess, function: str = "hook_event") -> str:
    """The subscription endpoint Event Grid is given: the function and the extension's system key."""
    code = host.key("eventgrid_extension")
    return f"{host.base_url}/runtime/webhooks/eventgrid?functionName={function}&code={code}"


def cloud_event(hook_id: str, data: Any) -> dict[str, Any]:
    return {
        "specversion": "1.0",
        "id": uuid.uuid4().hex,
        "source": "/subscriptions/x/topics/school",
        "type": "school.lesson.requested",
        "subject": f"hooks/{hook_id}",
        "data": data,
    }


def test_event_grid_cloud_events_start_runs_once(api: Api, host: HostProcess) -> None:
    hook = create_hook(api, graph_ref="echo")
    event = sign_cloud_event(hook["secret"], cloud_event(hook["id"], {"word": "grid"}))
    before = run_ids(api)
    for _ in range(2):  # Event Grid delivers at least once
        answer = httpx.post(
            event_grid_url(host), json=event, headers={"aeg-event-type": "Notification"}, timeout=30
        )
        assert answer.status_code == 200, answer.text
    new = run_ids(api) - before
    assert len(new) == 1
    run = api.wait(new.pop())
    assert run["status"] == "Completed" and "grid" in json.dumps(run["output"])


def test_event_grid_starts_nothing_without_the_system_key_or_the_hook_signature(
    api: Api, host: HostProcess
) -> None:
    hook = create_hook(api, graph_ref="echo")
    notification = {"aeg-event-type": "Notification"}
    unkeyed = f"{host.base_url}/runtime/webhooks/eventgrid?functionName=hook_event"
    signed = sign_cloud_event(hook["secret"], cloud_event(hook["id"], {"word": "nokey"}))
    assert httpx.post(unkeyed, json=signed, headers=notification, timeout=30).status_code == 401
    forged = sign_cloud_event("whsec_wrong", cloud_event(hook["id"], {"word": "forged"}))
    tampered = {
        **sign_cloud_event(hook["secret"], cloud_event(hook["id"], {"word": "a"})),
        "data": {"word": "b"},
    }
    unsigned = cloud_event(hook["id"], {"word": "unsigned"})
    grid_schema = {"id": "1", "subject": f"hooks/{hook['id']}", "eventType": "t", "data": {"word": "x"}}
    before = run_ids(api)
    for event in (unsigned, forged, tampered, grid_schema):
        answer = httpx.post(event_grid_url(host), json=event, headers=notification, timeout=30)
        assert answer.status_code == 200, answer.text  # dropped: a retry could not help
    assert run_ids(api) == before


def test_run_events_are_delivered_signed_and_retried_until_the_receiver_takes_them(api: Api) -> None:
    receiver = Receiver(failures=2)
    with LoopbackServer(receiver.app) as server:
        created = api.http.post(
            "/callbacks", json={"url": f"{server.url}/cb", "events": ["run.completed", "run.failed"]}
        )
        assert created.status_code == 201, created.text
        callback = created.json()
        run_id = api.start(run_input={"word": "pear"}, graph_ref="echo")
        assert api.wait(run_id)["status"] == "Completed"
        deadline = time.monotonic() + 20
        deliveries: list[dict[str, Any]] = []
        while time.monotonic() < deadline:
            deliveries = api.http.get(f"/callbacks/{callback['id']}/deliveries").json()["deliveries"]
            if deliveries and deliveries[0]["status"] != "pending":
                break
            time.sleep(0.1)
        api.http.delete(f"/callbacks/{callback['id']}")
    (delivery,) = [d for d in deliveries if d["run_id"] == run_id]
    assert delivery["status"] == "delivered" and delivery["event"] == "run.completed"
    assert [a["status_code"] for a in delivery["attempts"]] == [500, 500, 200]
    assert len(receiver.seen) == 3
    ids = {headers["x-convergio-delivery"] for headers, _ in receiver.seen}
    assert ids == {delivery["id"]}
    for headers, body in receiver.seen:
        assert verify(callback["secret"], headers, body, now=time.time(), tolerance_s=300) == delivery["id"]
        event = json.loads(body)
        assert event["type"] == "run.completed" and event["run_id"] == run_id
    assert callback["secret"] not in json.dumps(deliveries)


def test_callback_urls_are_checked(api: Api) -> None:
    bad = api.http.post("/callbacks", json={"url": "http://example.com/cb", "events": ["run.completed"]})
    assert bad.status_code == 400 and bad.json()["error"]["details"][0]["path"] == "url"
    wrong = api.http.post("/callbacks", json={"url": "https://example.com/cb", "events": ["run.started"]})
    assert wrong.status_code == 400


def test_the_host_answers_event_grid_validation_handshakes(host: HostProcess) -> None:
    url = event_grid_url(host)
    validation = [
        {
            "id": "1",
            "eventType": "Microsoft.EventGrid.SubscriptionValidationEvent",
            "data": {"validationCode": "c-42"},
        }
    ]
    answer = httpx.post(
        url, json=validation, headers={"aeg-event-type": "SubscriptionValidation"}, timeout=30
    )
    assert answer.status_code == 200 and answer.json() == {"validationResponse": "c-42"}
    options = httpx.options(url, headers={"WebHook-Request-Origin": "eventgrid.azure.net"}, timeout=30)
    assert options.status_code == 200 and options.headers["webhook-allowed-origin"] == "eventgrid.azure.net"
    unknown = httpx.post(
        url.replace("hook_event", "nope"), json=[], headers={"aeg-event-type": "Notification"}
    )
    assert unknown.status_code == 404


def test_a_run_that_starts_waiting_for_input_is_announced(api: Api) -> None:
    receiver = Receiver(failures=0)
    with LoopbackServer(receiver.app) as server:
        body = {"url": f"{server.url}/cb", "events": ["run.waiting_for_input"]}
        callback = api.http.post("/callbacks", json=body).json()
        run_id = api.start(run_input={"word": "memo"}, graph_ref="approval")
        api.wait_node(run_id, "publish", "awaiting_input")
        deadline = time.monotonic() + 20
        while not receiver.seen and time.monotonic() < deadline:
            time.sleep(0.05)
        api.http.delete(f"/callbacks/{callback['id']}")
        api.http.post(f"/runs/{run_id}/cancel")
    ((headers, raw),) = receiver.seen
    event = json.loads(raw)
    assert headers["x-convergio-event"] == "run.waiting_for_input" and event["run_id"] == run_id
    assert event["data"] == {"event": "approval", "nodes": ["publish"]}
