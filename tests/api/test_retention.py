"""Retention on the real host: the policy API, and a sweep that purges an old finished run (ADR 0018).

The sweeping host runs the retention orchestration every second
(``CONVERGIO_RETENTION_INTERVAL_SECONDS=1``). Time is faked by backdating: the run index's
``created_at`` (through the store) and the finished instance's last update (in the host's store).
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from convergio.host._events import format_time
from convergio.metering import SqliteLedger
from convergio.retention import RETENTION, RETENTION_INSTANCE, stamp
from convergio.streams import SqliteRunStream
from convergio.tenants import open_tenant_store
from tests._helpers import HostProcess
from tests.api.conftest import APP, Api, agent, graph, new_key

TENANT = "old-school"


# -- the policy API (on the shared host) -------------------------------------------------------


@pytest.fixture(scope="module")
def keeper(api_host: HostProcess, api_home: Path) -> Iterator[Api]:
    with Api(api_host.base_url, new_key(api_home, "Retention Policy School")) as api:
        yield api


def test_the_policy_defaults_to_90_and_7_days_and_says_the_ledger_is_kept(keeper: Api) -> None:
    answer = keeper.http.get("/tenants/me/retention")
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["finished_runs_days"] == 90 and body["stream_events_days"] == 7
    assert body["default"] is True and body["ledger"] == "kept"


def test_a_policy_is_set_and_read_back(keeper: Api) -> None:
    answer = keeper.http.put(
        "/tenants/me/retention", json={"finished_runs_days": 30, "stream_events_days": 3}
    )
    assert answer.status_code == 200, answer.text
    body = keeper.http.get("/tenants/me/retention").json()
    assert (body["finished_runs_days"], body["stream_events_days"], body["default"]) == (30, 3, False)
    # an omitted field takes its default
    assert (
        keeper.http.put("/tenants/me/retention", json={"finished_runs_days": 60}).json()["stream_events_days"]
        == 7
    )


@pytest.mark.parametrize(
    ("body", "path"),
    [
        ({"finished_runs_days": 0}, "finished_runs_days"),
        ({"finished_runs_days": 3651}, "finished_runs_days"),
        ({"finished_runs_days": "30"}, "finished_runs_days"),
        ({"finished_runs_days": 30.5}, "finished_runs_days"),
        ({"stream_events_days": 400}, "stream_events_days"),
        ({"finished_runs_days": 5, "stream_events_days": 6}, "stream_events_days"),
        ({"finished_runs_days": 4}, "stream_events_days"),  # under the default of 7 (was a 500)
        ({"keep_forever": True}, "keep_forever"),
    ],
)
def test_a_bad_policy_is_a_400_naming_the_field(keeper: Api, body: dict[str, Any], path: str) -> None:
    before = _policy(keeper.http.get("/tenants/me/retention").json())
    answer = keeper.http.put("/tenants/me/retention", json=body)
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"]["details"][0]["path"] == path
    assert _policy(keeper.http.get("/tenants/me/retention").json()) == before


def _policy(view: dict[str, Any]) -> dict[str, Any]:
    """The view without its last sweep: the shared host's retention may sweep between two reads."""
    return {key: value for key, value in view.items() if key != "last_sweep"}


def test_the_policy_needs_a_key(api_host: HostProcess) -> None:
    with Api(api_host.base_url, None) as anonymous:
        assert anonymous.http.get("/tenants/me/retention").status_code == 401
        assert anonymous.http.put("/tenants/me/retention", json={}).status_code == 401


def test_the_policy_routes_are_in_the_openapi_document(keeper: Api) -> None:
    doc = keeper.http.get("/openapi.json").json()
    route = doc["paths"]["/api/v1/tenants/me/retention"]
    assert set(route) == {"get", "put"} and {"400", "401"} <= set(route["put"]["responses"])
    assert {"RetentionIn", "RetentionView"} <= set(doc["components"]["schemas"])


# -- the sweep (on a host of its own that sweeps every second) -------------------------------------


@pytest.fixture(scope="module")
def sweeping(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[HostProcess, Path]]:
    home = tmp_path_factory.mktemp("retention-home")
    with HostProcess(APP, home, env={"CONVERGIO_RETENTION_INTERVAL_SECONDS": "1"}) as host:
        yield host, home


