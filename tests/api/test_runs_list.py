"""GET /runs answers from the run index: cursor paging, status filters, bad parameters by name.

The index entry of a run is written where its state changes (start, the run's end, cancel), so
the list shows what the runs did without asking the durable backend about each one; entries of
an older release are settled from the backend once and written back.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest

from convergio.api._times import ended_at
from convergio.tenants import open_tenant_store
from tests._helpers import HostProcess
from tests.api.conftest import Api, agent, graph, new_key

WAITER: dict[str, Any] = {"await_event": {"name": "go", "timeout_seconds": 120}}


def listed(api: Api, **params: Any) -> dict[str, Any]:
    answer = api.http.get("/runs", params=params)
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def ids(page: dict[str, Any]) -> list[str]:
    return [r["id"] for r in page["runs"]]


@pytest.fixture(scope="module")
def school(api_host: HostProcess, api_home: Path) -> Any:
    with Api(api_host.base_url, new_key(api_home, "Index School")) as api:
        yield api


@pytest.fixture(scope="module")
def runs(school: Api) -> dict[str, str]:
    """Runs of every kind, started one after the other (so newest first is the reverse order)."""
    made: dict[str, str] = {}
    for name in ("done-1", "done-2", "done-3"):
        made[name] = school.start(graph(agent("a")), name)
        school.wait(made[name])
    failing = agent("a", options={"fail_first_n": 5}, retry={"attempts": 1})
    made["failed"] = school.start(graph(failing), "f")
    assert school.wait(made["failed"])["status"] == "Failed"
    made["waiting"] = school.start(graph(agent("gate", **WAITER)), "w")
    school.wait_node(made["waiting"], "gate", "awaiting_input")
    made["cancelled"] = school.start(graph(agent("gate", **WAITER)), "c")
    school.wait_node(made["cancelled"], "gate", "awaiting_input")
    assert school.http.post(f"/runs/{made['cancelled']}/cancel").status_code == 202
    return made


def test_cursor_pages_walk_every_run_once_newest_first(school: Api, runs: dict[str, str]) -> None:
    everything = ids(listed(school, limit=200))
    assert everything == list(reversed(runs.values()))
    seen: list[str] = []
    page = listed(school, limit=2)
    while True:
        assert len(page["runs"]) <= 2
        seen += ids(page)
        if page["next_cursor"] is None:
            break
        assert page["next_offset"] is None or seen == everything[: page["next_offset"]]
        page = listed(school, limit=2, cursor=page["next_cursor"])
        assert page["next_offset"] is None  # a cursor page offers the next cursor only
    assert seen == everything
    # offset still works (deprecated), and offers both ways on
    old_style = listed(school, limit=3, offset=2)
    assert ids(old_style) == everything[2:5] and old_style["next_offset"] == 5 and old_style["next_cursor"]
    last = listed(school, limit=3, offset=5)
    assert ids(last) == everything[5:] and last["next_offset"] is None and last["next_cursor"] is None


def test_every_status_filters_from_the_index(school: Api, runs: dict[str, str]) -> None:
    by_status = {s: ids(listed(school, status=s)) for s in ("Completed", "Failed", "Running", "Terminated")}
    assert by_status == {
        "Completed": [runs["done-3"], runs["done-2"], runs["done-1"]],
        "Failed": [runs["failed"]],
        "Running": [runs["waiting"]],
        "Terminated": [runs["cancelled"]],  # the cancel wrote it: no wait for the run to end
    }
    assert listed(school, status="Pending")["runs"] == []
    page = listed(school, status="Completed", limit=2)
    rest = listed(school, status="Completed", limit=2, cursor=page["next_cursor"])
    assert ids(page) + ids(rest) == by_status["Completed"] and rest["next_cursor"] is None


def test_an_entry_shows_what_the_run_did(school: Api, runs: dict[str, str]) -> None:
    entries = {r["id"]: r for r in listed(school)["runs"]}
    for name in ("done-1", "failed"):
        view = school.run(runs[name])
        entry = entries[runs[name]]
        assert (entry["status"], entry["graph"], entry["usage"]) == (
            view["status"],
            "test-graph",
            view["usage"],
        )
        assert entry["finished_at"] and entry["last_updated_at"] == entry["finished_at"]
        assert entry["created_at"] <= entry["finished_at"]
        assert entry["created_at"] == view["created_at"]  # one start, to the microsecond, both ways
        assert view["created_at"] <= view["last_updated_at"]
    assert entries[runs["done-1"]]["usage"]["total_tokens"] > 0
    assert entries[runs["waiting"]]["finished_at"] is None


def test_the_list_answers_from_the_index_not_the_durable_backend(
    api_host: HostProcess, api_home: Path
) -> None:
    with Api(api_host.base_url, new_key(api_home, "Trusting School")) as api:
        store = open_tenant_store(api_home)
        # An entry with no orchestration behind it: only the index can say it completed.
        store.record_run("trusting-school", "from-the-index", "essay")
        store.update_run("from-the-index", status="Completed", usage={"total_tokens": 42})
        [entry] = listed(api, status="Completed")["runs"]
        assert (entry["id"], entry["graph"], entry["usage"]["total_tokens"]) == (
            "from-the-index",
            "essay",
            42,
        )


def test_entries_of_an_older_release_are_settled_once_and_written_back(
    api_host: HostProcess, api_home: Path
) -> None:
    with Api(api_host.base_url, new_key(api_home, "Upgraded School")) as api:
        run_id = api.start(graph(agent("a")), "x")
        api.wait(run_id)
        with sqlite3.connect(api_home / "tenants.sqlite3") as db:  # as the release before left it
            db.execute("UPDATE runs SET status = '', usage = '{}' WHERE run_id = ?", (run_id,))
        assert open_tenant_store(api_home).run(run_id).status == ""  # type: ignore[union-attr]
        assert ids(listed(api, status="Completed")) == [run_id]
        record = open_tenant_store(api_home).run(run_id)
        assert record is not None and record.status == "Completed" and record.usage["total_tokens"] > 0


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"cursor": "nonsense"}, "cursor"),
        ({"cursor": "c1.bm90LWEtcG9zaXRpb24"}, "cursor"),  # well-formed base64, not a position
        ({"status": "Done"}, "status"),
        ({"limit": "0"}, "limit"),
    ],
)
def test_bad_parameters_are_400s_naming_them(school: Api, params: dict[str, str], field: str) -> None:
    answer = school.http.get("/runs", params=params)
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"]["message"].startswith(f"{field}:")


def test_cursor_and_offset_together_are_refused(school: Api, runs: dict[str, str]) -> None:
    cursor = listed(school, limit=1)["next_cursor"]
    answer = school.http.get("/runs", params={"cursor": cursor, "offset": 1})
    assert answer.status_code == 400
    assert answer.json()["error"]["details"] == [
        {"path": "cursor", "message": "give cursor or offset, not both"}
    ]


def test_a_run_ended_within_the_second_it_began_does_not_end_before_it_began() -> None:
    # The durable status keeps whole seconds (as the Durable HTTP API does), the index microseconds.
    created = "2026-12-06T19:23:20.963358+00:00"
    assert ended_at("2026-12-06T19:23:20+00:00", created) == created
    assert ended_at("2026-12-06T19:23:21+00:00", created) == "2026-12-06T19:23:21+00:00"
    assert ended_at("2026-12-06T19:23:20Z", "2026-12-06T19:23:20.5") == "2026-12-06T19:23:20.5"
    assert ended_at("not a time", created) == "not a time"
