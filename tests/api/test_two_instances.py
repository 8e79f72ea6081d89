"""Two app instances, separate local homes, one shared control plane (the real emulators).

This is how Azure runs the app: any instance may serve any request, and the CLI may run
anywhere. Each host process here has its own home (its caches) and the same Cosmos DB database
and Blob container, and both share one task hub, as Azure's instances share one in the storage
account (ADR 0023: the embedded store's leases). Nothing that one instance or the CLI writes
may be missing on the other, and limits hold across both.
"""

from __future__ import annotations

import base64
import concurrent.futures
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.responses import JSONResponse

from convergio._embedded import STORE_SETTING
from convergio.controlplane import CosmosPlane
from convergio.metering import CosmosLedger
from convergio.webhooks import sign
from tests._emulators import Azurite, CosmosEmulator
from tests._helpers import ROOT, HostProcess
from tests.api.conftest import APP, Api, agent, graph
from tests.api.test_plugins_api import EXAMPLES, zipped
from tests.api.test_stream import read_events
from tests.providers._servers import FakeAPI, chat_completion, chat_stream, json_reply, sse_reply

BYOK_KEY = "sk-shared-plane-0123456789abcdef"
WATCH_SEEN_S = 1.5
"""How long after a watch begins on one instance every instance's agent calls see it: the Cosmos
stream store's ``recheck_s`` (1 s, ``convergio/streams/_cosmos.py``) and a margin."""


@pytest.fixture(scope="module")
def plane_env(
    cosmos_emulator: CosmosEmulator, azurite: Azurite, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, str]:
    """The settings every instance and every CLI call shares: one database, one blob account,
    one task hub."""
    return {
        STORE_SETTING: str(tmp_path_factory.mktemp("hub") / "durable.sqlite3"),
        **cosmos_emulator.settings(),
        "AzureWebJobsStorage": azurite.connection_string,
        "CONVERGIO_SECRETS_MASTER_KEY": base64.b64encode(os.urandom(32)).decode(),
        "CONVERGIO_HOSTED": "false",  # the fake provider is on loopback
    }


