"""SQLite persistence for the embedded host: history, inbox, pending work.

Durability model (the same one DTFx backends follow):

* ``history`` is append-only per execution; a step appends its events (one row, ADR 0041).
* ``inbox`` holds messages for an orchestration (start, completions, external
  events, timers with a future ``visible_at``, terminate/suspend/resume).
  A step deletes the messages it consumed in the same transaction that appends
  them to history, so a crash either loses the whole step or none of it.
* ``work`` holds scheduled activities. A completion deletes its row and queues
  the result message in one transaction, or the step it is handed to deletes the row in
  its own (``StepWrite.completed``, ADR 0052); a row is run under a lease (``_leases.py``),
  and one whose lease ran out was in flight in a process that is gone: it runs
  again (at-least-once, like Azure). Several processes may share the store (ADR 0023).

The values it reads and writes (records, messages, work items, a step's write) are in
``_store_rows``, re-exported here.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Literal

from convergio._sql_rows import value_lists

from ._checkpoint import BOUND_PAGES, Checkpointer
from ._events import Event
from ._store_rows import TERMINAL, InstanceRecord, Message, StepConflict, StepWrite, WorkItem
from ._store_schema import FULL as _FULL
from ._store_schema import HEADER as _HEADER
from ._store_schema import PAYLOADS as _PAYLOADS
from ._store_schema import SCHEMA as _SCHEMA
from ._store_schema import STATUS as _STATUS
from ._store_schema import STATUS_INPUT as _STATUS_INPUT
from ._store_schema import migrate
from ._stored_json import stored_text, stored_value

__all__ = [
    "InstanceRecord",
    "Message",
    "StepConflict",
    "StepWrite",
    "Store",
    "stored_events",
    "WorkItem",
    "TERMINAL",
    "Values",
]

Values = Literal["all", "shown", "shown_without_input", "none"]
"""Which of an instance's large values a read fetches (the others are ``None`` in the record):
all of them, those a status answer shows with or without its input (never the shim), or none."""
_READS: dict[str, str] = {
    "all": _FULL,
    "shown": _STATUS_INPUT,
    "shown_without_input": _STATUS,
    "none": _HEADER,
}


class Store:
    """One SQLite database (WAL) shared by the dispatcher, workers and the API, and by other
    processes: ``origin`` marks the inbox messages this one queued (``_leases.inbox_news``)."""

    def __init__(self, path: Path, *, origin: str = "") -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        # A writer of another process holds the lock for a transaction: wait, do not fail.
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=60)
        self._lock = threading.RLock()
        self.origin = origin
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        # the checkpoint thread copies the pages, a commit completes its checkpoint (ADR 0028)
        self._db.execute(f"PRAGMA wal_autocheckpoint={BOUND_PAGES}")
        self._checkpoints = Checkpointer(path)
        self._db.executescript(_SCHEMA)
        with self._tx() as db:
            migrate(db)

    def close(self) -> None:
        self._checkpoints.close()
        with self._lock:
            self._db.close()

    @contextmanager
    def reading(self) -> Iterator[sqlite3.Connection]:
        """The connection, for reads (``_leases.py``)."""
        with self._lock:
            yield self._db

    def transaction(self) -> contextlib.AbstractContextManager[sqlite3.Connection]:
        """A write transaction (``BEGIN IMMEDIATE``), for ``_leases.py``."""
        return self._tx()

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
            self._checkpoints.committed(self._db)

    # -- instances ----------------------------------------------------------------------
    def get(self, instance_id: str, *, header: bool = False) -> InstanceRecord | None:
        """The instance; with ``header``, without its input, output, custom status and shim
        (``None`` in the record), which can be large and a kept-alive step does not need."""
        return self._instance(_HEADER if header else _FULL, instance_id)

    def status(self, instance_id: str, *, with_input: bool) -> InstanceRecord | None:
        """The instance as a status answer shows it (ADR 0033): its output and custom status,
        its input only ``with_input``, never its shim (``None`` in the record). A watched run is
        read a few times a second, and its input (the graph) and shim are the large values."""
        return self._instance(_READS["shown" if with_input else "shown_without_input"], instance_id)

    def _instance(self, columns: str, instance_id: str) -> InstanceRecord | None:
        with self._lock:
            row = self._db.execute(
                f"SELECT {columns} FROM instances i WHERE instance_id = ?",  # noqa: S608 - constants
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
        values: Values = "all",
    ) -> list[InstanceRecord]:
        """Instances in creation order; ``values`` says which large values to read (``Values``)."""
        sql, args = f"SELECT {_READS[values]} FROM instances i WHERE 1=1", list[object]()  # noqa: S608
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
            self._insert_messages(db, [start])

    def purge(self, instance_ids: Sequence[str]) -> int:
        with self._tx() as db:
            for instance_id in instance_ids:
                self._delete(db, instance_id)
        return len(instance_ids)

    @staticmethod
    def _delete(db: sqlite3.Connection, instance_id: str) -> None:
        for table in ("instances", "payloads", "history", "inbox", "work", "instance_leases"):
            db.execute(f"DELETE FROM {table} WHERE instance_id = ?", (instance_id,))  # noqa: S608

    @staticmethod
    def _insert_instance(db: sqlite3.Connection, r: InstanceRecord) -> None:
        db.execute(
            "INSERT INTO instances VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            (
                r.instance_id,
                r.name,
                r.execution_id,
                r.status,
                r.parent_instance_id,
                r.parent_execution_id,
                r.parent_task_id,
                r.created_at,
                r.updated_at,
                r.history_len,
                r.version,
            ),
        )
        values = {name: value for name in _PAYLOADS if (value := getattr(r, name)) is not None}
        _set_payloads(db, r.instance_id, values)

    def _insert_messages(self, db: sqlite3.Connection, messages: Sequence[Message]) -> None:
        rows = [
            (m.instance_id, m.execution_id, m.visible_at, stored_text(m.event), self.origin) for m in messages
        ]
        for marks, values in value_lists(rows):
            db.execute(
                f"INSERT INTO inbox (instance_id, execution_id, visible_at, event, origin) VALUES {marks}",  # noqa: S608
                values,
            )

    @staticmethod
    def _insert_work(
        db: sqlite3.Connection, iid: str, execution_id: str, step: StepWrite, last_id: int
    ) -> list[WorkItem]:
        """Work rows in one statement, numbered here after ``last_id``, the last id the table
        ever gave, read in this transaction (``AUTOINCREMENT`` never reuses one, so a late
        result of cancelled work cannot hit a new row; explicit ids move ``sqlite_sequence``
        on as well). The first ``step.claim`` are leased to ``step.owner`` at once; the others
        wait for any process to claim them."""
        work = step.work
        first = last_id + 1
        items = [
            WorkItem(first + n, iid, exec_id or execution_id, task_id, name, payload)
            for n, (exec_id, task_id, name, payload) in enumerate(work)
        ]
        rows = [
            (i.id, i.instance_id, i.execution_id, i.task_id, i.name, i.input, *_lease(step, n))
            for n, i in enumerate(items)
        ]
        for marks, values in value_lists(rows):
            db.execute(
                "INSERT INTO work (id, instance_id, execution_id, task_id, name, input, owner, lease_until) "  # noqa: S608
                f"VALUES {marks}",
                values,
            )
        return items

    def set_custom_status(
        self, instance_id: str, custom_status: str, *, history_len: int | None = None
    ) -> None:
        """Store the custom status of a running instance on its own (not for a finished one).

        ``history_len``: the history the status was made at; if it moved (another process
        stepped the instance since), a status at least as new is already stored: keep that.
        """
        with self._tx() as db:
            row = db.execute(
                "SELECT status, history_len FROM instances WHERE instance_id = ?", (instance_id,)
            ).fetchone()
            if row is not None and row[0] not in TERMINAL and history_len in (None, row[1]):
                _set_payloads(db, instance_id, {"custom_status": custom_status})

    # -- history --------------------------------------------------------------------------
    def history(self, instance_id: str) -> list[Event]:
        with self._lock:
            rows = self._db.execute(
                "SELECT event FROM history WHERE instance_id = ? ORDER BY seq", (instance_id,)
            ).fetchall()
        return stored_events(row[0] for row in rows)

    # -- messages -------------------------------------------------------------------------
    def send(self, message: Message) -> None:
        with self._tx() as db:
            self._insert_messages(db, [message])

    def step_input(
        self, instance_id: str, now: float
    ) -> tuple[InstanceRecord | None, list[tuple[int, str | None, Event]]]:
        """The instance's header (as ``get(header=True)``) and its visible messages, oldest first,
        in one statement: one snapshot. The messages come as one JSON row (a row costs a step),
        ``[[id, execution_id, event], ...]``, joined as text: each event is JSON already
        (``_insert_messages``), and SQLite's ``json()`` would parse it only to write it again."""
        with self._lock:
            row = self._db.execute(
                f"SELECT {_HEADER}, (SELECT group_concat('[' || id || ',' || json_quote(execution_id) "  # noqa: S608
                "|| ',' || event || ']', ',') FROM (SELECT id, execution_id, event FROM inbox "
                "WHERE instance_id = ? AND visible_at <= ? ORDER BY id)) "
                "FROM instances i WHERE instance_id = ?",
                (instance_id, now, instance_id),
            ).fetchone()
        if row is None:
            return None, []
        messages = stored_value(f"[{row[-1]}]") if row[-1] else []
        return InstanceRecord(*row[:-1]), [(m[0], m[1], m[2]) for m in messages]

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
        with self._tx() as db:
            pending: set[int] = set()
            for marks, ids in value_lists([(item.id,) for item, _ in done]):
                found = db.execute(
                    f"DELETE FROM work WHERE id IN ({marks}) RETURNING id",  # noqa: S608 - placeholders
                    ids,
                ).fetchall()
                pending.update(row[0] for row in found)
            recorded = [(item, result) for item, result in done if item.id in pending]
            self._insert_messages(db, [Message(i.instance_id, i.execution_id, now, r) for i, r in recorded])
        return [item for item, _ in recorded]

    # -- one orchestrator step ----------------------------------------------------------------
    def commit_step(self, step: StepWrite) -> list[WorkItem]:
        """Apply a step atomically; return the work items it created (with their ids).

        The step's events are one ``history`` row, a JSON array (ADR 0041): a row per event
        wrote about twice the pages. They are encoded before the transaction, so the lock
        (which activity threads' results wait for) is held only for the statements.
        """
        iid = step.instance_id
        grown = len(step.history)
        events = stored_text(step.history) if grown else None
        columns = {k: v for k, v in step.updates.items() if k not in _PAYLOADS}
        payloads = {k: v for k, v in step.updates.items() if k in _PAYLOADS}
        # One statement moves the history length on, checks the step read the current one, and
        # reads the last work id ever given (see _insert_work).
        move = (
            f"UPDATE instances SET {''.join(f'{k} = ?, ' for k in columns)}"  # noqa: S608
            f"history_len = {'?' if step.reset_history else 'history_len + ?'} "
            "WHERE instance_id = ? AND (? IS NULL OR history_len = ?) RETURNING history_len, execution_id"
            + (", (SELECT seq FROM sqlite_sequence WHERE name = 'work')" if step.work else "")
        )
        created: list[WorkItem] = []
        with self._tx() as db:
            _complete(db, iid, step.completed)
            for marks, ids in value_lists([(i,) for i in step.consumed]):
                db.execute(f"DELETE FROM inbox WHERE id IN ({marks})", ids)  # noqa: S608 - placeholders
            if step.drop_pending:
                db.execute("DELETE FROM work WHERE instance_id = ?", (iid,))
                db.execute(
                    "DELETE FROM inbox WHERE instance_id = ? AND visible_at > ?",
                    (iid, step.now),
                )
            if step.reset_history:
                db.execute("DELETE FROM history WHERE instance_id = ?", (iid,))
            moved = db.execute(
                move, [*columns.values(), grown, iid, step.expected_len, step.expected_len]
            ).fetchall()
            if not moved:
                raise StepConflict(
                    f"instance {iid}: its history is no longer the {step.expected_len} events the step read"
                )
            length, execution_id = moved[0][:2]
            if events is not None:
                db.execute("INSERT INTO history VALUES (?, ?, ?)", (iid, length - grown, events))
            _set_payloads(db, iid, payloads)
            if step.work:
                created = self._insert_work(db, iid, execution_id, step, moved[0][2] or 0)
            if columns.get("status") in TERMINAL:
                db.execute("DELETE FROM instance_leases WHERE instance_id = ?", (iid,))
            for record in step.new_instances:
                self._delete(db, record.instance_id)
                self._insert_instance(db, record)
            self._insert_messages(db, step.messages)
        return created