def instances_named(host: HostProcess, name: str) -> list[dict[str, Any]]:
    listed = httpx.get(host.durable_url("instances")).json()
    return [i for i in listed if i["name"] == name]


def backdate(home: Path, run_id: str, days: float, *, finished: bool) -> None:
    """Make a run look ``days`` old: in the run index, and (finished runs) in the task hub."""
    store = open_tenant_store(home)
    record = store.run(run_id)
    assert record is not None
    store.forget_run(run_id)
    store.record_run(
        record.tenant_id,
        run_id,
        record.graph_name,
        created_at=stamp(datetime.now(UTC) - timedelta(days=days)),
    )
    if finished:
        with sqlite3.connect(home / "durable.sqlite3", timeout=10) as db:
            old = format_time(datetime.now(UTC) - timedelta(days=days - 1))
            changed = db.execute("UPDATE instances SET updated_at = ? WHERE instance_id = ?", (old, run_id))
            assert changed.rowcount == 1


def until(check: Any, what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise AssertionError(f"never: {what}")


def test_a_sweep_purges_an_old_finished_run_and_keeps_its_costs(sweeping: tuple[HostProcess, Path]) -> None:
    host, home = sweeping
    with Api(host.base_url, new_key(home, "Old School")) as api:
        old, recent = api.start(graph(agent("a")), "old"), api.start(graph(agent("a")), "recent")
        waiting = api.start(
            graph(
                agent("draft"),
                agent("publish", depends_on=["draft"], await_event={"name": "ok", "timeout_seconds": 600}),
            ),
            "x",
        )
        for run_id in (old, recent):
            assert api.wait(run_id)["status"] == "Completed"
        api.wait_node(waiting, "publish", "awaiting_input")
        streams = SqliteRunStream(home / "streams.sqlite3")
        for run_id in (old, recent):
            streams.append(run_id, "text", {"node": "a", "attempt": 1, "delta": "hello"})
        ledger = SqliteLedger(home / "usage.sqlite3")
        billed = ledger.query(TENANT, run_id=old)
        assert billed, "the run left no usage records"
        usage_before = api.http.get("/usage", params={"group_by": "run"}).json()

        backdate(home, waiting, 100, finished=False)  # old, but still waiting for a human
        backdate(home, old, 100, finished=True)
        until(lambda: api.http.get(f"/runs/{old}").status_code == 404, "the old run purged")

        assert httpx.get(host.durable_url(f"instances/{old}")).status_code == 404  # history and payloads
        assert streams.read(old) == []
        assert ledger.query(TENANT, run_id=old) == billed  # money is kept
        assert api.http.get("/usage", params={"group_by": "run"}).json() == usage_before
        assert api.run(recent)["status"] == "Completed" and len(streams.read(recent)) == 1
        assert api.run(waiting)["status"] == "Running"
        assert {r["id"] for r in api.http.get("/runs").json()["runs"]} == {recent, waiting}
        sweep = api.http.get("/tenants/me/retention").json()["last_sweep"]
        assert sweep is not None and sweep["runs_kept"] >= 1 and sweep["more"] is False
        streams.close()


def test_the_retention_orchestration_is_a_singleton(sweeping: tuple[HostProcess, Path]) -> None:
    host, home = sweeping
    with Api(host.base_url, new_key(home, "Singleton School")) as api:
        for _ in range(3):  # each read makes sure it runs, and starts nothing when it does
            assert api.http.get("/tenants/me/retention").status_code == 200
        found = instances_named(host, RETENTION)
        assert [i["instanceId"] for i in found] == [RETENTION_INSTANCE]
        assert found[0]["runtimeStatus"] in ("Running", "Pending")

        def sweeps() -> int:  # its custom status counts sweeps (none yet just after continuing as new)
            return int((instances_named(host, RETENTION)[0]["customStatus"] or {}).get("sweep", 0))

        first = sweeps()
        until(lambda: sweeps() > first, "another sweep")  # it keeps sweeping
        assert len(instances_named(host, RETENTION)) == 1
