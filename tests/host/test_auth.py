"""Trust boundaries of the embedded host: keys and auth levels as the Functions host enforces them,
Event Grid's handshakes, and bodies refused before they are read."""

from __future__ import annotations

import json
import socket
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from convergio.host import load_host_keys
from convergio.host._gate import DEFAULT_BODY_LIMIT, body_limit_from_env
from tests._helpers import DOCS_APP, ROOT, HostProcess, start, wait_status

KEYED_APP = ROOT / "tests" / "apps" / "keyed_app" / "function_app.py"
LIMIT = 1 << 20  # FUNCTIONS_REQUEST_BODY_SIZE_LIMIT for the keyed host


@pytest.fixture(scope="module")
def keyed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HostProcess]:
    counts = tmp_path_factory.mktemp("counts")
    env = {"COUNT_DIR": str(counts), "FUNCTIONS_REQUEST_BODY_SIZE_LIMIT": str(LIMIT)}
    with HostProcess(KEYED_APP, tmp_path_factory.mktemp("home"), env) as host:
        yield host


def _events(host: HostProcess) -> list[dict[str, object]]:
    path = Path(host.env["COUNT_DIR"]) / "events.log"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


# -- keys ------------------------------------------------------------------------------------


def test_keys_are_created_once_owner_only_and_reused(tmp_path: Path) -> None:
    first = load_host_keys(tmp_path)
    path = tmp_path / "host_keys.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert set(first.system_keys) == {"durabletask_extension", "eventgrid_extension"}
    assert set(first.function_keys) == {"default"}
    assert load_host_keys(tmp_path) == first
    values = [first.master, *first.function_keys.values(), *first.system_keys.values()]
    assert len(set(values)) == 4 and all(len(v) >= 40 for v in values)


