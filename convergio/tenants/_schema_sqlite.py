"""The embedded tenant store's tables, and the migration of a file an earlier release made.

The run index's columns migrate on their own (:func:`~convergio.tenants._runs_sqlite.migrate_runs`);
this module owns the rest of the file's layout. Every step reads first, so opening a current
file takes no write lock, and re-checks under the write lock, since another process (the CLI, a
second host) may open the same file at the same moment.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Callable
from typing import Any, Final

from convergio._sqlite import run_script

__all__ = ["create_tables"]

_log = logging.getLogger("convergio.tenants")
_Read = Callable[[], sqlite3.Connection]
_Write = Callable[[Callable[[sqlite3.Connection], Any]], Any]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS tenants (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    created_at  TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS api_keys (
    key_hash    TEXT PRIMARY KEY,
    tenant_id   TEXT NOT NULL REFERENCES tenants(id),
    label       TEXT NOT NULL DEFAULT '',
    created_at  TEXT NOT NULL,
    revoked_at  TEXT NULL,
    role        TEXT NOT NULL DEFAULT 'admin',
    member      TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS api_keys_by_tenant ON api_keys (tenant_id);
CREATE TABLE IF NOT EXISTS principals (
    principal_id  TEXT PRIMARY KEY,
    tenant_id     TEXT NOT NULL REFERENCES tenants(id),
    role          TEXT NOT NULL DEFAULT 'admin',
    member        TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS runs (
    run_id      TEXT PRIMARY KEY,
    tenant_id   TEXT NOT NULL REFERENCES tenants(id),
    graph_name  TEXT NOT NULL,
    created_at  TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS runs_by_tenant ON runs (tenant_id, created_at);
CREATE TABLE IF NOT EXISTS installation (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    tenant_id   TEXT NOT NULL,
    member_id   TEXT NOT NULL,
    claimed_at  TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS tenant_records (
    kind        TEXT NOT NULL,
    tenant_id   TEXT NOT NULL REFERENCES tenants(id),
    name        TEXT NOT NULL,
    body        TEXT NOT NULL,
    PRIMARY KEY (kind, tenant_id, name)
);
"""
# Tables of earlier releases, one per record kind, folded into tenant_records once: the table
# name is the kind, and the listed columns held JSON text.
_LEGACY_TABLES: Final[dict[str, tuple[str, ...]]] = {
    "connections": (),
    "mcp_servers": ("command", "headers", "tools"),
}
# Columns added since the first release: (table, column, declaration). Keys and principals made
# before roles existed could do everything, so they stay admin.
_ADDED_COLUMNS: Final = (
    ("api_keys", "role", "TEXT NOT NULL DEFAULT 'admin'"),
    ("api_keys", "member", "TEXT NOT NULL DEFAULT ''"),
    ("principals", "role", "TEXT NOT NULL DEFAULT 'admin'"),
    ("principals", "member", "TEXT NOT NULL DEFAULT ''"),
)


def create_tables(read: _Read, write: _Write) -> None:
    """Create the tables where missing and bring an earlier release's file up to them (idempotent).

    ``read`` gives the store's read connection, ``write`` runs a function in a write
    transaction (as for :func:`~convergio.tenants._runs_sqlite.migrate_runs`).
    """
    write(lambda db: run_script(db, _SCHEMA))
    _add_columns(read, write)
    _fold_legacy_tables(read, write)


def _add_columns(read: _Read, write: _Write) -> None:
    """Bring a file made by an earlier release up to the current columns (idempotent)."""

    def missing(db: sqlite3.Connection) -> list[tuple[str, str, str]]:
        return [
            (table, column, declaration)
            for table, column, declaration in _ADDED_COLUMNS
            if column not in {row[1] for row in db.execute(f"PRAGMA table_info({table})")}
        ]

    def add(db: sqlite3.Connection) -> list[str]:
        added = []
        for table, column, declaration in missing(db):  # another process may have added some
            db.execute(f"ALTER TABLE {table} ADD COLUMN {column} {declaration}")
            added.append(f"{table}.{column}")
        return added

    if missing(read()):  # a read first: opening a current file takes no write lock
        for name in write(add):
            _log.info("tenant store: column %s added", name)


def _fold_legacy_tables(read: _Read, write: _Write) -> None:
    """Fold the one-table-per-kind records of earlier releases into ``tenant_records`` (idempotent)."""
    listed = "SELECT name FROM sqlite_master WHERE type = 'table' AND name IN (?, ?)"
    if not read().execute(listed, tuple(_LEGACY_TABLES)).fetchall():
        return  # a read first: opening a current file takes no write lock

    def fold(db: sqlite3.Connection) -> list[str]:
        tables = [table for (table,) in db.execute(listed, tuple(_LEGACY_TABLES)).fetchall()]
        for table in tables:
            json_columns = _LEGACY_TABLES[table]
            cursor = db.execute(f"SELECT * FROM {table}")  # noqa: S608 - a name from _LEGACY_TABLES
            columns = [d[0] for d in cursor.description]
            for row in cursor.fetchall():
                body = dict(zip(columns, row, strict=True))
                body.update({c: json.loads(body[c]) for c in json_columns})
                db.execute(
                    "INSERT OR IGNORE INTO tenant_records (kind, tenant_id, name, body) VALUES (?, ?, ?, ?)",
                    (table, body["tenant_id"], body["name"], json.dumps(body, sort_keys=True)),
                )
            db.execute(f"DROP TABLE {table}")
        return tables

    for table in write(fold):
        _log.info("tenant store: table %s folded into tenant_records", table)
