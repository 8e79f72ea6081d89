"""Starting a run costs one run-index write, off the event loop, and keeps ADR 0017's promises.

Issue 22: ``POST /runs`` spent most of its time in two index commits on the event loop. A start
now writes the entry once (the claim, before the orchestration exists) and the first list that
finds the run started writes ``Running`` (ADR 0025). What must still hold, tried against faults
injected into a real host (``_faults_app``): no run runs unlisted (an index outage starts
nothing), a crash between the index write and the start leaves a run that reads as never
started and can be deleted, a start the backend refuses leaves no entry, and a cancel during a
start wins. And a slow store call in one request holds no other request. Each runs on both
run-index adapters: SQLite in the home, and Cosmos DB (the emulator) as on Azure.
"""

from __future__ import annotations

import base64
import os
import threading
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from convergio.controlplane import CosmosPlane
from convergio.tenants import TenantStore, open_tenant_store
from tests._helpers import ROOT, HostProcess
from tests.api.conftest import Api, agent, graph

FAULTS_APP = ROOT / "tests" / "api" / "_faults_app.py"
WAITER = agent("gate", await_event={"name": "go", "timeout_seconds": 120})


@dataclass
class Faulty:
    """A host running ``_faults_app``, its tenant store and fault folder, and one tenant's client."""

    host: HostProcess
    store: TenantStore
    faults: Path
    api: Api
    tenant: str

    def updates(self, run_id: str) -> list[str]:
        """The index updates (``update_run``) made for ``run_id``, in order: their statuses."""
        log = self.faults / "updates.log"
        lines = log.read_text(encoding="utf-8").splitlines() if log.exists() else []
        return [line.split(" ", 1)[1] for line in lines if line.split(" ", 1)[0] == run_id]

    def reads(self, run_id: str) -> int:
        """How many times the index entry of ``run_id`` was read."""
        log = self.faults / "reads.log"
        return log.read_text(encoding="utf-8").splitlines().count(run_id) if log.exists() else 0

    def entries(self) -> dict[str, str]:
        """The tenant's index entries: run id -> graph name."""
        return {r.run_id: r.graph_name for r in self.store.list_runs(self.tenant, limit=200)}


def _faulty_host(home: Path, faults: Path, env: dict[str, str] | None = None) -> HostProcess:
    return HostProcess(FAULTS_APP, home, env={"CONVERGIO_TEST_FAULTS": str(faults), **(env or {})})


def _backend(name: str, request: pytest.FixtureRequest, home: Path) -> tuple[TenantStore, dict[str, str]]:
    """The tenant store of ``name`` (``sqlite`` or ``cosmos``) and the host settings that open it."""
    if name == "sqlite":
        return open_tenant_store(home), {}
    emulator, azurite = request.getfixturevalue("cosmos_emulator"), request.getfixturevalue("azurite")
    env = {  # the control plane on the emulator, as every instance on Azure
        **emulator.settings(),
        "AzureWebJobsStorage": azurite.connection_string,
        "CONVERGIO_SECRETS_MASTER_KEY": base64.b64encode(os.urandom(32)).decode(),
    }
    plane = CosmosPlane.connect(
        env["COSMOS_ENDPOINT"], env["COSMOS_DATABASE"], key=emulator.key, verify_tls=False
    )
    return open_tenant_store(home, cosmos=plane), env


@pytest.fixture(scope="module", params=["sqlite", "cosmos"])
def faulty(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Faulty]:
    home, faults = tmp_path_factory.mktemp("start-home"), tmp_path_factory.mktemp("start-faults")
    store, env = _backend(request.param, request, home)
    key = store.add_tenant("Start School")[1]
    with _faulty_host(home, faults, env) as host, Api(host.base_url, key) as api:
        yield Faulty(host, store, faults, api, "start-school")