def test_the_cli_prints_the_keys_of_a_home(tmp_path: Path) -> None:
    keys = load_host_keys(tmp_path)
    done = subprocess.run(
        [sys.executable, "-m", "convergio", "keys", "--home", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    rows = [line.split("\t") for line in done.stdout.splitlines()]
    assert rows == [list(row) for row in keys.listing()]
    assert ["system", "durabletask_extension", keys.system_keys["durabletask_extension"]] in rows


# -- the Durable management API ----------------------------------------------------------------


def test_the_durable_api_needs_the_extension_system_key(keyed: HostProcess) -> None:
    instances = f"{keyed.base_url}/runtime/webhooks/durabletask/instances"
    for code in ("", keyed.key("default"), keyed.key("eventgrid_extension"), "nonsense"):
        answer = httpx.get(instances, params={"code": code} if code else None)
        assert answer.status_code == 401, code
    for verb, url in [
        ("POST", f"{keyed.base_url}/runtime/webhooks/durabletask/orchestrators/waiter"),
        ("DELETE", instances),
        ("POST", f"{instances}/x/terminate"),
        ("POST", f"{instances}/x/raiseEvent/go"),
    ]:
        assert httpx.request(verb, url).status_code == 401, url
    assert httpx.get(instances, params={"code": keyed.key()}).status_code == 200
    assert httpx.get(instances, headers={"x-functions-key": keyed.key()}).status_code == 200
    assert httpx.get(instances, headers={"x-functions-key": keyed.key("master")}).status_code == 200
    # The header wins over the query parameter, as in the Functions host.
    wrong_header = {"x-functions-key": keyed.key("default")}
    assert httpx.get(instances, params={"code": keyed.key()}, headers=wrong_header).status_code == 401


def test_management_urls_carry_the_key_and_the_sdk_client_still_works(keyed: HostProcess) -> None:
    with keyed.client() as client:
        urls = client.post("/api/start/waiter").json()
        for name in ("statusQueryGetUri", "sendEventPostUri", "terminatePostUri", "purgeHistoryDeleteUri"):
            assert f"code={keyed.key()}" in urls[name], name
        assert client.get(urls["statusQueryGetUri"]).json()["runtimeStatus"] in {"Pending", "Running"}
        # get_status through the SDK: its calls go to the binding's rpcBaseUrl, with no key of theirs.
        assert client.get(f"/api/status/{urls['id']}").json()["runtimeStatus"] in {"Pending", "Running"}
        event = urls["sendEventPostUri"].replace("{eventName}", "go")
        assert client.post(event, json="done").status_code == 202
        assert wait_status(client, urls["statusQueryGetUri"])["output"] == "done"


def test_the_keys_survive_a_restart(tmp_path: Path) -> None:
    with HostProcess(DOCS_APP, tmp_path) as host, host.client() as client:
        urls = start(client, "chaining")
        wait_status(client, urls["statusQueryGetUri"])
        key = host.key()
    with HostProcess(DOCS_APP, tmp_path) as host, host.client() as client:
        assert host.key() == key
        status_url = urls["statusQueryGetUri"].replace(
            urls["statusQueryGetUri"].split("/runtime")[0], host.base_url
        )
        assert client.get(status_url).json()["runtimeStatus"] == "Completed"


@pytest.mark.parametrize("route", ["orchestrators/chaining", "instances/{id}/raiseEvent/x"])
def test_deeply_nested_json_is_a_bad_request(keyed: HostProcess, route: str) -> None:
    with keyed.client() as client:
        instance = client.post("/api/start/waiter").json()["id"]
    deep = b"[" * 100_000 + b"]" * 100_000
    answer = httpx.post(
        keyed.durable_url(route.replace("{id}", instance)),
        content=deep,
        headers={"content-type": "application/json"},
        timeout=30,
    )
    assert answer.status_code == 400, answer.text
    assert answer.json()


# -- HTTP triggers -----------------------------------------------------------------------------


def test_trigger_auth_levels_are_enforced_as_declared(keyed: HostProcess) -> None:
    base = f"{keyed.base_url}/api"
    master, function, system = keyed.key("master"), keyed.key("default"), keyed.key()
    assert httpx.get(f"{base}/open").status_code == 200
    assert httpx.get(f"{base}/keyed").status_code == 401
    assert (
        httpx.get(f"{base}/keyed", params={"code": system}).status_code == 401
    )  # a system key opens no function
    assert httpx.get(f"{base}/keyed", params={"code": function}).status_code == 200
    assert httpx.get(f"{base}/keyed", headers={"x-functions-key": function}).status_code == 200
    assert httpx.get(f"{base}/keyed", params={"code": master}).status_code == 200
    assert httpx.get(f"{base}/admin-only", params={"code": function}).status_code == 401
    assert httpx.get(f"{base}/admin-only", params={"code": master}).status_code == 200
    assert httpx.get(f"{keyed.base_url}/admin/host/status").status_code == 401
    assert httpx.get(f"{keyed.base_url}/admin/host/status", params={"code": master}).status_code == 200
    assert httpx.get(f"{keyed.base_url}/admin/host/ping").status_code == 200


# -- Event Grid --------------------------------------------------------------------------------


def test_event_grid_needs_its_system_key(keyed: HostProcess) -> None:
    url = f"{keyed.base_url}/runtime/webhooks/eventgrid"
    event = {"specversion": "1.0", "id": "e-0", "source": "/s", "type": "t", "data": {"n": 0}}
    notification = {"aeg-event-type": "Notification"}
    for code in ("", keyed.key(), keyed.key("default")):
        params = {"functionName": "on_event", **({"code": code} if code else {})}
        assert httpx.post(url, params=params, json=event, headers=notification).status_code == 401
        assert httpx.options(url, params=params, headers={"WebHook-Request-Origin": "x"}).status_code == 401
    assert all(e["id"] != "e-0" for e in _events(keyed))


def test_event_grid_handshakes_and_notifications(keyed: HostProcess) -> None:
    url = f"{keyed.base_url}/runtime/webhooks/eventgrid"
    params = {"functionName": "on_event", "code": keyed.key("eventgrid_extension")}
    validation = [
        {
            "id": "v",
            "eventType": "Microsoft.EventGrid.SubscriptionValidationEvent",
            "data": {"validationCode": "c-1"},
        }
    ]
    answer = httpx.post(
        url, params=params, json=validation, headers={"aeg-event-type": "SubscriptionValidation"}
    )
    assert answer.status_code == 200 and answer.json() == {"validationResponse": "c-1"}
    cloud = {
        "specversion": "1.0",
        "id": "v2",
        "source": "/s",
        "type": "t",
        "data": json.dumps({"validationCode": "c-2"}),
    }
    answer = httpx.post(url, params=params, json=cloud, headers={"aeg-event-type": "SubscriptionValidation"})
    assert answer.json() == {"validationResponse": "c-2"}
    options = httpx.options(url, params=params, headers={"WebHook-Request-Origin": "eventgrid.azure.net"})
    assert options.status_code == 200 and options.headers["webhook-allowed-origin"] == "eventgrid.azure.net"
    assert httpx.options(url, params=params).status_code == 400
    assert not any(e["id"] in {"v", "v2"} for e in _events(keyed))  # a handshake runs nothing

    event = {"specversion": "1.0", "id": "e-1", "source": "/s", "type": "t", "data": {"n": 1}}
    assert httpx.post(url, params=params, json=event).status_code == 400  # no aeg-event-type
    assert (
        httpx.post(url, params=params, json=event, headers={"aeg-event-type": "Unsubscribe"}).status_code
        == 202
    )
    assert not any(e["id"] == "e-1" for e in _events(keyed))
    answer = httpx.post(url, params=params, json=[event], headers={"aeg-event-type": "Notification"})
    assert answer.status_code == 200
    assert {"id": "e-1", "data": {"n": 1}} in _events(keyed)
    unknown = {**params, "functionName": "nope"}
    assert (
        httpx.post(url, params=unknown, json=[], headers={"aeg-event-type": "Notification"}).status_code
        == 404
    )


# -- bodies ------------------------------------------------------------------------------------


def _raw(host: HostProcess, head: str) -> socket.socket:
    """A connection that has sent only the request head: no body byte yet."""
    port = int(host.base_url.rsplit(":", 1)[1])
    conn = socket.create_connection(("127.0.0.1", port), timeout=10)
    conn.sendall(head.encode())
    return conn


def _status(conn: socket.socket) -> int:
    data = b""
    while b"\r\n" not in data:
        chunk = conn.recv(4096)
        if not chunk:
            break
        data += chunk
    return int(data.split(b" ", 2)[1])


def test_a_declared_oversize_body_is_refused_before_it_is_sent(keyed: HostProcess) -> None:
    head = f"POST /api/open HTTP/1.1\r\nHost: x\r\nContent-Length: {200 << 20}\r\n\r\n"
    with _raw(keyed, head) as conn:
        assert _status(conn) == 413


def test_a_keyed_route_refuses_an_unauthenticated_body_before_reading_it(keyed: HostProcess) -> None:
    # Under the limit, so only authentication can answer before the body arrives.
    head = f"POST /api/keyed HTTP/1.1\r\nHost: x\r\nContent-Length: {LIMIT - 1}\r\n\r\n"
    with _raw(keyed, head) as conn:
        assert _status(conn) == 401
    start_path = "/runtime/webhooks/durabletask/orchestrators/waiter"
    head = f"POST {start_path} HTTP/1.1\r\nHost: x\r\nContent-Length: {LIMIT - 1}\r\n\r\n"
    with _raw(keyed, head) as conn:
        assert _status(conn) == 401


def test_a_streamed_body_is_cut_off_at_the_limit_not_buffered(keyed: HostProcess) -> None:
    head = "POST /api/open HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
    chunk = b"x" * 65536
    sent = 0
    with _raw(keyed, head) as conn:
        conn.settimeout(0.05)
        answered = None
        deadline = time.monotonic() + 20
        while answered is None and time.monotonic() < deadline and sent < 100 * LIMIT:
            try:
                conn.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                sent += len(chunk)
                answered = conn.recv(4096) or None
            except TimeoutError:
                continue
            except OSError:  # the server closed the connection after answering
                break
        conn.settimeout(10)
        if answered is None:
            answered = conn.recv(4096)
    assert int(answered.split(b" ", 2)[1]) == 413
    assert sent < 8 * LIMIT  # it answered shortly after the limit, not at the end of the stream


def test_bodies_under_the_limit_still_arrive_whole(keyed: HostProcess) -> None:
    answer = httpx.post(f"{keyed.base_url}/api/open", content=b"y" * (LIMIT - 10))
    assert answer.status_code == 200 and answer.text == f"read {LIMIT - 10} bytes"
    over = httpx.post(f"{keyed.base_url}/api/open", content=b"y" * (LIMIT + 1))
    assert over.status_code == 413 and over.json()["error"]["code"] == "payload_too_large"


def test_the_default_limit_is_the_functions_hosts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FUNCTIONS_REQUEST_BODY_SIZE_LIMIT", raising=False)
    assert body_limit_from_env() == DEFAULT_BODY_LIMIT == 100 * 1024 * 1024
    monkeypatch.setenv("FUNCTIONS_REQUEST_BODY_SIZE_LIMIT", "2048")
    assert body_limit_from_env() == 2048
