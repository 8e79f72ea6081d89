"""The retention sweep's rules over both control-plane backends, with a fake task hub (ADR 0018)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from convergio.controlplane import CosmosPlane
from convergio.retention import (
    RetentionPolicy,
    backstop,
    last_sweep,
    policy_of,
    set_policy,
    stamp,
    sweep_tenant,
)
from convergio.streams import RunStream, open_run_stream
from convergio.tenants import TenantStore, open_tenant_store

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def ago(days: float) -> datetime:
    return NOW - timedelta(days=days)


@dataclass
class FakeHub:
    """The task hub as the sweep sees it: status and last update per instance."""

    instances: dict[str, tuple[str, datetime]] = field(default_factory=dict)
    purged: list[str] = field(default_factory=list)
    purged_before: list[datetime] = field(default_factory=list)

    async def state(self, run_id: str) -> tuple[str | None, datetime | None]:
        return self.instances.get(run_id, (None, None))

    async def purge(self, run_id: str) -> None:
        del self.instances[run_id]
        self.purged.append(run_id)

    async def purge_finished_before(self, moment: datetime) -> int:
        self.purged_before.append(moment)
        return 0


@dataclass
class Plane:
    store: TenantStore
    streams: RunStream
    hub: FakeHub

    def run(
        self, run_id: str, started: datetime, status: str | None, updated: datetime | None = None
    ) -> None:
        self.store.record_run("acme", run_id, "essay", created_at=stamp(started))
        if status is not None:
            self.hub.instances[run_id] = (status, updated or started)
        self.streams.append(run_id, "text", {"delta": run_id})

    def sweep(self, batch: int = 500) -> dict[str, Any]:
        return asyncio.run(sweep_tenant(self.store, self.streams, self.hub, "acme", NOW, batch=batch))

    def listed(self) -> set[str]:
        return {r.run_id for r in self.store.list_runs("acme", limit=200)}


@pytest.fixture(params=["sqlite", "cosmos"])
def plane(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Plane]:
    cosmos: CosmosPlane | None = (
        None if request.param == "sqlite" else request.getfixturevalue("cosmos_plane")
    )
    store = open_tenant_store(tmp_path, cosmos=cosmos)
    streams = open_run_stream(tmp_path, cosmos=cosmos)
    store.add_tenant("Acme")
    yield Plane(store, streams, FakeHub())
    streams.close()


# -- the policy --------------------------------------------------------------------------------


def test_the_defaults_are_90_and_7_days() -> None:
    assert RetentionPolicy().as_dict() == {"finished_runs_days": 90, "stream_events_days": 7}


@pytest.mark.parametrize(
    ("values", "field_name"),
    [
        ({"finished_runs_days": 0}, "finished_runs_days"),
        ({"finished_runs_days": 3651}, "finished_runs_days"),
        ({"stream_events_days": 0}, "stream_events_days"),
        ({"finished_runs_days": 5, "stream_events_days": 6}, "stream_events_days"),
        ({"finished_runs_days": True}, "finished_runs_days"),
    ],
)
def test_a_policy_out_of_bounds_is_refused_naming_the_field(values: dict[str, Any], field_name: str) -> None:
    with pytest.raises(ValueError, match=f"^{field_name}:"):
        RetentionPolicy(**values)


def test_a_policy_is_kept_per_tenant(plane: Plane) -> None:
    plane.store.add_tenant("Beta")
    assert policy_of(plane.store, "acme") == (RetentionPolicy(), False)
    set_policy(plane.store, "acme", RetentionPolicy(30, 2))
    assert policy_of(plane.store, "acme") == (RetentionPolicy(30, 2), True)
    assert policy_of(plane.store, "beta") == (RetentionPolicy(), False)


# -- a tenant's pass ---------------------------------------------------------------------------


def test_old_finished_runs_are_purged_and_everything_else_is_kept(plane: Plane) -> None:
    set_policy(plane.store, "acme", RetentionPolicy(30, 7))
    plane.run("old-done", ago(40), "Completed", ago(39))
    plane.run("old-failed", ago(35), "Failed", ago(35))
    plane.run("old-cancelled", ago(35), "Terminated", ago(31))
    plane.run("old-ghost", ago(60), None)  # no state: purged already, or never started
    plane.run("old-running", ago(50), "Running")  # waiting for a human since then
    plane.run("long-run", ago(45), "Completed", ago(2))  # ended recently: kept 30 days from its end
    plane.run("recent", ago(1), "Completed", ago(1))
    summary = plane.sweep()
    assert set(plane.hub.purged) == {"old-done", "old-failed", "old-cancelled"}
    assert plane.listed() == {"old-running", "long-run", "recent"}
    for gone in ("old-done", "old-failed", "old-cancelled", "old-ghost"):
        assert plane.streams.read(gone) == []
    assert [e.data["delta"] for e in plane.streams.read("recent")] == ["recent"]
    assert summary["runs_purged"] == 4 and summary["runs_kept"] == 2 and summary["more"] is False
    assert summary["at"] == stamp(NOW) and summary["policy"] == {
        "finished_runs_days": 30,
        "stream_events_days": 7,
    }
    assert last_sweep(plane.store, "acme") == summary


def test_a_pass_is_bounded_and_the_next_ones_finish_the_work(plane: Plane) -> None:
    for i in range(5):
        plane.run(f"old-{i}", ago(100 + i), "Completed")
    assert plane.sweep(batch=2)["runs_purged"] == 2 and len(plane.listed()) == 3
    assert plane.sweep(batch=2)["more"] is True
    last = plane.sweep(batch=2)
    assert (last["runs_purged"], last["more"], plane.listed()) == (1, False, set())


def test_stream_events_of_runs_started_before_the_stream_policy_are_dropped(plane: Plane) -> None:
    plane.run("running-for-ten-days", ago(10), "Running")
    plane.run("yesterday", ago(1), "Completed")
    first = plane.sweep()
    assert plane.streams.read("running-for-ten-days") == []
    assert len(plane.streams.read("yesterday")) == 1
    assert plane.listed() == {"running-for-ten-days", "yesterday"}  # the runs themselves are kept
    assert (first["stream_runs"], first["events_dropped"], first["runs_purged"]) == (1, 1, 0)
    # The next pass starts where this one stopped: the window is not scanned again.
    assert first["streams_through"] == stamp(ago(10))
    assert plane.sweep()["events_dropped"] == 0


def test_nothing_to_do_still_records_the_sweep(plane: Plane) -> None:
    summary = plane.sweep()
    assert summary["runs_examined"] == 0 and summary["more"] is False
    assert last_sweep(plane.store, "acme") == summary


# -- the backstop ------------------------------------------------------------------------------


def test_the_backstop_purges_past_the_longest_policy(plane: Plane) -> None:
    plane.streams.append("sub/graph", "text", {"delta": "x"})
    done = asyncio.run(backstop(plane.streams, plane.hub, NOW, finished_runs_days=90, stream_events_days=7))
    assert plane.hub.purged_before == [ago(90)]
    assert done["events_dropped"] == 0 and len(plane.streams.read("sub/graph")) == 1  # events are new


# -- expiring tenant records (Idempotency-Key) -----------------------------------------------------


def _key(plane: Plane, name: str, expires: datetime | None) -> dict[str, Any]:
    body: dict[str, Any] = {"run_id": f"run-{name}", "created_at": stamp(ago(30))}
    if expires is not None:
        body["expires_at"] = expires.isoformat()
    plane.store.records("idempotency").put("acme", name, body)
    return body


def test_expired_keys_are_deleted_a_day_after_they_expire_and_nothing_else(plane: Plane) -> None:
    _key(plane, "old", ago(1.5))
    _key(plane, "just-expired", ago(0.5))  # inside the grace day: a request may be renewing it
    _key(plane, "live", NOW + timedelta(hours=3))
    _key(plane, "legacy", None)  # written before records said when they expire
    plane.store.records("connections").put("acme", "old", {"expires_at": ago(9).isoformat()})
    summary = plane.sweep()
    assert summary["records_expired"] == 1
    names = [name for name, _ in plane.store.records("idempotency").items("acme")]
    assert names == ["just-expired", "legacy", "live"]
    assert plane.store.records("connections").get("acme", "old") is not None  # not an expiring kind


def test_expired_keys_are_deleted_in_bounded_passes(plane: Plane) -> None:
    for n in range(5):
        _key(plane, f"k{n}", ago(3))
    first = plane.sweep(batch=2)
    assert first["records_expired"] == 2 and first["more"] is True
    assert plane.sweep(batch=2)["records_expired"] == 2
    last = plane.sweep(batch=2)
    assert last["records_expired"] == 1 and last["more"] is False
    assert plane.store.records("idempotency").items("acme") == []


def test_a_key_renewed_after_the_sweep_read_it_is_kept(plane: Plane, monkeypatch: pytest.MonkeyPatch) -> None:
    read = _key(plane, "k", ago(3))
    records = plane.store.records("idempotency")
    renewed = {**read, "run_id": "run-next", "expires_at": (NOW + timedelta(days=1)).isoformat()}
    original = type(records).items

    def items_then_renew(self: Any, tenant_id: str) -> list[tuple[str, dict[str, Any]]]:
        found = original(self, tenant_id)
        records.put("acme", "k", renewed)  # a request renews the key between the read and the delete
        return found

    monkeypatch.setattr(type(records), "items", items_then_renew)
    assert plane.sweep()["records_expired"] == 0
    assert records.get("acme", "k") == renewed
