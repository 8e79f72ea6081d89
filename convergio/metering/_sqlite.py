"""The embedded usage ledger: one SQLite table, idempotent by record id.

WAL journal, rows keyed by the deterministic id (the first write of an id wins, later ones
are ignored), indexes on (tenant, at) and (tenant, run). One connection per ledger, shared by
the process's threads, commits concurrent ``record`` calls together (group commit: one fsync
for all, each durable before its call returns); SQLite's file locks (with a busy timeout)
make several instances and processes on one file safe.

A new ledger is a rowid table whose records are unique by (tenant, run, id) (ADR 0058): the id
is a hash of the record's tenant, run, node, attempt and unit, so an id is never stored under
two runs and this is its uniqueness; and the index that enforces it is ordered by run, so a
call's records land on the pages its run's other calls wrote, where a unique index on the bare
id put every record on a random leaf (one WAL page a record, a third of a fan-out's ledger
commit). The same index serves the per-run totals. Older ledgers keep their layout (ADR 0048's
unique id index, or a ``WITHOUT ROWID`` table keyed by the id), read and written by the same
statements.

A batch of calls costs one statement however many calls it holds: one multi-row ``INSERT`` of
the first row of each id in the batch (in queue order), outside any transaction, so SQLite
commits it on its own (its implicit transaction takes the write lock, and with
``synchronous=FULL`` its commit is on disk before it returns; see ``convergio._sqlite``, ADR
0063). Only when that insert meets an id stored before (a redelivered call) does it fail,
leaving nothing behind; then, in a ``BEGIN IMMEDIATE`` transaction, one ``SELECT ... IN (...)``
per run finds the stored ids and the others are inserted. Either way each call learns how many
of its records were new.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from decimal import Decimal
from pathlib import Path
from types import TracebackType
from typing import Final

from convergio._sql_rows import Rows, value_lists
from convergio._sqlite import Batch, Database, run_script

from ._canonical import decimal_text
from ._ledger import run_totals, time_bounds
from ._record import UsageRecord

__all__ = ["SqliteLedger"]

_SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS usage (
    id TEXT NOT NULL,
    tenant_id TEXT NOT NULL,
    run_id TEXT NOT NULL,
    node_id TEXT NOT NULL,
    attempt INTEGER NOT NULL,
    provider TEXT NOT NULL,
    model TEXT NOT NULL,
    key_mode TEXT NOT NULL,
    unit TEXT NOT NULL,
    quantity TEXT NOT NULL,
    unit_price TEXT NOT NULL,
    cost TEXT NOT NULL,
    at TEXT NOT NULL,
    unpriced INTEGER NOT NULL,
    estimated INTEGER NOT NULL DEFAULT 0,
    UNIQUE (tenant_id, run_id, id)
);
CREATE INDEX IF NOT EXISTS usage_tenant_at ON usage(tenant_id, at);
"""
"""A new ledger's layout; an older one keeps its own (ADR 0048's ``UNIQUE`` id and its index on
(tenant, run)), which the same statements read and write."""

_COLUMNS: Final = (
    "id, tenant_id, run_id, node_id, attempt, provider, model, key_mode, unit, "
    "quantity, unit_price, cost, at, unpriced, estimated"
)

_IN_RUN: Final = "tenant_id = ? AND run_id = ?"
_STORED: Final = f"SELECT id FROM usage WHERE {_IN_RUN} AND id IN ({{}})"  # noqa: S608 - constants
"""The stored ids among a run's: by the (tenant, run, id) index (by the id's, in an older ledger)."""

_Row = tuple[str, str, str, str, int, str, str, str, str, str, str, str, str, int, int]


def _row(record: UsageRecord) -> _Row:
    return (
        record.id,
        record.tenant_id,
        record.run_id,
        record.node_id,
        record.attempt,
        record.provider,
        record.model,
        record.key_mode,
        record.unit,
        decimal_text(record.quantity),
        decimal_text(record.unit_price),
        decimal_text(record.cost),
        record.at,
        int(record.unpriced),
        int(record.estimated),
    )


def _record(row: _Row) -> UsageRecord:
    """A stored row as a record: its id checked, its fields trusted (written by ``_row``)."""
    return UsageRecord.from_stored(row[0], (*row[1:13], bool(row[13]), bool(row[14])))


def _create(db: sqlite3.Connection) -> None:
    run_script(db, _SCHEMA)
    columns = {row[1] for row in db.execute("PRAGMA table_info(usage)")}
    if "estimated" not in columns:  # a ledger written before the column existed
        db.execute("ALTER TABLE usage ADD COLUMN estimated INTEGER NOT NULL DEFAULT 0")


class _LedgerBatch(Batch):
    """One transaction of the ledger: the first row of each id, inserted together at flush."""

    def __init__(self, db: sqlite3.Connection) -> None:
        super().__init__(db)
        self._rows: Rows[_Row] = Rows(f"INSERT INTO usage ({_COLUMNS})")
        self._firsts: set[str] = set()  # ids with a row in the batch
        self._stored: set[str] = set()  # ids stored before the batch, as the flush finds them
        self._clashed = False  # its one statement met a stored id, alone: the flush looks first

    def add(self, rows: Sequence[_Row]) -> Callable[[], int]:
        """Defer the rows of ids new to the batch; how many of them are new to the ledger is
        known after the flush, so that is what this returns (a function)."""
        mine: list[str] = []
        for row in rows:
            if row[0] not in self._firsts:
                self._firsts.add(row[0])
                self._rows.add(row)
                mine.append(row[0])
        return lambda: sum(key not in self._stored for key in mine)

    STAGES_ONLY = True  # ``add`` stages rows; the first ``INSERT`` of a batch may commit alone

    def write_alone(self) -> bool:
        chunks = self._rows.chunks()
        if len(chunks) != 1:  # none, or more than one statement: they commit together
            return not chunks
        try:
            self._rows.write(self.db, chunks[0])  # all new (the usual case): stored and committed
        except sqlite3.IntegrityError:  # some stored already: the statement left nothing
            self._clashed = True
            return False
        return True

    def flush(self) -> None:
        for chunk in self._rows.chunks():
            if not self._clashed:  # else it failed alone already: what is stored is looked up first
                try:
                    self._rows.write(self.db, chunk)  # all new: the usual case, one statement
                    continue
                except sqlite3.IntegrityError:  # some stored already (a redelivery); it left nothing
                    pass
            stored = _stored(self.db, chunk)
            self._stored |= stored
            rest = [row for row in chunk if row[0] not in stored]
            if rest:
                self._rows.write(self.db, rest)


