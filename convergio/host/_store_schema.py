"""The host store's tables, the columns an instance is read with, and the upgrades of old stores.

An instance's large values live in their own rows (``payloads``, ADR 0012); the work and inbox
rows carry the leases of ADR 0023; ``version`` is ADR 0020's. A ``history`` row holds the events
one step appended, as a JSON array, from the ``seq`` of its first (ADR 0041): a store written by
an older host has one event object per row, in a ``WITHOUT ROWID`` table, and is read and
written as it is, with no upgrade.
"""

from __future__ import annotations

import sqlite3

__all__ = ["FULL", "HEADER", "PAYLOADS", "SCHEMA", "STATUS", "STATUS_INPUT", "migrate"]

_INSTANCES = """
CREATE TABLE IF NOT EXISTS {table} (
    instance_id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    execution_id TEXT NOT NULL,
    status TEXT NOT NULL,
    parent_instance_id TEXT,
    parent_execution_id TEXT,
    parent_task_id INTEGER,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    history_len INTEGER NOT NULL DEFAULT 0,
    version TEXT
)"""
SCHEMA = (
    _INSTANCES.format(table="instances")
    + """;
CREATE INDEX IF NOT EXISTS instances_created ON instances(created_at);
CREATE TABLE IF NOT EXISTS payloads (
    instance_id TEXT NOT NULL,
    name TEXT NOT NULL,
    value TEXT,
    UNIQUE (instance_id, name)
);
CREATE TABLE IF NOT EXISTS history (
    instance_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    event TEXT NOT NULL,
    UNIQUE (instance_id, seq)
);
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
)

PAYLOADS = ("input", "output", "custom_status", "shim")
"""An instance's large values, each its own row in ``payloads``, not columns of ``instances``.

SQLite rewrites a whole row on any update, overflow pages included: with the graph (input)
and the run's status in the row, every step's small update wrote hundreds of kilobytes, and
reading the header walked the input's overflow chain to reach the columns after it.
"""


def _columns(*payloads: str) -> str:
    """``SELECT`` columns in ``InstanceRecord`` order, with ``payloads`` read and the others ``NULL``."""

    def payload(name: str) -> str:
        if name not in payloads:
            return "NULL"
        return f"(SELECT value FROM payloads p WHERE p.instance_id = i.instance_id AND p.name = '{name}')"  # noqa: S608

    return (
        f"i.instance_id, i.name, i.execution_id, i.status, {payload('input')}, {payload('output')}, "
        f"{payload('custom_status')}, i.parent_instance_id, i.parent_execution_id, i.parent_task_id, "
        f"i.created_at, i.updated_at, i.history_len, {payload('shim')}, i.version"
    )


HEADER = _columns()
FULL = _columns(*PAYLOADS)
STATUS = _columns("output", "custom_status")
"""What a status answer shows without its input; the shim, the host's own, it never shows."""
STATUS_INPUT = _columns("input", "output", "custom_status")


def migrate(db: sqlite3.Connection) -> None:
    """Bring a store written by an older host up to this schema (each step once; a no-op after)."""
    _move_payloads(db)
    _add_version(db)
    _add_leases(db)


def _move_payloads(db: sqlite3.Connection) -> None:
    """Upgrade a store written when the large values were columns of ``instances`` (once).

    The table is rebuilt rather than altered: ``DROP COLUMN`` needs SQLite 3.35.
    """
    columns = [row[1] for row in db.execute("PRAGMA table_info(instances)")]
    moved = [name for name in PAYLOADS if name in columns]
    if not moved:
        return
    for name in moved:
        db.execute(
            f"INSERT OR REPLACE INTO payloads SELECT instance_id, '{name}', {name} FROM instances "  # noqa: S608
            f"WHERE {name} IS NOT NULL"
        )
    kept = ", ".join(name for name in columns if name not in moved)
    db.execute(_INSTANCES.format(table="instances_upgraded"))
    db.execute(f"INSERT INTO instances_upgraded ({kept}) SELECT {kept} FROM instances")  # noqa: S608
    db.execute("DROP TABLE instances")
    db.execute("ALTER TABLE instances_upgraded RENAME TO instances")
    db.execute("CREATE INDEX IF NOT EXISTS instances_created ON instances(created_at)")


def _add_leases(db: sqlite3.Connection) -> None:
    """Give a store the lease columns and table of ADR 0023 (once; older rows are unleased)."""
    if "lease_until" not in [row[1] for row in db.execute("PRAGMA table_info(work)")]:
        db.execute("ALTER TABLE work ADD COLUMN owner TEXT")
        db.execute("ALTER TABLE work ADD COLUMN lease_until REAL NOT NULL DEFAULT 0")
    if "origin" not in [row[1] for row in db.execute("PRAGMA table_info(inbox)")]:
        db.execute("ALTER TABLE inbox ADD COLUMN origin TEXT")
    db.execute("CREATE INDEX IF NOT EXISTS work_lease ON work(lease_until, id)")
    db.execute(
        "CREATE TABLE IF NOT EXISTS instance_leases "
        "(instance_id TEXT PRIMARY KEY, owner TEXT NOT NULL, until REAL NOT NULL) WITHOUT ROWID"
    )


def _add_version(db: sqlite3.Connection) -> None:
    """Give a store written before orchestration versions (ADR 0020) its ``version`` column.

    Its instances have no version, as instances created before ``defaultVersion`` was set.
    """
    if "version" not in [row[1] for row in db.execute("PRAGMA table_info(instances)")]:
        db.execute("ALTER TABLE instances ADD COLUMN version TEXT")
