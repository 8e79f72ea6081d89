"""The embedded webhook store: one SQLite file in the home directory.

One short-lived connection per call, as in the tenant store, so the API and the activities may
run in different threads or processes. Primary keys make the dedupe claims atomic.
"""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Iterator, Sequence
from contextlib import closing, contextmanager
from pathlib import Path

from convergio.secrets import Secret, SecretStore

from ._models import Attempt, Callback, Delivery, Hook, RunEvent
from ._store import callback_secret_name, hook_secret_name, now, signing_secret

__all__ = ["SqliteWebhookStore"]

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
        path.parent.mkdir(parents=True, exist_ok=True)
        with self._db() as db:
            db.executescript(_SCHEMA)

    @contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        with closing(sqlite3.connect(self.path, timeout=5.0, isolation_level=None)) as db:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA busy_timeout=5000")
            yield db

    # -- inbound hooks ------------------------------------------------------------------

    def create_hook(self, tenant_id: str, graph_ref: str, event: str | None) -> tuple[Hook, Secret]:
        hook = Hook(uuid.uuid4().hex, tenant_id, graph_ref, event, now())
        with signing_secret(self._secrets, tenant_id, hook_secret_name(hook.id)) as secret, self._db() as db:
            db.execute(
                "INSERT INTO hooks VALUES (?, ?, ?, ?, ?)",
                (hook.id, tenant_id, graph_ref, event, hook.created_at),
            )
        return hook, secret

    def hook(self, hook_id: str) -> Hook | None:
        with self._db() as db:
            row = db.execute("SELECT * FROM hooks WHERE id = ?", (hook_id,)).fetchone()
        return None if row is None else Hook(*row)

    def hooks(self, tenant_id: str) -> list[Hook]:
        with self._db() as db:
            rows = db.execute(
                "SELECT * FROM hooks WHERE tenant_id = ? ORDER BY created_at", (tenant_id,)
            ).fetchall()
        return [Hook(*row) for row in rows]

    def delete_hook(self, tenant_id: str, hook_id: str) -> bool:
        with self._db() as db:
            gone = db.execute("DELETE FROM hooks WHERE id = ? AND tenant_id = ?", (hook_id, tenant_id))
            if gone.rowcount:
                db.execute("DELETE FROM inbound WHERE hook_id = ?", (hook_id,))
        if gone.rowcount:
            self._secrets.delete(tenant_id, hook_secret_name(hook_id))
        return bool(gone.rowcount)

    def hook_secret(self, hook: Hook) -> Secret:
        return self._secrets.get(hook.tenant_id, hook_secret_name(hook.id))

    def claim_delivery(self, hook_id: str, delivery_id: str, run_id: str) -> tuple[str, bool]:
        with self._db() as db:
            added = db.execute(
                "INSERT OR IGNORE INTO inbound VALUES (?, ?, ?, ?)", (hook_id, delivery_id, run_id, now())
            ).rowcount
            row = db.execute(
                "SELECT run_id FROM inbound WHERE hook_id = ? AND delivery_id = ?", (hook_id, delivery_id)
            ).fetchone()
        return str(row[0]), bool(added)

    def release_delivery(self, hook_id: str, delivery_id: str) -> None:
        with self._db() as db:
            db.execute("DELETE FROM inbound WHERE hook_id = ? AND delivery_id = ?", (hook_id, delivery_id))

    # -- outbound callbacks ----------------------------------------------------------------

    def create_callback(
        self, tenant_id: str, url: str, events: Sequence[RunEvent]
    ) -> tuple[Callback, Secret]:
        callback = Callback(uuid.uuid4().hex, tenant_id, url, tuple(events), now())
        with (
            signing_secret(self._secrets, tenant_id, callback_secret_name(callback.id)) as secret,
            self._db() as db,
        ):
            db.execute(
                "INSERT INTO callbacks VALUES (?, ?, ?, ?, ?)",
                (callback.id, tenant_id, url, ",".join(events), callback.created_at),
            )
        return callback, secret

    def callbacks(self, tenant_id: str, event: str | None = None) -> list[Callback]:
        with self._db() as db:
            rows = db.execute(
                "SELECT * FROM callbacks WHERE tenant_id = ? ORDER BY created_at", (tenant_id,)
            ).fetchall()
        found = [Callback(r[0], r[1], r[2], tuple(r[3].split(",")), r[4]) for r in rows]
        return [c for c in found if event is None or event in c.events]

    def callback(self, tenant_id: str, callback_id: str) -> Callback | None:
        return next((c for c in self.callbacks(tenant_id) if c.id == callback_id), None)

    def has_callbacks(self, tenant_id: str) -> bool:
        with self._db() as db:
            row = db.execute("SELECT 1 FROM callbacks WHERE tenant_id = ? LIMIT 1", (tenant_id,)).fetchone()
        return row is not None

    def delete_callback(self, tenant_id: str, callback_id: str) -> bool:
        with self._db() as db:
            gone = db.execute(
                "DELETE FROM callbacks WHERE id = ? AND tenant_id = ?", (callback_id, tenant_id)
            )
        if gone.rowcount:
            self._secrets.delete(tenant_id, callback_secret_name(callback_id))
        return bool(gone.rowcount)

    def callback_secret(self, callback: Callback) -> Secret:
        return self._secrets.get(callback.tenant_id, callback_secret_name(callback.id))

    # -- delivery records ----------------------------------------------------------------

    def add_delivery(self, delivery: Delivery) -> bool:
        with self._db() as db:
            added = db.execute(
                "INSERT OR IGNORE INTO deliveries VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    delivery.id,
                    delivery.tenant_id,
                    delivery.callback_id,
                    delivery.run_id,
                    delivery.event,
                    delivery.body,
                    delivery.status,
                    delivery.created_at,
                ),
            )
        return bool(added.rowcount)

    def delivery(self, delivery_id: str) -> Delivery | None:
        with self._db() as db:
            row = db.execute("SELECT * FROM deliveries WHERE id = ?", (delivery_id,)).fetchone()
            tries = db.execute(
                "SELECT attempt, at, status_code, error FROM attempts WHERE delivery_id = ? ORDER BY attempt",
                (delivery_id,),
            ).fetchall()
        if row is None:
            return None
        return Delivery(
            row[0], row[1], row[2], row[3], row[4], row[6], row[7], row[5], tuple(Attempt(*t) for t in tries)
        )

    def deliveries(self, tenant_id: str, callback_id: str, limit: int = 100) -> list[Delivery]:
        with self._db() as db:
            ids = db.execute(
                "SELECT id FROM deliveries WHERE tenant_id = ? AND callback_id = ? "
                "ORDER BY created_at DESC LIMIT ?",
                (tenant_id, callback_id, limit),
            ).fetchall()
        return [d for (i,) in ids if (d := self.delivery(i)) is not None]

    def record_attempt(self, delivery_id: str, attempt: Attempt, status: str) -> None:
        with self._db() as db:
            db.execute("BEGIN IMMEDIATE")
            db.execute(
                "INSERT OR REPLACE INTO attempts VALUES (?, ?, ?, ?, ?)",
                (delivery_id, attempt.attempt, attempt.at, attempt.status_code, attempt.error),
            )
            db.execute("UPDATE deliveries SET status = ? WHERE id = ?", (status, delivery_id))
            db.execute("COMMIT")
