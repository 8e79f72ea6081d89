"""The embedded host's store: an instance's large values live apart from its header."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from convergio.host._events import EventType, new_event
from convergio.host._store import InstanceRecord, Message, StepWrite, Store

_STAMP = "2026-11-24T00:00:00.000000Z"


def _record(instance_id: str, input_json: str) -> InstanceRecord:
    return InstanceRecord(
        instance_id,
        "graph",
        "e1",
        "Pending",
        input_json,
        None,
        None,
        None,
        None,
        None,
        _STAMP,
        _STAMP,
        0,
        None,
    )


def _create(store: Store, record: InstanceRecord) -> None:
    started = new_event(EventType.EXECUTION_STARTED, _STAMP, Name=record.name, Input=record.input)
    store.create(record, Message(record.instance_id, record.execution_id, 0.0, started), replace=False)


def _wal_bytes(path: Path) -> int:
    return Path(f"{path}-wal").stat().st_size


def test_steps_do_not_rewrite_a_large_input(tmp_path: Path) -> None:
    """A step's small update writes a few pages, not the instance's 2 MB input again each time."""
    path = tmp_path / "durable.sqlite3"
    store = Store(path)
    big = '"' + "x" * 2_000_000 + '"'
    _create(store, _record("big", big))
    before = _wal_bytes(path)
    for n in range(20):
        store.commit_step(
            StepWrite(
                "big",
                history=[new_event(EventType.ORCHESTRATOR_STARTED, _STAMP)],
                updates={
                    "status": "Running",
                    "updated_at": _STAMP,
                    "shim": f'{{"n": {n}}}',
                    "custom_status": str(n),
                },
            )
        )
    assert _wal_bytes(path) - before < 256 * 1024
    record = store.get("big")
    assert record is not None
    assert (record.input, record.shim, record.custom_status, record.history_len) == (
        big,
        '{"n": 19}',
        "19",
        20,
    )
    header = store.get("big", header=True)
    assert header is not None and (header.input, header.shim, header.status) == (None, None, "Running")
    assert [r.input for r in store.query(prefix="big")] == [big]
    store.close()


def test_a_store_from_before_payloads_is_upgraded_in_place(tmp_path: Path) -> None:
    path = tmp_path / "durable.sqlite3"
    old = sqlite3.connect(path)
    old.executescript(
        """
        CREATE TABLE instances (
            instance_id TEXT PRIMARY KEY, name TEXT NOT NULL, execution_id TEXT NOT NULL,
            status TEXT NOT NULL, input TEXT, output TEXT, custom_status TEXT,
            parent_instance_id TEXT, parent_execution_id TEXT, parent_task_id INTEGER,
            created_at TEXT NOT NULL, updated_at TEXT NOT NULL, history_len INTEGER NOT NULL DEFAULT 0,
            shim TEXT
        );
        """
    )
    old.execute(
        "INSERT INTO instances VALUES ('a', 'graph', 'e1', 'Completed', '{\"in\": 1}', '\"out\"', "
        "'{\"done\": 3}', NULL, NULL, NULL, ?, ?, 7, NULL)",
        (_STAMP, _STAMP),
    )
    old.commit()
    old.close()

    for _ in range(2):  # the upgrade runs once; opening again finds nothing to move
        store = Store(path)
        record = store.get("a")
        assert record is not None
        assert (record.input, record.output, record.custom_status, record.shim) == (
            '{"in": 1}',
            '"out"',
            '{"done": 3}',
            None,
        )
        assert (record.status, record.history_len) == ("Completed", 7)
        store.close()
    db = sqlite3.connect(path)
    columns = {row[1] for row in db.execute("PRAGMA table_info(instances)")}
    assert not columns & {"input", "output", "custom_status", "shim"}
    assert db.execute("SELECT 1 FROM sqlite_master WHERE name = 'instances_created'").fetchone() == (1,)


def test_purge_removes_the_large_values_too(tmp_path: Path) -> None:
    path = tmp_path / "durable.sqlite3"
    store = Store(path)
    _create(store, _record("gone", '"payload"'))
    assert store.purge(["gone"]) == 1
    assert store.get("gone") is None
    store.close()
    assert sqlite3.connect(path).execute("SELECT COUNT(*) FROM payloads").fetchone() == (0,)
