"""``runs_between``: the run index, oldest first within a time window, on both adapters (ADR 0018)."""

from __future__ import annotations

import pytest

from convergio.tenants import TenantStore

STAMPS = [f"2025-01-0{d}T00:00:00.000000+00:00" for d in range(1, 7)]


def ids(records: list[object]) -> list[str]:
    return [r.run_id for r in records]  # type: ignore[attr-defined]


def test_runs_between_lists_a_window_oldest_first_and_pages(store: TenantStore) -> None:
    store.add_tenant("Acme")
    store.add_tenant("Beta")
    for i in (3, 0, 5, 1, 4, 2):  # out of order: the listing follows created_at
        store.record_run("acme", f"run-{i}", "essay", created_at=STAMPS[i])
    store.record_run("beta", "beta-run", "quiz", created_at=STAMPS[0])
    assert ids(store.runs_between("acme", before=STAMPS[4], limit=10)) == ["run-0", "run-1", "run-2", "run-3"]
    assert ids(store.runs_between("acme", since=STAMPS[2], before=STAMPS[4], limit=10)) == ["run-2", "run-3"]
    assert ids(store.runs_between("acme", before=STAMPS[5], limit=2)) == ["run-0", "run-1"]
    assert ids(store.runs_between("acme", before=STAMPS[5], limit=2, offset=3)) == ["run-3", "run-4"]
    assert store.runs_between("acme", before=STAMPS[0], limit=10) == []
    assert ids(store.runs_between("beta", before=STAMPS[5], limit=10)) == ["beta-run"]
    record = store.runs_between("acme", before=STAMPS[1], limit=1)[0]
    assert (record.tenant_id, record.graph_name, record.created_at) == ("acme", "essay", STAMPS[0])


def test_runs_between_follows_forget_run(store: TenantStore) -> None:
    store.add_tenant("Acme")
    for i in range(3):
        store.record_run("acme", f"run-{i}", "g", created_at=STAMPS[i])
    store.forget_run("run-0")
    assert ids(store.runs_between("acme", before=STAMPS[5], limit=10)) == ["run-1", "run-2"]


def test_runs_recorded_in_the_same_instant_come_in_recording_order(store: TenantStore) -> None:
    store.add_tenant("Acme")
    for i in range(3):
        store.record_run("acme", f"run-{i}", "g", created_at=STAMPS[0])
    assert ids(store.runs_between("acme", before=STAMPS[1], limit=10)) == ["run-0", "run-1", "run-2"]


@pytest.mark.parametrize(("limit", "offset", "message"), [(0, 0, "limit"), (1, -1, "offset")])
def test_bad_pages_are_refused(store: TenantStore, limit: int, offset: int, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        store.runs_between("acme", before=STAMPS[0], limit=limit, offset=offset)
