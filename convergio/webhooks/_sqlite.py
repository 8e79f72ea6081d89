"""The embedded webhook store: one SQLite file in the home directory.

The API and the activities may run in different threads or processes. As in the tenant store,
the store keeps its connections for its life (ADR 0032): writes go through one
:class:`~convergio._sqlite.Database` (group commit; every commit ``synchronous=FULL``, SQLite's default,
which the connection per call this replaced had), reads through one read-only connection
per thread, in autocommit, so a read sees the last commit of any process: ``has_callbacks`` runs
on every run start. Primary keys make the dedupe claims atomic.
"""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Sequence
from pathlib import Path

from convergio._sqlite import Database, Readers, run_script
from convergio.secrets import Secret, SecretStore

from ._models import Attempt, Callback, Delivery, Hook, RunEvent
from ._store import callback_secret_name, hook_secret_name, now, signing_secret

__all__ = ["SqliteWebhookStore"]

_BUSY_TIMEOUT_S = 5.0

_SCHEMA = """
CREATE TABLE IF NOT EXISTS hooks (
    id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL, graph_ref TEXT NOT NULL, event TEXT NULL,
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS inbound (
    hook_id TEXT NOT NULL, delivery_id TEXT NOT NULL, run_id TEXT NOT NULL, created_at TEXT NOT NULL,
    PRIMARY KEY (hook_id, delivery_id)
);
CREATE TABLE IF NOT EXISTS callbacks (
    id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL, url TEXT NOT NULL, events TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS callbacks_by_tenant ON callbacks (tenant_id);
CREATE TABLE IF NOT EXISTS deliveries (
    id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL, callback_id TEXT NOT NULL, run_id TEXT NOT NULL,
    event TEXT NOT NULL, body TEXT NOT NULL, status TEXT NOT NULL, created_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS deliveries_by_callback ON deliveries (callback_id, created_at);
CREATE TABLE IF NOT EXISTS attempts (
    delivery_id TEXT NOT NULL, attempt INTEGER NOT NULL, at TEXT NOT NULL,
    status_code INTEGER NULL, error TEXT NULL, PRIMARY KEY (delivery_id, attempt)
);
"""


