"""SQLite persistence for the embedded host: history, inbox, pending work.

Durability model (the same one DTFx backends follow):

* ``history`` is append-only per execution; a step appends its events.
* ``inbox`` holds messages for an orchestration (start, completions, external
  events, timers with a future ``visible_at``, terminate/suspend/resume).
  A step deletes the messages it consumed in the same transaction that appends
  them to history, so a crash either loses the whole step or none of it.
* ``work`` holds scheduled activities. A completion deletes its row and queues
  the result message in one transaction; whatever is left at start-up was in
  flight and runs again (at-least-once, like Azure).
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ._events import Event

__all__ = ["InstanceRecord", "Message", "StepWrite", "Store", "WorkItem", "TERMINAL"]

TERMINAL = frozenset({"Completed", "Failed", "Terminated"})

_SCHEMA = """
CREATE TABLE IF NOT EXISTS instances (
    instance_id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    execution_id TEXT NOT NULL,
    status TEXT NOT NULL,
    input TEXT,
    output TEXT,
    custom_status TEXT,
    parent_instance_id TEXT,
    parent_execution_id TEXT,
    parent_task_id INTEGER,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    history_len INTEGER NOT NULL DEFAULT 0,
    shim TEXT
);
CREATE INDEX IF NOT EXISTS instances_created ON instances(created_at);
CREATE TABLE IF NOT EXISTS history (
    instance_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    event TEXT NOT NULL,
    PRIMARY KEY (instance_id, seq)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS inbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    instance_id TEXT NOT NULL,
    execution_id TEXT,
    visible_at REAL NOT NULL,
    event TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS inbox_instance ON inbox(instance_id, id);
CREATE TABLE IF NOT EXISTS work (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    instance_id TEXT NOT NULL,
    execution_id TEXT NOT NULL,
    task_id INTEGER NOT NULL,
    name TEXT NOT NULL,
    input TEXT
);
"""


_HEADER = (
    "instance_id, name, execution_id, status, NULL, NULL, NULL, parent_instance_id, "
    "parent_execution_id, parent_task_id, created_at, updated_at, history_len, NULL"
)
"""``SELECT`` columns of an instance without its large ones, in ``InstanceRecord`` order."""


@dataclass(slots=True)
class InstanceRecord:
    instance_id: str
    name: str
    execution_id: str
    status: str
    input: str | None
    output: str | None
    custom_status: str | None
    parent_instance_id: str | None
    parent_execution_id: str | None
    parent_task_id: int | None
    created_at: str
    updated_at: str
    history_len: int
    shim: str | None


@dataclass(frozen=True, slots=True)
class Message:
    instance_id: str
    execution_id: str | None
    visible_at: float
    event: Event


@dataclass(frozen=True, slots=True)
class WorkItem:
    id: int
    instance_id: str
    execution_id: str
    task_id: int
    name: str
    input: str | None


@dataclass(slots=True)
class StepWrite:
    """Everything one orchestrator step changes, applied atomically."""

    instance_id: str
    history: list[Event] = field(default_factory=list)
    reset_history: bool = False
    consumed: list[int] = field(default_factory=list)
    work: list[tuple[str, int, str, str | None]] = field(default_factory=list)
    messages: list[Message] = field(default_factory=list)
    new_instances: list[InstanceRecord] = field(default_factory=list)
    updates: dict[str, Any] = field(default_factory=dict)
    drop_pending: bool = False
    now: float = 0.0  # with drop_pending: inbox messages visible later than this are dropped


class Store:
    """One SQLite database (WAL) shared by the dispatcher, workers and the API."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._lock = threading.RLock()
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    # -- instances ----------------------------------------------------------------------
    def get(self, instance_id: str, *, header: bool = False) -> InstanceRecord | None:
        """The instance; with ``header``, without its input, output, custom status and shim
        (``None`` in the record), which can be large and a kept-alive step does not need."""
        columns = _HEADER if header else "*"
        with self._lock:
            row = self._db.execute(
                f"SELECT {columns} FROM instances WHERE instance_id = ?",  # noqa: S608 - constants
                (instance_id,),
            ).fetchone()
        return InstanceRecord(*row) if row else None

    def query(
        self,
        *,
        statuses: Sequence[str] = (),
        created_from: str | None = None,
        created_to: str | None = None,
        prefix: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[InstanceRecord]:
        sql, args = "SELECT * FROM instances WHERE 1=1", list[object]()
        if statuses:
            sql += f" AND status IN ({','.join('?' * len(statuses))})"
            args += list(statuses)
        if created_from:
            sql += " AND created_at >= ?"
            args.append(created_from)
        if created_to:
            sql += " AND created_at <= ?"
            args.append(created_to)
        if prefix:
            sql += " AND instance_id >= ? AND instance_id < ?"
            args += [prefix, prefix + "\U0010ffff"]
        sql += " ORDER BY created_at, instance_id LIMIT ? OFFSET ?"
        args += [limit, offset]
        with self._lock:
            return [InstanceRecord(*row) for row in self._db.execute(sql, args)]

    def create(self, record: InstanceRecord, start: Message, *, replace: bool) -> None:
        """Create (or replace a finished) instance and queue its start message."""
        with self._tx() as db:
            if replace:
                self._delete(db, record.instance_id)
            self._insert_instance(db, record)
            self._insert_message(db, start)

    def purge(self, instance_ids: Sequence[str]) -> int:
        with self._tx() as db:
            for instance_id in instance_ids:
                self._delete(db, instance_id)
        return len(instance_ids)

    @staticmethod
    def _delete(db: sqlite3.Connection, instance_id: str) -> None:
        for table in ("instances", "history", "inbox", "work"):
            db.execute(f"DELETE FROM {table} WHERE instance_id = ?", (instance_id,))  # noqa: S608

    @staticmethod
    def _insert_instance(db: sqlite3.Connection, r: InstanceRecord) -> None:
        db.execute(
            "INSERT INTO instances VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (
                r.instance_id,
                r.name,
                r.execution_id,
                r.status,
                r.input,
                r.output,
                r.custom_status,
                r.parent_instance_id,
                r.parent_execution_id,
                r.parent_task_id,
                r.created_at,
                r.updated_at,
                r.history_len,
                r.shim,
            ),
        )

    @staticmethod
    def _insert_message(db: sqlite3.Connection, m: Message) -> None:
        db.execute(
            "INSERT INTO inbox (instance_id, execution_id, visible_at, event) VALUES (?,?,?,?)",
            (m.instance_id, m.execution_id, m.visible_at, json.dumps(m.event)),
        )

    # -- history --------------------------------------------------------------------------
    def history(self, instance_id: str) -> list[Event]:
        with self._lock:
            rows = self._db.execute(
                "SELECT event FROM history WHERE instance_id = ? ORDER BY seq", (instance_id,)
            ).fetchall()
        return [json.loads(row[0]) for row in rows]

    # -- messages -------------------------------------------------------------------------
    def send(self, message: Message) -> None:
        with self._tx() as db:
            self._insert_message(db, message)

    def inbox(self, instance_id: str, now: float) -> list[tuple[int, str | None, Event]]:
        with self._lock:
            rows = self._db.execute(
                "SELECT id, execution_id, event FROM inbox WHERE instance_id = ? AND visible_at <= ? "
                "ORDER BY id",
                (instance_id, now),
            ).fetchall()
        return [(row[0], row[1], json.loads(row[2])) for row in rows]

    def next_visible(self, instance_id: str) -> float | None:
        with self._lock:
            row = self._db.execute(
                "SELECT MIN(visible_at) FROM inbox WHERE instance_id = ?", (instance_id,)
            ).fetchone()
        return row[0] if row else None

    def due(self) -> list[tuple[str, float]]:
        """Every instance with messages, and when its earliest one becomes visible."""
        with self._lock:
            return list(
                self._db.execute("SELECT instance_id, MIN(visible_at) FROM inbox GROUP BY instance_id")
            )

    # -- activities -----------------------------------------------------------------------
    def pending_work(self) -> list[WorkItem]:
        with self._lock:
            return [
                WorkItem(*row)
                for row in self._db.execute(
                    "SELECT id, instance_id, execution_id, task_id, name, input FROM work ORDER BY id"
                )
            ]

    def complete_work(self, item: WorkItem, result: Event, now: float) -> bool:
        """Record an activity's result; False when the work was cancelled meanwhile."""
        return bool(self.complete_many([(item, result)], now))

    def complete_many(self, done: Sequence[tuple[WorkItem, Event]], now: float) -> list[WorkItem]:
        """Record several activities' results in one transaction (a group commit); return the
        items recorded, leaving out those whose work was cancelled meanwhile."""
        recorded: list[WorkItem] = []
        with self._tx() as db:
            for item, result in done:
                if db.execute("DELETE FROM work WHERE id = ?", (item.id,)).rowcount:
                    self._insert_message(db, Message(item.instance_id, item.execution_id, now, result))
                    recorded.append(item)
        return recorded

    # -- one orchestrator step ----------------------------------------------------------------
    def commit_step(self, step: StepWrite) -> list[WorkItem]:
        """Apply a step atomically; return the work items it created (with their ids)."""
        created: list[WorkItem] = []
        with self._tx() as db:
            iid = step.instance_id
            if step.consumed:
                db.executemany("DELETE FROM inbox WHERE id = ?", [(i,) for i in step.consumed])
            if step.drop_pending:
                db.execute("DELETE FROM work WHERE instance_id = ?", (iid,))
                db.execute(
                    "DELETE FROM inbox WHERE instance_id = ? AND visible_at > ?",
                    (iid, step.now),
                )
            if step.reset_history:
                db.execute("DELETE FROM history WHERE instance_id = ?", (iid,))
                base = 0
            else:
                base = db.execute(
                    "SELECT history_len FROM instances WHERE instance_id = ?", (iid,)
                ).fetchone()[0]
            db.executemany(
                "INSERT INTO history VALUES (?,?,?)",
                [(iid, base + n, json.dumps(e)) for n, e in enumerate(step.history)],
            )
            updates = dict(step.updates)
            updates["history_len"] = base + len(step.history)
            db.execute(
                f"UPDATE instances SET {', '.join(f'{k} = ?' for k in updates)} "  # noqa: S608
                "WHERE instance_id = ?",
                [*updates.values(), iid],
            )
            execution_id = (
                updates.get("execution_id")
                or db.execute("SELECT execution_id FROM instances WHERE instance_id = ?", (iid,)).fetchone()[
                    0
                ]
            )
            for exec_id, task_id, name, payload in step.work:
                cursor = db.execute(
                    "INSERT INTO work (instance_id, execution_id, task_id, name, input) VALUES (?,?,?,?,?)",
                    (iid, exec_id or execution_id, task_id, name, payload),
                )
                created.append(
                    WorkItem(int(cursor.lastrowid or 0), iid, exec_id or execution_id, task_id, name, payload)
                )
            for record in step.new_instances:
                self._delete(db, record.instance_id)
                self._insert_instance(db, record)
            for message in step.messages:
                self._insert_message(db, message)
        return created
