"""The run index in the embedded tenant store's SQLite file (the ``runs`` table).

A mixin of :class:`~convergio.tenants.SqliteTenantStore`, which provides the connections (a
write is a function of the connection, run in a group-committed transaction, ADR 0032). The
table is the one earlier releases made, widened in place (``migrate_runs``): a home made by an
older release keeps its runs, whose status reads ``""`` (not known yet) until the API settles
it from the durable backend once. The listing queries walk an index in newest-first order, so
a page costs O(page) whatever the tenant's number of runs (and whatever the status filter).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Final, TypeVar

from convergio.tenants._models import RunRecord
from convergio.tenants._runs import (
    announced_waits,
    answered_waits,
    changed_entry,
    check_filters,
    position,
    record_of,
    split_position,
    waits_change,
)
from convergio.tenants._store import _now, check_page

__all__ = ["SqliteRunIndex", "migrate_runs"]

# Columns added to the table of earlier releases: name -> declaration. An old row gets the
# defaults: status '' (not known), no end, no usage, no starter.
_COLUMNS: Final = {
    "status": "TEXT NOT NULL DEFAULT ''",
    "finished_at": "TEXT NULL",
    "updated_at": "TEXT NOT NULL DEFAULT ''",
    "usage": "TEXT NOT NULL DEFAULT '{}'",
    "started_by": "TEXT NOT NULL DEFAULT ''",
    "awaiting_input": "INTEGER NOT NULL DEFAULT 0",
    "waits": "TEXT NOT NULL DEFAULT '{}'",
    "cancelled_by": "TEXT NOT NULL DEFAULT ''",
    "cancel_reason": "TEXT NOT NULL DEFAULT ''",
}
_INDEXES: Final = """
CREATE INDEX IF NOT EXISTS runs_by_tenant_status ON runs (tenant_id, status, created_at);
CREATE INDEX IF NOT EXISTS runs_by_tenant_starter ON runs (tenant_id, started_by, created_at);
CREATE INDEX IF NOT EXISTS runs_by_tenant_awaiting ON runs (tenant_id, awaiting_input, created_at);
"""
T = TypeVar("T")
_Read = Callable[[], sqlite3.Connection]
_Write = Callable[[Callable[[sqlite3.Connection], Any]], Any]
_FIELDS: Final = (
    "run_id, graph_name, created_at, status, finished_at, updated_at, usage, started_by, rowid,"
    " awaiting_input, cancelled_by, cancel_reason"
)
# What an update reads and may write (``waits`` is the awaiting-input bookkeeping, see _runs).
_STATE: Final = ("status", "finished_at", "usage", "waits", "awaiting_input", "cancelled_by", "cancel_reason")
_JSON: Final = frozenset({"usage", "waits"})


def migrate_runs(read: _Read, write: _Write) -> None:
    """Add the index columns to ``runs`` where missing (an older home), and their indexes.

    ``read`` gives the store's read connection, ``write`` runs a function in a write
    transaction; the check is a read, so opening a current file takes no write lock.
    """
    db = read()
    have = {row[1] for row in db.execute("PRAGMA table_info(runs)")}
    indexed = db.execute(
        "SELECT COUNT(*) FROM sqlite_master WHERE type = 'index' AND name LIKE 'runs_by_tenant_%'"
    ).fetchone()[0]
    if set(_COLUMNS) <= have and indexed >= 3:
        return

    def migrate(
        db: sqlite3.Connection,
    ) -> None:  # re-checked under the write lock: another process may have done it
        have = {row[1] for row in db.execute("PRAGMA table_info(runs)")}
        for name, declaration in _COLUMNS.items():
            if name not in have:
                db.execute(f"ALTER TABLE runs ADD COLUMN {name} {declaration}")
        for statement in filter(str.strip, _INDEXES.split(";")):
            db.execute(statement)

    write(migrate)


def _record(row: sqlite3.Row | tuple[Any, ...], tenant_id: str) -> RunRecord:
    run_id, graph, created, status, finished, updated, usage, started_by, rowid, awaiting, by, reason = row
    fields = {
        "awaiting_input": awaiting,
        "cancelled_by": by,
        "cancel_reason": reason,
        "run_id": run_id,
        "graph_name": graph,
        "created_at": created,
        "status": status,
        "finished_at": finished,
        "updated_at": updated,
        "usage": json.loads(usage or "{}"),
        "started_by": started_by,
    }
    return record_of(fields, tenant_id, position(created, rowid))


class SqliteRunIndex:
    """``record_run`` … ``runs_between`` of the tenant store, over the ``runs`` table."""

    if TYPE_CHECKING:

        def _reader(self) -> sqlite3.Connection: ...

        def _write(self, op: Callable[[sqlite3.Connection], T]) -> T: ...

        def require_tenant(self, db: sqlite3.Connection, tenant_id: str) -> None: ...

    def record_run(
        self,
        tenant_id: str,
        run_id: str,
        graph_name: str,
        *,
        created_at: str | None = None,
        started_by: str = "",
    ) -> None:
        stamp = created_at or _now()

        def record(db: sqlite3.Connection) -> None:
            self.require_tenant(db, tenant_id)
            db.execute(
                "INSERT INTO runs (run_id, tenant_id, graph_name, created_at, status, updated_at, started_by)"
                " VALUES (?, ?, ?, ?, 'Pending', ?, ?) ON CONFLICT (run_id) DO NOTHING",
                (run_id, tenant_id, graph_name, stamp, stamp, started_by),
            )
            (owner,) = db.execute("SELECT tenant_id FROM runs WHERE run_id = ?", (run_id,)).fetchone()
            # A retried start is fine; handing a run to another tenant never is.
            if owner != tenant_id:
                raise ValueError(f"run {run_id!r} belongs to another tenant")

        self._write(record)

    def update_run(
        self,
        run_id: str,
        *,
        status: str,
        finished_at: str | None = None,
        usage: Mapping[str, int] | None = None,
        cancelled_by: str | None = None,
        cancel_reason: str | None = None,
    ) -> bool:
        def change(current: dict[str, Any]) -> dict[str, Any] | None:
            return changed_entry(
                current,
                status=status,
                finished_at=finished_at,
                usage=usage,
                now=_now(),
                cancelled_by=cancelled_by,
                cancel_reason=cancel_reason,
            )

        return self._change(run_id, change)

    def note_waits(self, run_id: str, *, seq: int, target: Mapping[str, int]) -> bool:
        return self._change(
            run_id,
            lambda current: waits_change(
                current, announced_waits(current.get("waits"), seq=seq, target=target), now=_now()
            ),
        )

    def note_answer(self, run_id: str, name: str) -> bool:
        return self._change(
            run_id,
            lambda current: waits_change(current, answered_waits(current.get("waits"), name), now=_now()),
        )

    def _change(self, run_id: str, change: Callable[[dict[str, Any]], dict[str, Any] | None]) -> bool:
        """Read the entry's state, let ``change`` decide, write what it returns: one transaction."""

        def apply(db: sqlite3.Connection) -> bool:
            row = db.execute(
                f"SELECT {', '.join(_STATE)} FROM runs WHERE run_id = ?",  # noqa: S608 - constant columns
                (run_id,),
            ).fetchone()
            if row is None:
                return False
            current = {
                k: json.loads(v or "{}") if k in _JSON else v for k, v in zip(_STATE, row, strict=True)
            }
            fresh = change(current)
            if fresh is None:
                return False
            values = {
                k: json.dumps(v) if k in _JSON else v
                for k, v in fresh.items()
                if k in (*_STATE, "updated_at")
            }
            db.execute(
                f"UPDATE runs SET {', '.join(f'{k} = ?' for k in values)} WHERE run_id = ?",  # noqa: S608
                (*values.values(), run_id),
            )
            return True

        return bool(self._write(apply))

    def forget_run(self, run_id: str) -> None:
        self._write(lambda db: db.execute("DELETE FROM runs WHERE run_id = ?", (run_id,)))

    def owner_of(self, run_id: str) -> str | None:
        row = self._reader().execute("SELECT tenant_id FROM runs WHERE run_id = ?", (run_id,)).fetchone()
        return str(row[0]) if row else None

    def run(self, run_id: str) -> RunRecord | None:
        row = (
            self._reader()
            .execute(
                f"SELECT tenant_id, {_FIELDS} FROM runs WHERE run_id = ?",  # noqa: S608 - constant columns
                (run_id,),
            )
            .fetchone()
        )
        return _record(row[1:], row[0]) if row else None

    def list_runs(
        self,
        tenant_id: str,
        *,
        limit: int = 50,
        offset: int = 0,
        status: str | None = None,
        started_by: str | None = None,
        before: str | None = None,
        awaiting_input: bool | None = None,
    ) -> list[RunRecord]:
        check_page(limit, offset)
        check_filters(status, before)
        where: list[str] = ["tenant_id = ?"]
        args: list[Any] = [tenant_id]
        if awaiting_input is not None:
            where.append("awaiting_input = ?")
            args.append(int(awaiting_input))
        if status is not None:
            where.append("status = ?")
            args.append(status)
        if started_by is not None:
            where.append("started_by = ?")
            args.append(started_by)
        if before is not None:
            # rowid breaks ties between runs recorded in the same microsecond: later insert first.
            stamp, seq = split_position(before)
            where.append("(created_at < ? OR (created_at = ? AND rowid < ?))")
            args += [stamp, stamp, seq]
        sql = (
            f"SELECT {_FIELDS} FROM runs WHERE {' AND '.join(where)}"  # noqa: S608 - constant clauses
            " ORDER BY created_at DESC, rowid DESC LIMIT ? OFFSET ?"
        )
        rows = self._reader().execute(sql, (*args, limit, offset)).fetchall()
        return [_record(row, tenant_id) for row in rows]

    def count_runs(self, tenant_id: str) -> int:
        (count,) = (
            self._reader().execute("SELECT COUNT(*) FROM runs WHERE tenant_id = ?", (tenant_id,)).fetchone()
        )
        return int(count)

    def runs_between(
        self, tenant_id: str, *, since: str = "", before: str, limit: int, offset: int = 0
    ) -> list[RunRecord]:
        check_page(limit, offset)
        rows = (
            self._reader()
            .execute(
                f"SELECT {_FIELDS} FROM runs WHERE tenant_id = ?"  # noqa: S608 - constant columns
                " AND created_at >= ? AND created_at < ? ORDER BY created_at, rowid LIMIT ? OFFSET ?",
                (tenant_id, since, before, limit, offset),
            )
            .fetchall()
        )
        return [_record(row, tenant_id) for row in rows]