def cli(env: dict[str, str], home: Path, *args: str) -> str:
    """``python -m convergio ...`` as an operator would run it on any machine with the settings."""
    done = subprocess.run(
        [sys.executable, "-m", "convergio", *args, "--home", str(home)],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


@pytest.fixture(scope="module")
def pair(
    plane_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[HostProcess, HostProcess]]:
    with (
        HostProcess(APP, tmp_path_factory.mktemp("home-a"), plane_env) as a,
        HostProcess(APP, tmp_path_factory.mktemp("home-b"), plane_env) as b,
    ):
        yield a, b


@pytest.fixture(scope="module")
def school(plane_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    """A tenant made with the CLI on a third machine's disk: (tenant id, key)."""
    key = cli(plane_env, tmp_path_factory.mktemp("cli"), "tenants", "add", "Shared Plane School")
    return "shared-plane-school", key


def test_a_key_made_by_the_cli_authenticates_on_both_instances(
    pair: tuple[HostProcess, HostProcess], school: tuple[str, str]
) -> None:
    for host in pair:
        with Api(host.base_url, school[1]) as api:
            assert api.http.get("/graphs").status_code == 200
        with Api(host.base_url, "cvg_" + "0" * 40) as stranger:
            assert stranger.http.get("/graphs").status_code == 401


def test_a_connection_made_on_a_runs_on_b(
    pair: tuple[HostProcess, HostProcess], school: tuple[str, str], fake_llm: FakeAPI
) -> None:
    a, b = pair
    with Api(a.base_url, school[1]) as on_a:
        body = {"kind": "openai", "endpoint": f"{fake_llm.url}/v1", "model": "gpt-4o", "key": BYOK_KEY}
        assert on_a.http.put("/tenants/me/connections/school-gpt", json=body).status_code in (200, 201)
    fake_llm.reset()
    fake_llm.queue(json_reply(chat_completion("from b", usage=(30, 10), model="gpt-4o")))
    with Api(b.base_url, school[1]) as on_b:
        run = on_b.wait(on_b.start(graph(agent("n", provider="school-gpt")), "x"))
    assert run["status"] == "Completed", run
    assert [s.headers["authorization"] for s in fake_llm.seen] == [f"Bearer {BYOK_KEY}"]
    assert BYOK_KEY not in "\n".join(a.lines + b.lines)


def test_the_same_signed_delivery_on_a_and_b_starts_one_run(
    pair: tuple[HostProcess, HostProcess], school: tuple[str, str]
) -> None:
    a, b = pair
    with Api(a.base_url, school[1]) as on_a:
        created = on_a.http.post("/hooks", json={"graph_ref": "lesson-plan"})
        assert created.status_code == 201, created.text
        hook = created.json()
    body = json.dumps({"topic": "tides", "grade": 5}).encode()
    stamp, delivery = int(time.time()), uuid.uuid4().hex
    headers = {
        "X-Convergio-Timestamp": str(stamp),
        "X-Convergio-Signature": sign(hook["secret"], stamp, delivery, body),
        "X-Convergio-Delivery": delivery,
        "content-type": "application/json",
    }
    path = hook["url"].split("/api/v1", 1)[1]

    def deliver(host: HostProcess) -> httpx.Response:
        return httpx.post(f"{host.base_url}/api/v1{path}", content=body, headers=headers, timeout=60)

    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(deliver, [a, b, a, b]))
    assert all(answer.status_code in (200, 202) for answer in answers), [x.text for x in answers]
    assert len({answer.json()["id"] for answer in answers}) == 1


def test_an_sse_reconnect_on_b_resumes_the_events_of_a_run_on_a(
    pair: tuple[HostProcess, HostProcess], school: tuple[str, str], fake_llm: FakeAPI
) -> None:
    """The run's text events live in the shared stream store: B serves exactly those after the id,
    and follows the run itself: both instances share its task hub."""
    a, b = pair
    fake_llm.reset()
    fake_llm.queue(sse_reply(chat_stream(["Tides ", "rise ", "and ", "fall."]), pause_s=0.15))
    body = {
        "kind": "openai-compatible",
        "endpoint": f"{fake_llm.url}/ollama/v1",
        "model": "m",
        "key": "k" * 12,
    }
    with Api(a.base_url, school[1]) as on_a, Api(b.base_url, school[1]) as on_b:
        assert on_a.http.put("/tenants/me/connections/stream-llm", json=body).status_code in (200, 201)
        spec = graph(
            agent("first", "note {{ input }}"),
            agent(
                "writer",
                "write about {{ input }}",
                provider="stream-llm",
                depends_on=["first"],
                await_event={"name": "go", "timeout_seconds": 60},
            ),
        )
        run_id = on_a.start(spec, "tides")
        watching_since: list[float] = []

        def release(event: dict[str, Any]) -> None:  # A's stream is watching: let the writer run
            watching_since[:1] = watching_since[:1] or [time.monotonic()]
            data = event.get("data", {})
            if event["event"] == "node" and data["node"] == "writer" and data["status"] == "awaiting_input":
                # The writer may run on B, which sees a watch made on A within the stream store's
                # recheck_s (1 s on Cosmos DB): a call that begins sooner answers in one piece.
                time.sleep(max(0.0, watching_since[0] + WATCH_SEEN_S - time.monotonic()))
                assert on_a.http.post(f"/runs/{run_id}/events/go", json={}).status_code == 202

        events = read_events(on_a, run_id, on_event=release)
        texts = [e for e in events if e["event"] == "text" and e["data"]["node"] == "writer"]
        assert len(texts) >= 2, texts  # several batches, so there is something to resume
        resumed = read_events(on_b, run_id, headers={"Last-Event-ID": texts[0]["id"]})
    again = [e for e in resumed if e["event"] == "text"]
    assert [e["id"] for e in again] == [e["id"] for e in texts[1:]]
    with Api(b.base_url, school[1]) as on_b:
        assert on_b.wait(run_id)["status"] == "Completed"
    assert "".join(e["data"]["delta"] for e in texts[:1] + again) == "Tides rise and fall."


def test_a_plugin_installed_through_a_runs_on_b(
    pair: tuple[HostProcess, HostProcess], school: tuple[str, str]
) -> None:
    a, b = pair
    with Api(a.base_url, school[1]) as on_a:
        upload = on_a.http.post(
            "/plugins", content=zipped(EXAMPLES / "text-stats"), headers={"content-type": "application/zip"}
        )
        assert upload.status_code == 201, upload.text
        assert on_a.http.put("/plugins/text-stats/grants", json={"capabilities": {}}).status_code == 200
    spec = graph(agent("measure", "Measure: {{ input }}", tools=["text-stats.stats"]), output="measure")
    with Api(b.base_url, school[1]) as on_b:
        run = on_b.wait(on_b.start(spec, "Two instances, one plane."))
    assert run["status"] == "Completed", run
    assert "text-stats_stats returned" in run["output"]


def _honest_provider(body: Any) -> JSONResponse:
    """Bills as a real provider does: no more output tokens than the request's ``max_tokens``
    and no more prompt tokens than its bytes. A fake billing a fixed 100 output tokens to a call
    that asked for 64 made the ledger pass the cap whenever calls were admitted for less (under
    load): the product settles such a call at its reservation and logs it, the ledger keeps what
    the provider said; that is the provider's breach of ``max_tokens``, not a race."""
    asked = body.get("max_completion_tokens") or body.get("max_tokens")
    assert isinstance(asked, int) and asked > 0, body  # every request is bounded (ADR 0016)
    prompt = len(json.dumps(body["messages"]).encode()) // 4
    return JSONResponse(chat_completion("ok", usage=(prompt, min(100, asked)), model="gpt-4o"))


def test_a_budget_set_through_b_cli_caps_parallel_calls_on_both_instances(
    pair: tuple[HostProcess, HostProcess],
    plane_env: dict[str, str],
    fake_llm: FakeAPI,
    tmp_path: Path,
) -> None:
    a, b = pair
    key = cli(plane_env, b.home, "tenants", "add", "Race School")
    cap = Decimal("0.01")
    cli(plane_env, b.home, "tenants", "budget", "race-school", "--monthly-eur", str(cap))
    fake_llm.reset()
    fake_llm.answer_with(_honest_provider)
    body = {"kind": "openai", "endpoint": f"{fake_llm.url}/v1", "model": "gpt-4o", "key": BYOK_KEY}
    with Api(a.base_url, key) as on_a, Api(b.base_url, key) as on_b:
        assert on_a.http.put("/tenants/me/connections/gpt", json=body).status_code in (200, 201)
        spec = graph(agent("n", provider="gpt", budget={"max_tokens": 400}))
        apis = [on_a, on_b] * 15
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            runs = list(pool.map(lambda api: api.wait(api.start(spec, "x"), timeout=120), apis))
    statuses = [run["nodes"]["n"]["status"] for run in runs]
    assert "budget_exceeded" in statuses, statuses  # the cap was reached...
    settings = plane_env
    plane = CosmosPlane.connect(
        settings["COSMOS_ENDPOINT"], settings["COSMOS_DATABASE"], key=settings["COSMOS_KEY"], verify_tls=False
    )
    billed = sum((r.cost for r in CosmosLedger(plane.container("usage")).query("race-school")), Decimal(0))
    assert 0 < billed <= cap, billed  # ...and never passed, across both instances


def test_a_third_instance_from_an_empty_disk_sees_all_of_it(
    pair: tuple[HostProcess, HostProcess],
    school: tuple[str, str],
    plane_env: dict[str, str],
    tmp_path: Path,
) -> None:
    with HostProcess(APP, tmp_path / "empty", plane_env) as c, Api(c.base_url, school[1]) as on_c:
        assert on_c.http.get("/graphs").status_code == 200
        names = {c["name"] for c in on_c.http.get("/tenants/me/connections").json()["connections"]}
        assert "school-gpt" in names
        plugins = on_c.http.get("/plugins").json()
        assert "text-stats" in json.dumps(plugins)
        runs = on_c.http.get("/runs").json()
        assert len(runs["runs"]) >= 3, runs  # the index of runs started on a and b