class SqliteWebhookStore:
    """Hooks, callbacks and deliveries of all tenants in one SQLite file, with secrets in ``secrets``.

    Args:
        path: The SQLite file (created with its folder when missing).
        secrets: The tenants' secret store, where signing secrets live.
    """

    def __init__(self, path: Path, secrets: SecretStore) -> None:
        self.path = path
        self._secrets = secrets
        # timeout= is SQLite's busy timeout: wait for another process's writer rather than fail.
        self._db = Database(path, timeout=_BUSY_TIMEOUT_S, synchronous="FULL")  # WAL, set in the file
        self._read = Readers(path, timeout=_BUSY_TIMEOUT_S)
        self._db.write(lambda db: run_script(db, _SCHEMA))

    def __repr__(self) -> str:
        return f"SqliteWebhookStore({str(self.path)!r})"

    def close(self) -> None:
        """Close the writing connection (the readers close with their threads or the store)."""
        self._db.close()

    # -- inbound hooks ------------------------------------------------------------------

    def create_hook(self, tenant_id: str, graph_ref: str, event: str | None) -> tuple[Hook, Secret]:
        hook = Hook(uuid.uuid4().hex, tenant_id, graph_ref, event, now())
        with signing_secret(self._secrets, tenant_id, hook_secret_name(hook.id)) as secret:
            self._db.write(
                lambda db: db.execute(
                    "INSERT INTO hooks VALUES (?, ?, ?, ?, ?)",
                    (hook.id, tenant_id, graph_ref, event, hook.created_at),
                )
            )
        return hook, secret

    def hook(self, hook_id: str) -> Hook | None:
        row = self._read().execute("SELECT * FROM hooks WHERE id = ?", (hook_id,)).fetchone()
        return None if row is None else Hook(*row)

    def hooks(self, tenant_id: str) -> list[Hook]:
        rows = (
            self._read()
            .execute("SELECT * FROM hooks WHERE tenant_id = ? ORDER BY created_at", (tenant_id,))
            .fetchall()
        )
        return [Hook(*row) for row in rows]

    def delete_hook(self, tenant_id: str, hook_id: str) -> bool:
        def delete(db: sqlite3.Connection) -> bool:
            gone = db.execute("DELETE FROM hooks WHERE id = ? AND tenant_id = ?", (hook_id, tenant_id))
            if gone.rowcount:
                db.execute("DELETE FROM inbound WHERE hook_id = ?", (hook_id,))
            return gone.rowcount > 0

        deleted = self._db.write(delete)
        if deleted:
            self._secrets.delete(tenant_id, hook_secret_name(hook_id))
        return deleted

    def hook_secret(self, hook: Hook) -> Secret:
        return self._secrets.get(hook.tenant_id, hook_secret_name(hook.id))

    def claim_delivery(self, hook_id: str, delivery_id: str, run_id: str) -> tuple[str, bool]:
        at = now()

        def claim(db: sqlite3.Connection) -> tuple[str, bool]:
            added = db.execute(
                "INSERT OR IGNORE INTO inbound VALUES (?, ?, ?, ?)", (hook_id, delivery_id, run_id, at)
            ).rowcount
            row = db.execute(
                "SELECT run_id FROM inbound WHERE hook_id = ? AND delivery_id = ?", (hook_id, delivery_id)
            ).fetchone()
            return str(row[0]), bool(added)

        return self._db.write(claim)

    def release_delivery(self, hook_id: str, delivery_id: str) -> None:
        self._db.write(
            lambda db: db.execute(
                "DELETE FROM inbound WHERE hook_id = ? AND delivery_id = ?", (hook_id, delivery_id)
            )
        )

    # -- outbound callbacks ----------------------------------------------------------------

    def create_callback(
        self, tenant_id: str, url: str, events: Sequence[RunEvent]
    ) -> tuple[Callback, Secret]:
        callback = Callback(uuid.uuid4().hex, tenant_id, url, tuple(events), now())
        with signing_secret(self._secrets, tenant_id, callback_secret_name(callback.id)) as secret:
            self._db.write(
                lambda db: db.execute(
                    "INSERT INTO callbacks VALUES (?, ?, ?, ?, ?)",
                    (callback.id, tenant_id, url, ",".join(events), callback.created_at),
                )
            )
        return callback, secret

    def callbacks(self, tenant_id: str, event: str | None = None) -> list[Callback]:
        rows = (
            self._read()
            .execute("SELECT * FROM callbacks WHERE tenant_id = ? ORDER BY created_at", (tenant_id,))
            .fetchall()
        )
        found = [Callback(r[0], r[1], r[2], tuple(r[3].split(",")), r[4]) for r in rows]
        return [c for c in found if event is None or event in c.events]

    def callback(self, tenant_id: str, callback_id: str) -> Callback | None:
        return next((c for c in self.callbacks(tenant_id) if c.id == callback_id), None)

    def has_callbacks(self, tenant_id: str) -> bool:
        found = self._read().execute("SELECT 1 FROM callbacks WHERE tenant_id = ? LIMIT 1", (tenant_id,))
        return found.fetchone() is not None

    def delete_callback(self, tenant_id: str, callback_id: str) -> bool:
        deleted = self._db.write(
            lambda db: (
                db.execute(
                    "DELETE FROM callbacks WHERE id = ? AND tenant_id = ?", (callback_id, tenant_id)
                ).rowcount
                > 0
            )
        )
        if deleted:
            self._secrets.delete(tenant_id, callback_secret_name(callback_id))
        return deleted

    def callback_secret(self, callback: Callback) -> Secret:
        return self._secrets.get(callback.tenant_id, callback_secret_name(callback.id))

    # -- delivery records ----------------------------------------------------------------

    def add_delivery(self, delivery: Delivery) -> bool:
        row = (
            delivery.id,
            delivery.tenant_id,
            delivery.callback_id,
            delivery.run_id,
            delivery.event,
            delivery.body,
            delivery.status,
            delivery.created_at,
        )
        insert = "INSERT OR IGNORE INTO deliveries VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
        return self._db.write(lambda db: db.execute(insert, row).rowcount > 0)

    def delivery(self, delivery_id: str) -> Delivery | None:
        db = self._read()
        row = db.execute("SELECT * FROM deliveries WHERE id = ?", (delivery_id,)).fetchone()
        if row is None:
            return None
        tries = db.execute(
            "SELECT attempt, at, status_code, error FROM attempts WHERE delivery_id = ? ORDER BY attempt",
            (delivery_id,),
        ).fetchall()
        return Delivery(
            row[0], row[1], row[2], row[3], row[4], row[6], row[7], row[5], tuple(Attempt(*t) for t in tries)
        )

    def deliveries(self, tenant_id: str, callback_id: str, limit: int = 100) -> list[Delivery]:
        ids = (
            self._read()
            .execute(
                "SELECT id FROM deliveries WHERE tenant_id = ? AND callback_id = ? "
                "ORDER BY created_at DESC LIMIT ?",
                (tenant_id, callback_id, limit),
            )
            .fetchall()
        )
        return [d for (i,) in ids if (d := self.delivery(i)) is not None]

    def record_attempt(self, delivery_id: str, attempt: Attempt, status: str) -> None:
        def record(db: sqlite3.Connection) -> None:
            db.execute(
                "INSERT OR REPLACE INTO attempts VALUES (?, ?, ?, ?, ?)",
                (delivery_id, attempt.attempt, attempt.at, attempt.status_code, attempt.error),
            )
            db.execute("UPDATE deliveries SET status = ? WHERE id = ?", (status, delivery_id))

        self._db.write(record)