def test_a_start_writes_the_index_once_and_the_list_writes_running_once(faulty: Faulty) -> None:
    api = faulty.api
    run_id = api.start(graph(WAITER), "x")
    entry = faulty.store.run(run_id)
    assert entry is not None and entry.status == "Pending"  # the claim, written before the start
    assert faulty.updates(run_id) == []  # and nothing else: one write per start
    api.wait_node(run_id, "gate", "awaiting_input")  # views never write a going run's entry
    assert faulty.updates(run_id) == []
    assert [r["id"] for r in api.http.get("/runs", params={"status": "Running"}).json()["runs"]] == [run_id]
    assert faulty.updates(run_id) == ["Running"]  # the list found it started and wrote it, once
    unfiltered = {r["id"]: r["status"] for r in api.http.get("/runs").json()["runs"]}
    assert unfiltered[run_id] == "Running" and faulty.updates(run_id) == ["Running"]
    assert api.http.post(f"/runs/{run_id}/cancel").status_code == 202
    assert api.wait(run_id)["status"] == "Terminated"
    assert faulty.updates(run_id) == ["Running", "Terminated"]


def test_a_run_listed_before_its_orchestration_ran_is_written_running_when_it_is(faulty: Faulty) -> None:
    api = faulty.api
    run_id = api.start(graph(WAITER), "early")
    first = {r["id"]: r["status"] for r in api.http.get("/runs").json()["runs"]}
    assert first[run_id] in ("Pending", "Running")  # whatever the backend says at that moment
    api.wait_node(run_id, "gate", "awaiting_input")
    assert {r["id"]: r["status"] for r in api.http.get("/runs").json()["runs"]}[run_id] == "Running"
    assert api.http.post(f"/runs/{run_id}/cancel").status_code == 202


def test_a_run_view_reads_the_run_s_index_entry_once(faulty: Faulty) -> None:
    api = faulty.api
    run_id = api.start(graph(agent("a")), "x")
    api.wait(run_id)
    for headers in ({}, {"If-None-Match": api.http.get(f"/runs/{run_id}").headers["ETag"]}):
        before = faulty.reads(run_id)
        answer = api.http.get(f"/runs/{run_id}", headers=headers)
        assert answer.status_code in (200, 304)
        assert faulty.reads(run_id) == before + 1  # ownership and the view share one read


def test_an_index_outage_starts_nothing(faulty: Faulty) -> None:
    faulty.api.start(graph(agent("a"), name="listed-graph"), "x")  # the listing shows what started
    answer = faulty.api.http.post("/runs", json={"graph": graph(agent("a"), name="index-down"), "input": "x"})
    assert answer.status_code == 500 and "unavailable" not in answer.text  # opaque, as every 500
    with faulty.host.client() as durable:
        instances = durable.get(faulty.host.durable_url("instances") + "&showInput=true")
    assert instances.status_code == 200 and "listed-graph" in instances.text
    assert "index-down" not in instances.text  # never running unlisted
    assert "index-down" not in faulty.entries().values()


def test_a_start_the_backend_refuses_leaves_no_entry(faulty: Faulty) -> None:
    answer = faulty.api.http.post(
        "/runs", json={"graph": graph(agent("a"), name="refuse-start"), "input": "x"}
    )
    assert answer.status_code == 500
    assert "refuse-start" not in faulty.entries().values()  # forgotten, not a ghost
    assert all(r["graph"] != "refuse-start" for r in faulty.api.http.get("/runs").json()["runs"])


def test_a_cancel_during_a_start_wins(faulty: Faulty) -> None:
    api = faulty.api
    body = {"graph": graph(WAITER, name="held-start"), "input": "x"}
    with ThreadPoolExecutor(1) as pool:
        posted: Future[httpx.Response] = pool.submit(api.http.post, "/runs", json=body)
        run_id = _wait_file(faulty.faults / "held", posted)
        assert api.run(run_id)["status"] == "Pending"  # listed and starting, no orchestration yet
        cancel = api.http.post(f"/runs/{run_id}/cancel")
        assert (cancel.status_code, cancel.json()["status"]) == (202, "Terminated")
        (faulty.faults / "release").touch()
        assert posted.result(60).status_code == 202  # the start goes on: the run exists, and stops
    assert api.wait(run_id)["status"] == "Terminated"
    entry = faulty.store.run(run_id)
    assert entry is not None and entry.status == "Terminated"