def stored_events(rows: Iterable[str]) -> list[Event]:
    """The events of an instance's ``history`` rows, in order: each row is the JSON array of
    one step's events, or (written by an older host, ADR 0041) one event's JSON object."""
    parts = [text[1:-1] if text.startswith("[") else text for text in rows]
    events: list[Event] = stored_value("[" + ",".join(part for part in parts if part) + "]")
    return events


def _complete(db: sqlite3.Connection, instance_id: str, work_ids: Sequence[int]) -> None:
    """Delete the work rows whose results a step records itself (ADR 0052); one gone (cancelled,
    or completed by a process that claimed it after our lease ran out) takes no result, so the
    step must not commit: ``StepConflict``, as ``complete_many`` would have dropped it."""
    for marks, ids in value_lists([(i,) for i in work_ids]):
        deleted = db.execute(f"DELETE FROM work WHERE id IN ({marks}) RETURNING id", ids).fetchall()  # noqa: S608
        if len(deleted) < len(ids):
            raise StepConflict(f"instance {instance_id}: a result's work row is gone ({ids})")


def _lease(step: StepWrite, n: int) -> tuple[str | None, float]:
    """A row's owner and until when; an unleased row is free since now (see claim_work)."""
    return (step.owner, step.lease_until) if n < step.claim else (None, time.time())


def _set_payloads(db: sqlite3.Connection, instance_id: str, values: dict[str, str | None]) -> None:
    """Write an instance's large values, each in its own row (``None`` clears one)."""
    rows = [(instance_id, name, value) for name, value in values.items()]
    for marks, flat in value_lists(rows):
        db.execute(
            f"INSERT INTO payloads VALUES {marks} "  # noqa: S608 - placeholders
            "ON CONFLICT (instance_id, name) DO UPDATE SET value = excluded.value",
            flat,
        )
