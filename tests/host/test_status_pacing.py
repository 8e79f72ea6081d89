"""When a custom status is stored: at once when the instance is quiet, at most every 250 ms
and at most that late while completions keep arriving (ADR 0011, ADR 0012)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from convergio.host import _status_pacing
from convergio.host._events import EventType, new_event
from convergio.host._records import new_record, started_event
from convergio.host._status_pacing import StatusPacer
from convergio.host._store import Message, StepWrite, Store

STAMP = "2026-12-06T00:00:00.000000Z"


def _store(tmp_path: Path) -> Store:
    store = Store(tmp_path / "durable.sqlite3")
    record = new_record("i", "orch", None, STAMP, parent=None, version=None)
    store.create(record, Message("i", record.execution_id, 0.0, started_event(record, STAMP)), replace=False)
    store.commit_step(StepWrite("i", history=[new_event(EventType.ORCHESTRATOR_STARTED, STAMP)]))
    return store


def test_a_busy_instance_stores_its_status_at_most_every_interval(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_status_pacing, "STATUS_INTERVAL_S", 0.2)
    store, busy = _store(tmp_path), {"i": True}
    pacer = StatusPacer(store, lambda instance_id: busy[instance_id])
    assert pacer.to_store("i", '"one"', 1, last=False) == '"one"'  # never stored yet: at once
    assert pacer.wake_at("i") is None
    assert pacer.to_store("i", '"two"', 1, last=False) is None  # busy, within the interval: pending
    due = pacer.wake_at("i")
    assert due is not None and time.time() < due <= time.time() + 0.2
    pacer.store_pending(store.get("i", header=True))  # type: ignore[arg-type]  # not due yet
    assert store.get("i").custom_status is None  # type: ignore[union-attr]
    time.sleep(0.25)
    pacer.store_pending(store.get("i", header=True))  # type: ignore[arg-type]
    assert store.get("i").custom_status == '"two"'  # type: ignore[union-attr]
    assert pacer.wake_at("i") is None  # nothing pending now
    assert pacer.to_store("i", '"three"', 1, last=True) == '"three"'  # the last step: at once
    busy["i"] = False
    pacer.to_store("i", '"four"', 1, last=False)
    assert pacer.to_store("i", '"five"', 1, last=False) == '"five"'  # quiet: every state is stored
    store.close()


def test_a_pending_status_follows_the_history_and_is_forgotten_with_the_instance(tmp_path: Path) -> None:
    store = _store(tmp_path)
    pacer = StatusPacer(store, lambda instance_id: True)
    pacer.to_store("i", '"first"', 1, last=False)
    assert pacer.to_store("i", '"pending"', 0, last=False) is None  # made at an older history
    pacer.store_pending(store.get("i", header=True))  # type: ignore[arg-type]
    assert pacer.wake_at("i") is not None
    pacer.moved("i", 1)  # a step that ran no code: the pending status is still the newest
    time.sleep(_status_pacing.STATUS_INTERVAL_S + 0.05)
    pacer.store_pending(store.get("i", header=True))  # type: ignore[arg-type]
    assert store.get("i").custom_status == '"pending"'  # type: ignore[union-attr]
    pacer.to_store("i", '"again"', 1, last=False)
    pacer.forget("i")
    assert pacer.wake_at("i") is None
    assert pacer.to_store("i", None, 1, last=False) is None and pacer.wake_at("i") is None
    store.close()