def test_a_cancel_whose_mark_lands_after_the_start_looked_for_it_still_wins(faulty: Faulty) -> None:
    """The race ADR 0017 leaves open: the cancel reads "no orchestration", the start creates it
    and finds no mark, then the mark lands. The cancel looks again after its mark and terminates."""
    api, folder = faulty.api, faulty.faults
    for name in ("held", "release"):
        (folder / name).unlink(missing_ok=True)
    (folder / "hold-cancel").touch()
    body = {"graph": graph(WAITER, name="held-start"), "input": "race"}
    try:
        with ThreadPoolExecutor(2) as pool:
            posted: Future[httpx.Response] = pool.submit(api.http.post, "/runs", json=body)
            run_id = _wait_file(folder / "held", posted)
            cancel: Future[httpx.Response] = pool.submit(api.http.post, f"/runs/{run_id}/cancel")
            _wait_file(folder / "cancel-held", cancel)  # it found no orchestration; its mark is held
            (folder / "release").touch()
            assert posted.result(60).status_code == 202  # started, and looked before the mark
            assert api.wait_node(run_id, "gate", "awaiting_input")["status"] == "Running"
            (folder / "cancel-release").touch()
            assert (cancel.result(60).status_code, cancel.result().json()["status"]) == (202, "Terminated")
    finally:
        (folder / "hold-cancel").unlink()
    assert api.wait(run_id)["status"] == "Terminated"


def test_a_slow_store_call_in_one_request_holds_no_other_request(faulty: Faulty) -> None:
    api = faulty.api
    other = api.start(graph(agent("a")), "other")
    faulty.store.record_run(faulty.tenant, "slow-1", "test-graph")
    with ThreadPoolExecutor(1) as pool:
        slow: Future[httpx.Response] = pool.submit(api.http.get, "/runs/slow-1")
        _wait_file(faulty.faults / "slow-entered", slow)
        # Its index read is held in the store; on the event loop it would hold every request.
        assert api.wait(other)["status"] == "Completed"  # views, and the durable calls they make
        assert api.http.get("/runs").status_code == 200
        started = api.start(graph(agent("b")), "while held")
        assert api.wait(started)["status"] == "Completed"
        assert not slow.done()  # all of that while the slow request was still held
        (faulty.faults / "slow-release").touch()
        assert slow.result(60).status_code == 200


@pytest.mark.parametrize("backend", ["sqlite", "cosmos"])
def test_a_crash_between_the_index_write_and_the_start_leaves_a_run_that_never_started(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    home, faults = tmp_path / "home", tmp_path / "faults"
    faults.mkdir()
    store, env = _backend(backend, request, home)
    key = store.add_tenant("Crash School")[1]
    crashing = _faulty_host(home, faults, env).start()
    try:
        with Api(crashing.base_url, key) as api, pytest.raises(httpx.TransportError):
            api.http.post("/runs", json={"graph": graph(agent("a"), name="crash-after-index"), "input": "x"})
        assert crashing.process is not None and crashing.process.wait(30) == -9  # killed, as by kill -9
    finally:
        crashing.stop()
    [entry] = store.list_runs("crash-school")
    assert (entry.graph_name, entry.status) == ("crash-after-index", "Pending")
    with _faulty_host(home, faults, env) as host, Api(host.base_url, key) as api:
        assert api.run(entry.run_id)["status"] == "Pending"  # within the grace: still starting
        assert api.http.delete(f"/runs/{entry.run_id}").status_code == 409
        hour_ago = (datetime.now(UTC) - timedelta(hours=1)).isoformat(timespec="microseconds")
        store.forget_run(entry.run_id)  # the same entry, an hour older: the grace is over
        store.record_run("crash-school", entry.run_id, entry.graph_name, created_at=hour_ago)
        run = api.run(entry.run_id)
        assert run["status"] == "Failed" and "never started" in run["error"]
        assert [(r["id"], r["status"]) for r in api.http.get("/runs").json()["runs"]] == [
            (entry.run_id, "Failed")
        ]
        assert [r["id"] for r in api.http.get("/runs", params={"status": "Running"}).json()["runs"]] == []
        assert api.http.delete(f"/runs/{entry.run_id}").status_code == 200
        assert api.http.get(f"/runs/{entry.run_id}").status_code == 404


def _wait_file(path: Path, request: Future[httpx.Response]) -> str:
    """The text of ``path`` once the host wrote it (the request must still be going)."""
    found = threading.Event()
    for _ in range(6000):
        if path.exists():
            found.set()
            break
        assert not request.done(), request.result().text
        found.wait(0.01)
    assert found.is_set(), f"the host never wrote {path.name}"
    return path.read_text(encoding="utf-8")
