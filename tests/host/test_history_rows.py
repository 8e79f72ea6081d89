"""A step's history events are one row (ADR 0041); a store an older host wrote, one event a row,
is read and appended to as it is."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from convergio.host._events import Event, EventType, new_event
from convergio.host._store import InstanceRecord, Message, StepWrite, Store, stored_events

_STAMP = "2026-12-06T00:00:00.000000Z"
_OLD_HISTORY = """
CREATE TABLE history (
    instance_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    event TEXT NOT NULL,
    PRIMARY KEY (instance_id, seq)
) WITHOUT ROWID;
"""


def _store(path: Path, instance_id: str = "i") -> Store:
    store = Store(path)
    record = InstanceRecord(
        instance_id, "orch", "e1", "Pending", None, None, None, None, None, None, _STAMP, _STAMP, 0, None
    )
    started = new_event(EventType.EXECUTION_STARTED, _STAMP, Name="orch", Input=None)
    store.create(record, Message(instance_id, "e1", 0.0, started), replace=False)
    return store


def _events(first: int, count: int) -> list[Event]:
    """Events that tell apart by their ids, with text a naive split on brackets would break."""
    return [
        new_event(EventType.TASK_COMPLETED, _STAMP, TaskScheduledId=n, Result=f'["]", {n}, "[\\u00e9"]')
        for n in range(first, first + count)
    ]


def _step(store: Store, events: list[Event], expected: int, *, reset: bool = False) -> None:
    store.commit_step(
        StepWrite(
            "i",
            history=events,
            reset_history=reset,
            updates={"status": "Running", "updated_at": _STAMP},
            expected_len=expected,
        )
    )


def _rows(path: Path) -> list[tuple[int, str]]:
    db = sqlite3.connect(path)
    try:
        return list(db.execute("SELECT seq, event FROM history WHERE instance_id = 'i' ORDER BY seq"))
    finally:
        db.close()


def test_each_step_writes_its_events_as_one_row(tmp_path: Path) -> None:
    path = tmp_path / "durable.sqlite3"
    store = _store(path)
    written: list[Event] = []
    for count in (4, 1, 3):
        events = _events(len(written), count)
        _step(store, events, len(written))
        written += events
    assert store.history("i") == written
    assert [seq for seq, _ in _rows(path)] == [0, 4, 5]
    record = store.get("i", header=True)
    assert record is not None and record.history_len == 8
    store.close()


def test_a_reset_history_is_one_row_from_the_start(tmp_path: Path) -> None:
    path = tmp_path / "durable.sqlite3"
    store = _store(path)
    _step(store, _events(0, 3), 0)
    _step(store, _events(3, 2), 3)
    fresh = _events(10, 2)
    _step(store, fresh, 5, reset=True)
    assert store.history("i") == fresh
    assert [seq for seq, _ in _rows(path)] == [0]
    store.close()


def test_a_store_with_one_event_a_row_is_read_and_grows_as_it_is(tmp_path: Path) -> None:
    """An older host's history table (``WITHOUT ROWID``, an event per row) needs no upgrade: its
    rows and the new steps' rows read back as one history, and new steps go on appending."""
    path = tmp_path / "durable.sqlite3"
    db = sqlite3.connect(path)
    db.executescript(_OLD_HISTORY)
    db.close()
    store = _store(path)
    old = _events(0, 3)
    with store.transaction() as tx:
        tx.executemany(
            "INSERT INTO history VALUES ('i', ?, ?)", [(n, json.dumps(e)) for n, e in enumerate(old)]
        )
        tx.execute("UPDATE instances SET history_len = 3 WHERE instance_id = 'i'")
    new = _events(3, 2)
    _step(store, new, 3)
    _step(store, _events(5, 1), 5)
    assert store.history("i") == [*old, *new, *_events(5, 1)]
    assert [seq for seq, _ in _rows(path)] == [0, 1, 2, 3, 5]
    store.close()
    sql = sqlite3.connect(path).execute("SELECT sql FROM sqlite_master WHERE name = 'history'").fetchone()
    assert "WITHOUT ROWID" in sql[0]  # left as it was


def test_stored_events_reads_both_row_shapes_in_order() -> None:
    events = _events(0, 4)
    rows = [json.dumps(events[0]), json.dumps(events[1:3]), json.dumps(events[3])]
    assert stored_events(rows) == events
    assert stored_events([]) == []
    assert stored_events(iter([json.dumps(events)])) == events
