"""The embedded host's store: an instance's large values live apart from its header."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest

from convergio.host._checkpoint import Checkpointer
from convergio.host._events import EventType, new_event
from convergio.host._store import InstanceRecord, Message, StepConflict, StepWrite, Store

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
    assert _wal_bytes(path) - before < 512 * 1024  # a few pages a step, not the 2 MB input again
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


def test_the_wal_is_checkpointed_off_the_committing_thread(tmp_path: Path) -> None:
    """Steps do not checkpoint inline (ADR 0028): the ``checkpoint`` thread moves their pages into
    the database file, so it grows while the store's own threshold is far from reached."""
    from convergio.host._checkpoint import BOUND_PAGES, EVERY

    path = tmp_path / "durable.sqlite3"
    store = Store(path)
    with store.reading() as db:
        assert db.execute("PRAGMA wal_autocheckpoint").fetchone() == (BOUND_PAGES,)
    _create(store, _record("i", '"x"'))
    started = path.stat().st_size
    for n in range(2 * EVERY):
        store.commit_step(
            StepWrite(
                "i",
                history=[new_event(EventType.ORCHESTRATOR_STARTED, _STAMP, Note="y" * 3000)],
                updates={"status": "Running", "updated_at": _STAMP, "shim": str(n)},
                expected_len=n,
            )
        )
    assert 2 * EVERY * 3000 < BOUND_PAGES * 4096  # the inline checkpoint is not what moves them
    deadline = time.monotonic() + 10
    while path.stat().st_size < started + EVERY * 3000 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert path.stat().st_size >= started + EVERY * 3000
    assert len(store.history("i")) == 2 * EVERY
    thread = store._checkpoints._poller._thread
    store.close()
    assert not thread.is_alive()