def _stored(db: sqlite3.Connection, rows: Sequence[_Row]) -> set[str]:
    """The ids of ``rows`` stored already: one query per (tenant, run) and chunk."""
    by_run: dict[tuple[str, str], list[tuple[str]]] = {}
    for row in rows:
        by_run.setdefault((row[1], row[2]), []).append((row[0],))
    stored: set[str] = set()
    for (tenant_id, run_id), keys in by_run.items():
        for marks, values in value_lists(keys, spare=2):
            stored.update(key for (key,) in db.execute(_STORED.format(marks), [tenant_id, run_id, *values]))
    return stored


class SqliteLedger:
    """The embedded default ledger, in one SQLite file.

    Args:
        path: The database file (created with its directory if missing).
        timeout: Seconds to wait for another process's write lock.

    Raises:
        ValueError: If ``timeout`` is negative.
    """

    commits_locally = True
    """A commit is a local file's ``fsync``: calls on an event loop write on its thread (ADR 0065)."""

    def __init__(self, path: Path, *, timeout: float = 30.0) -> None:
        if timeout < 0:
            raise ValueError("timeout must be >= 0")
        self.path = path
        # Billing data: durable at commit.
        self._db = Database(path, timeout=timeout, synchronous="FULL", batch=_LedgerBatch)
        self._db.write(_create)

    def record(self, records: Sequence[UsageRecord]) -> int:
        """Store records; ids already stored are ignored (the first write wins).

        Args:
            records: The records.

        Returns:
            How many were new.
        """
        if not records:
            return 0
        rows = [_row(record) for record in records]
        new = self._db.batch_write(lambda batch: batch.add(rows))
        return new()

    def query(
        self,
        tenant_id: str,
        *,
        start: str | None = None,
        end: str | None = None,
        run_id: str | None = None,
    ) -> list[UsageRecord]:
        """A tenant's records, oldest first (by ``at``, then ``id``).

        Args:
            tenant_id: The tenant.
            start: Inclusive lower bound on ``at`` (ISO 8601 with offset, or a date).
            end: Exclusive upper bound on ``at``.
            run_id: Only this run's records.

        Returns:
            The matching records.

        Raises:
            ValueError: If a bound is malformed.
        """
        low, high = time_bounds(start, end)
        sql = f"SELECT {_COLUMNS} FROM usage WHERE tenant_id = ?"  # noqa: S608 - constants; values are bound
        params: list[str] = [tenant_id]
        for clause, value in (("at >= ?", low), ("at < ?", high), ("run_id = ?", run_id)):
            if value is not None:
                sql += f" AND {clause}"
                params.append(value)
        with self._db.read() as db:
            rows = db.execute(sql + " ORDER BY at, id", params).fetchall()
        return [_record(row) for row in rows]

    def get(self, tenant_id: str, ids: Sequence[str], *, run_id: str | None = None) -> list[UsageRecord]:
        """The stored records with these ids: one query per chunk SQLite accepts.

        Args:
            tenant_id: The tenant.
            ids: Record ids.
            run_id: The run of every id, when known: found by the (tenant, run, id) index. Without
                it a new ledger looks through the tenant's entries of that index (an older one
                has an index on the id).

        Returns:
            The stored records among them (of ``run_id`` only, when given).
        """
        where, head = ("tenant_id = ?", [tenant_id]) if run_id is None else (_IN_RUN, [tenant_id, run_id])
        rows: list[_Row] = []
        for marks, chunk in value_lists([(key,) for key in dict.fromkeys(ids)], spare=len(head)):
            sql = f"SELECT {_COLUMNS} FROM usage WHERE {where} AND id IN ({marks})"  # noqa: S608
            with self._db.read() as db:
                rows += db.execute(sql, [*head, *chunk]).fetchall()
        return [_record(row) for row in rows]

    def run_costs(self, tenant_id: str, run_ids: Sequence[str]) -> dict[str, Decimal]:
        """Total cost per run, by an index that starts with (tenant, run): one query per chunk SQLite accepts.

        Args:
            tenant_id: The tenant.
            run_ids: The runs.

        Returns:
            Every asked run id mapped to its total cost (0 when it has no records).
        """
        unique = list(dict.fromkeys(run_ids))
        rows: list[tuple[str, str]] = []
        for marks, chunk in value_lists([(run_id,) for run_id in unique], spare=1):  # tenant_id
            sql = f"SELECT run_id, cost FROM usage WHERE tenant_id = ? AND run_id IN ({marks})"  # noqa: S608
            with self._db.read() as db:
                rows += db.execute(sql, [tenant_id, *chunk]).fetchall()
        return run_totals(unique, rows)

    def close(self) -> None:
        """Close the connection."""
        self._db.close()

    def __enter__(self) -> SqliteLedger:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()
