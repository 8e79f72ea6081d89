"""The run index's state, filters and cursors: one contract, both adapters (SQLite, Cosmos DB emulator).

What ``GET /api/v1/runs`` relies on to answer from the index alone: every entry carries its
status, end, usage and starter; a status or starter filter and a cursor page are one query;
writes that come late or out of order never turn an ended run back into a going one; entries
of an older release read as "not known yet" (status ``""``) until settled.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest

from convergio.tenants import RunRecord, TenantStore, index_run_end, open_tenant_store
from convergio.tenants._runs_cosmos import run_documents
from tests.tenants._backends import OpenStore

STAMP = "2026-03-0{}T08:00:00.000000+00:00"


def ids(records: list[RunRecord]) -> list[str]:
    return [r.run_id for r in records]


def seeded(store: TenantStore, n: int = 6) -> None:
    store.add_tenant("Acme")
    store.add_tenant("Beta")
    for i in range(n):
        store.record_run(
            "acme", f"run-{i}", "essay", created_at=STAMP.format(i + 1), started_by=f"user-{i % 2}"
        )
    store.record_run("beta", "beta-run", "quiz", created_at=STAMP.format(1), started_by="user-0")


def test_a_recorded_run_is_pending_with_its_starter(store: TenantStore) -> None:
    store.add_tenant("Acme")
    store.record_run("acme", "r1", "essay", started_by="principal:ada")
    record = store.run("r1")
    assert record is not None
    assert (record.status, record.started_by, record.finished_at, dict(record.usage)) == (
        "Pending",
        "principal:ada",
        None,
        {},
    )
    assert record.updated_at == record.created_at
    assert ids(store.list_runs("acme", started_by="principal:ada")) == ["r1"]
    store.record_run("acme", "r1", "essay", started_by="someone-else")  # a retried start changes nothing
    assert store.run("r1") == record


def test_a_run_s_life_is_written_into_its_entry(store: TenantStore) -> None:
    store.add_tenant("Acme")
    store.record_run("acme", "r1", "essay")
    assert store.update_run("r1", status="Running") is True
    assert store.update_run("r1", status="Running") is False  # nothing changed
    usage = {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15, "tool_calls": 0}
    assert store.update_run("r1", status="Completed", finished_at=STAMP.format(9), usage=usage)
    record = store.run("r1")
    assert record is not None
    assert (record.status, record.finished_at) == ("Completed", STAMP.format(9))
    assert dict(record.usage) == {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}
    assert record.updated_at > record.created_at
    assert store.list_runs("acme") == [record]  # the listing says the same as the run's own entry


def test_an_ended_run_never_goes_back_to_going(store: TenantStore) -> None:
    store.add_tenant("Acme")
    store.record_run("acme", "fast", "essay")
    # A fast run ended before its start's "Running" was written: the late write is dropped.
    assert store.update_run("fast", status="Completed", usage={"total_tokens": 7})
    assert store.update_run("fast", status="Running") is False
    assert store.update_run("fast", status="Pending") is False
    record = store.run("fast")
    assert record is not None and record.status == "Completed" and record.finished_at is not None
    # One end may correct another (a cancel racing the end); the first end time stays.
    assert store.update_run("fast", status="Terminated")
    after = store.run("fast")
    assert after is not None
    assert (after.status, after.finished_at, dict(after.usage)) == (
        "Terminated",
        record.finished_at,
        {"total_tokens": 7},
    )
    assert ids(store.list_runs("acme", status="Terminated")) == ["fast"]
    assert store.list_runs("acme", status="Completed") == []


def test_updates_of_unknown_runs_and_bad_statuses(store: TenantStore) -> None:
    store.add_tenant("Acme")
    assert store.update_run("nobody", status="Completed") is False
    store.record_run("acme", "r1", "essay")
    with pytest.raises(ValueError, match="status"):
        store.update_run("r1", status="Done")
    store.forget_run("r1")
    assert store.update_run("r1", status="Running") is False


def test_filters_by_status_and_starter_within_one_tenant(store: TenantStore) -> None:
    seeded(store)
    for run_id, status in (
        ("run-0", "Completed"),
        ("run-1", "Failed"),
        ("run-2", "Completed"),
        ("run-5", "Running"),
    ):
        store.update_run(run_id, status=status)
    assert ids(store.list_runs("acme", status="Completed")) == ["run-2", "run-0"]
    assert ids(store.list_runs("acme", status="Pending")) == ["run-4", "run-3"]
    assert ids(store.list_runs("acme", status="Running")) == ["run-5"]
    assert ids(store.list_runs("acme", started_by="user-0")) == ["run-4", "run-2", "run-0"]
    assert ids(store.list_runs("acme", status="Completed", started_by="user-0")) == ["run-2", "run-0"]
    assert ids(store.list_runs("acme", status="Completed", limit=1, offset=1)) == ["run-0"]
    assert store.list_runs("acme", started_by="user-9") == []
    assert ids(store.list_runs("beta", started_by="user-0")) == ["beta-run"]  # never another tenant's
    assert store.list_runs("acme", status="Terminated") == []


def walk(store: TenantStore, tenant: str, size: int, **filters: Any) -> list[list[str]]:
    pages: list[list[str]] = []
    before: str | None = None
    while True:
        page = store.list_runs(tenant, limit=size, before=before, **filters)
        if not page:
            return pages
        pages.append(ids(page))
        before = page[-1].cursor


def test_cursors_walk_every_run_once_in_order(store: TenantStore) -> None:
    seeded(store, 7)
    for i in range(3):  # ties: recorded in the same instant, the later recorded lists first
        store.record_run("acme", f"tie-{i}", "essay", created_at=STAMP.format(4))
    everything = ids(store.list_runs("acme", limit=100))
    assert everything[:3] == ["run-6", "run-5", "run-4"]
    assert everything[3:7] == ["tie-2", "tie-1", "tie-0", "run-3"]
    pages = walk(store, "acme", 3)
    assert [len(p) for p in pages] == [3, 3, 3, 1]
    assert [run for page in pages for run in page] == everything
    assert walk(store, "acme", 2, started_by="user-1") == [["run-5", "run-3"], ["run-1"]]


def test_a_cursor_page_does_not_shift_when_runs_arrive(store: TenantStore) -> None:
    seeded(store)
    first = store.list_runs("acme", limit=2)
    store.record_run("acme", "newest", "essay", created_at=STAMP.format(9))
    assert ids(store.list_runs("acme", limit=2, before=first[-1].cursor)) == ["run-3", "run-2"]
    assert ids(store.list_runs("acme", limit=2, offset=2)) == ["run-4", "run-3"]  # an offset shifts


@pytest.mark.parametrize(
    ("kwargs", "word"),
    [
        ({"status": "Done"}, "status"),
        ({"before": "not-a-cursor"}, "before"),
        ({"before": "2026-03-01T08:00:00+00:00|12"}, "before"),
        ({"limit": 0}, "limit"),
    ],
)
def test_bad_filters_are_refused_by_name(store: TenantStore, kwargs: dict[str, Any], word: str) -> None:
    store.add_tenant("Acme")
    with pytest.raises(ValueError, match=word):
        store.list_runs("acme", **kwargs)


def test_two_instances_see_each_others_updates(open_store: OpenStore) -> None:
    one, two = open_store(), open_store()
    one.add_tenant("Acme")
    one.record_run("acme", "r1", "essay")
    assert two.update_run("r1", status="Failed", usage={"total_tokens": 3})
    assert ids(one.list_runs("acme", status="Failed")) == ["r1"]
    record = one.run("r1")
    assert record is not None and record.status == "Failed" and dict(record.usage) == {"total_tokens": 3}


def test_the_run_s_end_activity_writes_its_end(store: TenantStore) -> None:
    store.add_tenant("Acme")
    store.record_run("acme", "ok", "essay")
    store.record_run("acme", "bad", "essay")
    usage = {"prompt_tokens": 4, "completion_tokens": 2, "total_tokens": 6, "tool_calls": 1}
    index_run_end(
        store, {"run_id": "ok", "status": "completed", "finished_at": STAMP.format(5), "usage": usage}
    )
    index_run_end(store, {"run_id": "bad", "status": "failed", "finished_at": STAMP.format(6), "usage": {}})
    ok, bad = store.run("ok"), store.run("bad")
    assert ok is not None and bad is not None
    assert (ok.status, ok.finished_at, dict(ok.usage)) == ("Completed", STAMP.format(5), usage)
    assert (bad.status, bad.finished_at) == ("Failed", STAMP.format(6))


def test_the_end_activity_never_fails_a_run_over_the_index() -> None:
    class Down:
        def update_run(self, *args: Any, **kwargs: Any) -> bool:
            raise OSError("the store is down")

    index_run_end(Down(), {"run_id": "r", "status": "completed"})  # type: ignore[arg-type]  # logged, not raised


def _old_sqlite_home(home: Path) -> None:
    """A tenant store file as the release before the index kept state made it."""
    home.mkdir(parents=True)
    with sqlite3.connect(home / "tenants.sqlite3") as db:
        db.executescript(
            """
            CREATE TABLE tenants (id TEXT PRIMARY KEY, name TEXT NOT NULL, created_at TEXT NOT NULL);
            CREATE TABLE runs (run_id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL REFERENCES tenants(id),
                               graph_name TEXT NOT NULL, created_at TEXT NOT NULL);
            CREATE INDEX runs_by_tenant ON runs (tenant_id, created_at);
            INSERT INTO tenants VALUES ('acme', 'Acme', '2026-01-01T00:00:00.000000+00:00');
            INSERT INTO runs VALUES ('old-1', 'acme', 'essay', '2026-03-01T08:00:00.000000+00:00');
            INSERT INTO runs VALUES ('old-2', 'acme', 'essay', '2026-03-02T08:00:00.000000+00:00');
            """
        )


def test_an_older_sqlite_home_is_widened_in_place_and_keeps_its_runs(tmp_path: Path) -> None:
    _old_sqlite_home(tmp_path / "home")
    store = open_tenant_store(tmp_path / "home")
    assert ids(store.list_runs("acme")) == ["old-2", "old-1"]
    assert {r.status for r in store.list_runs("acme")} == {""}  # not known yet
    assert ids(store.list_runs("acme", status="")) == ["old-2", "old-1"]
    assert store.update_run("old-1", status="Completed")
    assert ids(store.list_runs("acme", status="")) == ["old-2"]
    assert ids(store.list_runs("acme", status="Completed")) == ["old-1"]
    store.record_run("acme", "new", "essay")
    again = open_tenant_store(tmp_path / "home")  # a second open finds the columns there
    assert [r.status for r in again.list_runs("acme")] == ["Pending", "", "Completed"]
    with sqlite3.connect(tmp_path / "home" / "tenants.sqlite3") as db:
        plan = " ".join(
            str(row)
            for row in db.execute(
                "EXPLAIN QUERY PLAN SELECT rowid FROM runs WHERE tenant_id = 'acme' AND status = 'Completed'"
                " ORDER BY created_at DESC, rowid DESC LIMIT 10"
            )
        )
    assert "runs_by_tenant_status" in plan and "TEMP B-TREE" not in plan  # an index walk, no sort


def _as_left_by_an_older_release(store: TenantStore, backend: str, run_id: str) -> None:
    """Strip an entry down to what the release before the index kept state wrote."""
    if backend == "sqlite":
        with sqlite3.connect(store.path) as db:  # type: ignore[attr-defined]
            db.execute(
                "UPDATE runs SET status = '', updated_at = '', usage = '{}', started_by = ''"
                " WHERE run_id = ?",
                (run_id,),
            )
        return
    record = store.run(run_id)
    assert record is not None
    claim, listing = run_documents(record, seq=1)
    drop = ("status", "finished_at", "updated_at", "usage", "started_by", "seq")
    container = store.container  # type: ignore[attr-defined]
    container.upsert_item({k: v for k, v in claim.items() if k not in drop})
    container.upsert_item({k: v for k, v in listing.items() if k not in drop})


def test_entries_of_an_older_release_read_as_not_known_until_settled(
    store: TenantStore, backend: str
) -> None:
    store.add_tenant("Acme")
    store.record_run("acme", "old-1", "essay", created_at=STAMP.format(1), started_by="ada")
    _as_left_by_an_older_release(store, backend, "old-1")
    store.record_run("acme", "new", "essay")
    assert [r.status for r in store.list_runs("acme")] == ["Pending", ""]
    assert ids(store.list_runs("acme", status="")) == ["old-1"]
    old = store.run("old-1")
    assert old is not None and (old.status, old.started_by, old.updated_at) == ("", "", old.created_at)
    assert store.update_run("old-1", status="Failed")
    assert ids(store.list_runs("acme", status="Failed")) == ["old-1"]
    assert store.list_runs("acme", status="") == []