def test_the_checkpoint_thread_keeps_one_connection_and_closes_it_first(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The thread reuses its connection from round to round, and closes it when the store
    closes, before the store's own: the last connection closed removes the WAL."""
    from convergio.host import _checkpoint

    monkeypatch.setattr(_checkpoint, "EVERY", 4)
    path = tmp_path / "durable.sqlite3"
    store = Store(path)
    _create(store, _record("i", '"x"'))
    checkpoints = store._checkpoints
    connections = []
    for n in range(3 * 4):
        rounds = checkpoints.rounds
        store.commit_step(StepWrite("i", history=[new_event(EventType.ORCHESTRATOR_STARTED, _STAMP)]))
        if n % 4 == 3:  # the thread was just poked: wait for its round
            assert _wait_for_round(checkpoints, rounds, timeout=10)
            connections.append(checkpoints._db)
    assert connections[0] is not None and all(db is connections[0] for db in connections)
    store.close()
    assert checkpoints._db is None
    with pytest.raises(sqlite3.ProgrammingError):
        connections[0].execute("SELECT 1")
    assert not path.with_name(path.name + "-wal").exists()


def test_a_complete_checkpoint_of_the_thread_needs_no_finish_on_the_next_commit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """When commits land while the thread copies, the next commit finishes its checkpoint. When
    none does, the thread's checkpoint is complete: the next commit runs no checkpoint of its
    own (no sync on the committing thread) and restarts the WAL by itself (ADR 0028)."""
    from convergio.host import _checkpoint

    monkeypatch.setattr(_checkpoint, "EVERY", 8)
    monkeypatch.setattr(_checkpoint, "_IDLE_S", 3600.0)  # only a poke starts a round
    path = tmp_path / "durable.sqlite3"
    store = Store(path)
    _create(store, _record("i", '"x"'))
    checkpoints = store._checkpoints
    time.sleep(0.1)  # the thread's first round, at its start, is over
    racing = _Racing(path)
    checkpoints._db = racing  # type: ignore[assignment]  # the thread's connection from now on

    def eight_steps_then_the_next() -> list[str]:
        """Eight steps (the eighth pokes the thread), its round, then the statements of one more."""
        rounds, checkpoints._commits = checkpoints.rounds, 0
        for _ in range(8):
            store.commit_step(StepWrite("i", history=[new_event(EventType.ORCHESTRATOR_STARTED, _STAMP)]))
        assert _wait_for_round(checkpoints, rounds, timeout=10)
        seen: list[str] = []
        store._db.set_trace_callback(seen.append)
        store.commit_step(StepWrite("i", history=[new_event(EventType.ORCHESTRATOR_STARTED, _STAMP)]))
        store._db.set_trace_callback(None)
        return [sql for sql in seen if "wal_checkpoint" in sql]

    assert eight_steps_then_the_next() == ["PRAGMA wal_checkpoint(PASSIVE)"]  # a commit raced it
    racing.racing = False
    assert eight_steps_then_the_next() == []
    _, frames, _ = racing.other.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
    assert 0 < frames < 8  # the WAL restarted: only the last step's pages are in it
    store.close()
    assert checkpoints._db is None  # the thread closed it


class _Racing:
    """A connection for the checkpoint thread, on which another connection commits just as a
    checkpoint starts (while ``racing``)."""

    def __init__(self, path: Path) -> None:
        self.db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self.other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self.other.execute("CREATE TABLE race (n INTEGER)")
        self.racing = True

    def execute(self, sql: str) -> sqlite3.Cursor:
        if self.racing and "wal_checkpoint" in sql:
            self.other.execute("INSERT INTO race VALUES (1)")
        return self.db.execute(sql)

    def close(self) -> None:
        self.db.close()
        self.other.close()


def _wait_for_round(checkpoints: Checkpointer, rounds: int, *, timeout: float) -> bool:
    """Wait until the checkpoint thread has done a round more than ``rounds``."""
    deadline = time.monotonic() + timeout
    while checkpoints.rounds <= rounds and time.monotonic() < deadline:
        time.sleep(0.001)
    return checkpoints.rounds > rounds


def test_a_step_that_read_an_older_history_is_not_committed(tmp_path: Path) -> None:
    store = Store(tmp_path / "durable.sqlite3")
    _create(store, _record("i", '"x"'))
    step = StepWrite("i", history=[new_event(EventType.ORCHESTRATOR_STARTED, _STAMP)], expected_len=0)
    store.commit_step(step)
    with pytest.raises(StepConflict):
        store.commit_step(
            StepWrite("i", history=[new_event(EventType.ORCHESTRATOR_STARTED, _STAMP)], expected_len=0)
        )
    with pytest.raises(StepConflict):  # no such instance
        store.commit_step(StepWrite("nobody", expected_len=0))
    later = new_event(EventType.TIMER_FIRED, _STAMP, TimerId=1)
    store.send(Message("i", "e1", time.time() + 60, later))
    record, messages = store.step_input("i", time.time())  # the header, and what is visible now
    assert record is not None and (record.history_len, record.input, record.status) == (1, None, "Pending")
    assert [(i, e, event["EventType"]) for i, e, event in messages] == [
        (1, "e1", EventType.EXECUTION_STARTED)
    ]
    assert store.step_input("nobody", time.time()) == (None, [])
    store.close()


def test_the_wal_cycles_under_a_steady_load(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The thread's checkpoints do not complete while commits keep coming; the commit after each
    completes it, so the WAL restarts from its start instead of growing (ADR 0028). The loop
    lets the thread have its round after each poke: on a starved machine (load average 15) it
    otherwise may not run before the loop ends, and the WAL then grows up to ``BOUND_PAGES``,
    which this test turns off."""
    from convergio.host import _checkpoint, _store

    monkeypatch.setattr(_checkpoint, "EVERY", 32)
    monkeypatch.setattr(_store, "BOUND_PAGES", 1_000_000)  # only the thread and the commits restart it
    path = tmp_path / "durable.sqlite3"
    store = Store(path)
    _create(store, _record("i", '"x"'))
    checkpoints = store._checkpoints
    for n in range(1500):  # about 9700 pages (40 MB) written in all, back to back
        store.commit_step(
            StepWrite(
                "i",
                history=[new_event(EventType.ORCHESTRATOR_STARTED, _STAMP, Note="y" * 3000)],
                updates={"status": "Running", "updated_at": _STAMP, "shim": str(n)},
            )
        )
        if n % 32 == 31:  # the thread was just poked: on a starved machine, give it its round
            _wait_for_round(checkpoints, checkpoints.rounds, timeout=2)
    # It restarted: back to back, commits land while the thread copies, so the WAL peaks above
    # 32 commits' pages (750 to 1850 pages measured), but far from everything.
    assert _wal_bytes(path) < 5000 * 4096
    assert len(store.history("i")) == 1500
    store.close()


def test_a_steps_messages_come_back_as_they_were_sent(tmp_path: Path) -> None:
    """The inbox is read as one row joined from each message's stored JSON: every value, in
    order, with or without an execution id (a value only Python's JSON writes included)."""
    store = Store(tmp_path / "durable.sqlite3")
    _create(store, _record("i", '"x"'))
    sent = [
        new_event(EventType.EVENT_RAISED, _STAMP, Name="n", Input='{"q": "\\"quoted\\", é \U0001f600"}'),
        new_event(EventType.TASK_COMPLETED, _STAMP, TaskScheduledId=0, Result=float("inf"), Nested=[{}]),
        new_event(EventType.EXECUTION_TERMINATED, _STAMP, Input=None),
    ]
    for n, event in enumerate(sent):
        store.send(Message("i", None if n == 2 else "e1", 0.0, event))
    store.send(Message("i", "e1", time.time() + 60, sent[0]))  # not visible yet
    _, messages = store.step_input("i", time.time())
    assert [(e, event) for _, e, event in messages] == [
        ("e1", new_event(EventType.EXECUTION_STARTED, _STAMP, Name="graph", Input='"x"')),
        ("e1", sent[0]),
        ("e1", sent[1]),
        (None, sent[2]),
    ]
    assert [message_id for message_id, _, _ in messages] == sorted(m for m, _, _ in messages)
    store.close()


def test_work_ids_continue_after_the_last_id_ever_given(tmp_path: Path) -> None:
    """A step numbers its work after the last id the table ever gave, read in its own update:
    a late result of cancelled work can never hit a new row."""
    store = Store(tmp_path / "durable.sqlite3")
    _create(store, _record("i", '"x"'))
    first = store.commit_step(
        StepWrite("i", work=[("e1", 0, "a", None), ("e1", 1, "b", "1")], expected_len=0)
    )
    assert [(w.id, w.task_id, w.name, w.input) for w in first] == [(1, 0, "a", None), (2, 1, "b", "1")]
    store.commit_step(StepWrite("i", drop_pending=True, now=time.time(), expected_len=0))  # cancels both
    again = store.commit_step(StepWrite("i", work=[("e1", 2, "c", None)], expected_len=0))
    assert [w.id for w in again] == [3] and store.pending_work() == again
    store.close()
