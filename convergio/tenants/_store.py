"""The tenant store: tenants, API key digests, Entra ID principals and the run index, in SQLite.

The CLI adds tenants and keys while the host serves requests from several threads, so the store
opens one short-lived connection per call instead of sharing one: WAL lets readers and the
single writer proceed together, the busy timeout makes a writer wait instead of failing, and
nothing is cached, so a key issued by another process authenticates on the next request.
"""

from __future__ import annotations

import logging
import sqlite3
import uuid
from collections.abc import Iterator
from contextlib import closing, contextmanager
from datetime import UTC, datetime
from pathlib import Path

from convergio.tenants._keys import hash_key, is_well_formed_key, new_key, tenant_id_for
from convergio.tenants._models import RunRecord, Tenant, TenantExists, UnknownTenant

__all__ = ["STORE_FILE", "TenantStore", "open_tenant_store"]

STORE_FILE = "tenants.sqlite3"
_BUSY_TIMEOUT_S = 5.0
_log = logging.getLogger("convergio.tenants")

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
    revoked_at  TEXT NULL
);
CREATE INDEX IF NOT EXISTS api_keys_by_tenant ON api_keys (tenant_id);
CREATE TABLE IF NOT EXISTS principals (
    principal_id  TEXT PRIMARY KEY,
    tenant_id     TEXT NOT NULL REFERENCES tenants(id)
);
CREATE TABLE IF NOT EXISTS runs (
    run_id      TEXT PRIMARY KEY,
    tenant_id   TEXT NOT NULL REFERENCES tenants(id),
    graph_name  TEXT NOT NULL,
    created_at  TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS runs_by_tenant ON runs (tenant_id, created_at);
"""


def _now() -> str:
    # Fixed width (always microseconds, always +00:00), so text order is time order.
    return datetime.now(UTC).isoformat(timespec="microseconds")


def _canonical_principal(principal_id: str) -> str:
    """Entra object ids are GUIDs: write them one way, whatever case the operator pasted."""
    text = principal_id.strip()
    try:
        return str(uuid.UUID(text))
    except ValueError:
        # Other identity providers' ids may be case-sensitive: keep them exactly.
        return text


class TenantStore:
    """Tenants and their credentials in one SQLite file, safe across threads and processes.

    Args:
        path: The SQLite file; it and its parent directory are created when missing.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as db:
            # The journal mode is stored in the file, so setting it once covers every connection.
            db.execute("PRAGMA journal_mode=WAL")
            db.executescript(_SCHEMA)

    def __repr__(self) -> str:
        return f"TenantStore({str(self.path)!r})"

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        # timeout= is SQLite's busy timeout: wait for another writer rather than fail.
        with closing(sqlite3.connect(self.path, timeout=_BUSY_TIMEOUT_S, isolation_level=None)) as db:
            db.execute("PRAGMA foreign_keys=ON")
            yield db

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        # IMMEDIATE takes the write lock up front, so a check-then-insert cannot race another writer.
        with self._connect() as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")

    @staticmethod
    def _require_tenant(db: sqlite3.Connection, tenant_id: str) -> None:
        if db.execute("SELECT 1 FROM tenants WHERE id = ?", (tenant_id,)).fetchone() is None:
            raise UnknownTenant(tenant_id)

    @staticmethod
    def _insert_key(db: sqlite3.Connection, tenant_id: str, label: str) -> str:
        key = new_key()
        db.execute(
            "INSERT INTO api_keys (key_hash, tenant_id, label, created_at) VALUES (?, ?, ?, ?)",
            (hash_key(key), tenant_id, label, _now()),
        )
        return key

    # -- tenants ------------------------------------------------------------------------
    def add_tenant(self, name: str) -> tuple[Tenant, str]:
        """Register a tenant and issue its first API key.

        Args:
            name: The display name; the id is derived from it (see :func:`tenant_id_for`).

        Returns:
            The new tenant and its first API key (labelled ``initial``). The key is shown only
            here: the store keeps its SHA-256 digest.

        Raises:
            ValueError: The name is blank or yields no id.
            TenantExists: A tenant with the same id exists.
        """
        display = name.strip()
        if not display:
            raise ValueError("tenant name must not be blank")
        tenant = Tenant(id=tenant_id_for(display), name=display, created_at=_now())
        with self._write() as db:
            if db.execute("SELECT 1 FROM tenants WHERE id = ?", (tenant.id,)).fetchone():
                raise TenantExists(tenant.id)
            db.execute(
                "INSERT INTO tenants (id, name, created_at) VALUES (?, ?, ?)",
                (tenant.id, tenant.name, tenant.created_at),
            )
            key = self._insert_key(db, tenant.id, "initial")
        _log.info("tenant %s added", tenant.id)
        return tenant, key

    def get(self, tenant_id: str) -> Tenant | None:
        """Return the tenant with this id, or None."""
        with self._connect() as db:
            row = db.execute("SELECT id, name, created_at FROM tenants WHERE id = ?", (tenant_id,)).fetchone()
        return Tenant(*row) if row else None

    def list_tenants(self) -> list[Tenant]:
        """Return every tenant, ordered by id."""
        with self._connect() as db:
            rows = db.execute("SELECT id, name, created_at FROM tenants ORDER BY id").fetchall()
        return [Tenant(*row) for row in rows]

    # -- API keys -----------------------------------------------------------------------
    def issue_key(self, tenant_id: str, *, label: str = "") -> str:
        """Issue one more API key for a tenant.

        Args:
            tenant_id: The tenant's id.
            label: A note to find the key by later (for example to revoke it).

        Returns:
            The key. Only its digest is stored, so it cannot be shown again.

        Raises:
            UnknownTenant: No tenant has this id.
        """
        with self._write() as db:
            self._require_tenant(db, tenant_id)
            key = self._insert_key(db, tenant_id, label)
        _log.info("key issued for tenant %s (label %r)", tenant_id, label)
        return key

    def revoke_keys(self, tenant_id: str, *, label: str | None = None) -> int:
        """Revoke a tenant's live keys: all of them, or those with ``label``.

        Args:
            tenant_id: The tenant's id.
            label: Revoke only keys with this label; None revokes every key.

        Returns:
            How many keys were revoked (keys revoked earlier are not counted again).

        Raises:
            UnknownTenant: No tenant has this id.
        """
        with self._write() as db:
            self._require_tenant(db, tenant_id)
            cursor = db.execute(
                "UPDATE api_keys SET revoked_at = ? WHERE tenant_id = ? AND revoked_at IS NULL"
                " AND (? IS NULL OR label = ?)",
                (_now(), tenant_id, label, label),
            )
            revoked = cursor.rowcount
        _log.info("%d key(s) revoked for tenant %s", revoked, tenant_id)
        return revoked

    def authenticate(self, key: str) -> Tenant | None:
        """Return the tenant owning a live API key, or None for a malformed, unknown or revoked key."""
        if not is_well_formed_key(key):
            return None
        # The lookup is by digest: timing can reveal at most how a digest compares, never the key.
        with self._connect() as db:
            row = db.execute(
                "SELECT t.id, t.name, t.created_at FROM api_keys k JOIN tenants t ON t.id = k.tenant_id"
                " WHERE k.key_hash = ? AND k.revoked_at IS NULL",
                (hash_key(key),),
            ).fetchone()
        return Tenant(*row) if row else None

    # -- Entra ID principals ------------------------------------------------------------
    def map_principal(self, principal_id: str, tenant_id: str) -> None:
        """Map an Entra ID principal (object id) to a tenant, replacing any earlier mapping.

        Raises:
            ValueError: The principal id is blank.
            UnknownTenant: No tenant has this id.
        """
        principal = _canonical_principal(principal_id)
        if not principal:
            raise ValueError("principal id must not be blank")
        with self._write() as db:
            self._require_tenant(db, tenant_id)
            db.execute(
                "INSERT INTO principals (principal_id, tenant_id) VALUES (?, ?)"
                " ON CONFLICT (principal_id) DO UPDATE SET tenant_id = excluded.tenant_id",
                (principal, tenant_id),
            )
        _log.info("principal mapped to tenant %s", tenant_id)

    def tenant_for_principal(self, principal_id: str) -> Tenant | None:
        """Return the tenant a principal is mapped to, or None."""
        with self._connect() as db:
            row = db.execute(
                "SELECT t.id, t.name, t.created_at FROM principals p JOIN tenants t ON t.id = p.tenant_id"
                " WHERE p.principal_id = ?",
                (_canonical_principal(principal_id),),
            ).fetchone()
        return Tenant(*row) if row else None

    # -- run index ----------------------------------------------------------------------
    def record_run(
        self, tenant_id: str, run_id: str, graph_name: str, *, created_at: str | None = None
    ) -> None:
        """Record that a tenant started a run. Recording the same run again is a no-op.

        Args:
            tenant_id: The tenant that started the run.
            run_id: The orchestration instance id.
            graph_name: The graph the run executes.
            created_at: ISO-8601 UTC time of the start; now when omitted.

        Raises:
            UnknownTenant: No tenant has this id.
            ValueError: The run is already recorded for another tenant.
        """
        with self._write() as db:
            self._require_tenant(db, tenant_id)
            db.execute(
                "INSERT INTO runs (run_id, tenant_id, graph_name, created_at) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (run_id) DO NOTHING",
                (run_id, tenant_id, graph_name, created_at or _now()),
            )
            (owner,) = db.execute("SELECT tenant_id FROM runs WHERE run_id = ?", (run_id,)).fetchone()
            # A retried start is fine; handing a run to another tenant never is.
            if owner != tenant_id:
                raise ValueError(f"run {run_id!r} belongs to another tenant")

    def forget_run(self, run_id: str) -> None:
        """Remove a run from the index (for example after it is purged); unknown ids are ignored."""
        with self._write() as db:
            db.execute("DELETE FROM runs WHERE run_id = ?", (run_id,))

    def owner_of(self, run_id: str) -> str | None:
        """Return the id of the tenant that started a run, or None if the run is not indexed."""
        with self._connect() as db:
            row = db.execute("SELECT tenant_id FROM runs WHERE run_id = ?", (run_id,)).fetchone()
        return str(row[0]) if row else None

    def list_runs(self, tenant_id: str, *, limit: int = 50, offset: int = 0) -> list[RunRecord]:
        """Return a page of a tenant's runs, newest first.

        Args:
            tenant_id: The tenant's id.
            limit: At most this many runs.
            offset: Skip this many of the newest runs first.

        Raises:
            ValueError: ``limit`` is below 1 or ``offset`` below 0.
        """
        if limit < 1:
            raise ValueError("limit must be >= 1")
        if offset < 0:
            raise ValueError("offset must be >= 0")
        with self._connect() as db:
            rows = db.execute(
                # rowid breaks ties between runs recorded in the same microsecond: later insert first.
                "SELECT run_id, tenant_id, graph_name, created_at FROM runs WHERE tenant_id = ?"
                " ORDER BY created_at DESC, rowid DESC LIMIT ? OFFSET ?",
                (tenant_id, limit, offset),
            ).fetchall()
        return [RunRecord(*row) for row in rows]

    def count_runs(self, tenant_id: str) -> int:
        """Return how many runs a tenant has in the index."""
        with self._connect() as db:
            (count,) = db.execute("SELECT COUNT(*) FROM runs WHERE tenant_id = ?", (tenant_id,)).fetchone()
        return int(count)


def open_tenant_store(home: Path) -> TenantStore:
    """Open (creating if needed) the tenant store in a Convergio home directory.

    Args:
        home: The state directory (``CONVERGIO_HOME``); the file is ``home/tenants.sqlite3``.

    Returns:
        The store.
    """
    return TenantStore(home / STORE_FILE)
