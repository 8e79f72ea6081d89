"""The embedded tenant store: tenants, key digests, principals, the run index and records in SQLite.

The CLI adds tenants and keys while the host serves requests from several threads, and other
processes (the CLI, a second host) share the file. A store keeps its connections for its life
(ADR 0032): writes go through one :class:`~convergio._sqlite.Database` (group commit: threads
writing at once share a transaction and its fsync, and never wait on SQLite's busy handler for
each other), reads through one read-only connection per thread (a read never queues behind a
commit's fsync). Each read runs in autocommit, so it sees the last commit of any process: no
cache, so a key issued or revoked by another process counts on the next request. Every commit is
``synchronous=FULL``: keys, members and connections cannot be rebuilt, and the run index's claim
must be on disk before the durable start it announces (ADR 0017), whose store is another file.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Literal, TypeVar

from convergio._sqlite import Database, Readers
from convergio.tenants._keys import KEY_ID_CHARS, hash_key, is_well_formed_key, key_id, new_key, tenant_id_for
from convergio.tenants._models import Tenant, TenantExists, UnknownTenant
from convergio.tenants._roles import Credential, KeyInfo, Role, subject_of
from convergio.tenants._runs_sqlite import SqliteRunIndex, migrate_runs
from convergio.tenants._schema_sqlite import create_tables
from convergio.tenants._store import _now, canonical_principal, check_kind

__all__ = ["STORE_FILE", "SqliteTenantRecords", "SqliteTenantStore"]

STORE_FILE = "tenants.sqlite3"
_BUSY_TIMEOUT_S = 5.0
_log = logging.getLogger("convergio.tenants")
T = TypeVar("T")


class SqliteTenantStore(SqliteRunIndex):
    """The :class:`~convergio.tenants.TenantStore` in one SQLite file, safe across threads and processes.

    Args:
        path: The SQLite file; it and its parent directory are created when missing.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        # timeout= is SQLite's busy timeout: wait for another process's writer rather than fail.
        self._db = Database(path, timeout=_BUSY_TIMEOUT_S, synchronous="FULL")  # WAL, set in the file
        with self._db.read() as db:
            db.execute("PRAGMA foreign_keys=ON")
        self._readers = Readers(path, timeout=_BUSY_TIMEOUT_S)
        create_tables(self._reader, self._write)
        migrate_runs(self._reader, self._write)

    def __repr__(self) -> str:
        return f"SqliteTenantStore({str(self.path)!r})"

    def close(self) -> None:
        """Close the writing connection (the readers close with their threads or the store)."""
        self._db.close()

    def _reader(self) -> sqlite3.Connection:
        """This thread's read-only connection (autocommit: each statement sees the last commit)."""
        return self._readers()

    def _write(self, op: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``op`` in a ``BEGIN IMMEDIATE`` transaction, maybe with other threads' (group
        commit), committed when this returns: a check-then-insert cannot race another writer.
        ``op`` must touch nothing but the connection: it runs on whichever thread commits."""
        return self._db.write(op)

    def require_tenant(self, db: sqlite3.Connection, tenant_id: str) -> None:
        """Raise :class:`UnknownTenant` unless the tenant exists (inside ``db``'s transaction)."""
        if db.execute("SELECT 1 FROM tenants WHERE id = ?", (tenant_id,)).fetchone() is None:
            raise UnknownTenant(tenant_id)

    @staticmethod
    def _insert_key(
        db: sqlite3.Connection, tenant_id: str, label: str, role: Role = Role.ADMIN, member: str = ""
    ) -> str:
        key = new_key()
        db.execute(
            "INSERT INTO api_keys (key_hash, tenant_id, label, created_at, role, member)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (hash_key(key), tenant_id, label, _now(), Role(role).value, member),
        )
        return key

    # -- tenants ------------------------------------------------------------------------
    def add_tenant(self, name: str) -> tuple[Tenant, str]:
        display = name.strip()
        if not display:
            raise ValueError("tenant name must not be blank")
        tenant = Tenant(id=tenant_id_for(display), name=display, created_at=_now())

        def add(db: sqlite3.Connection) -> str:
            if db.execute("SELECT 1 FROM tenants WHERE id = ?", (tenant.id,)).fetchone():
                raise TenantExists(tenant.id)
            db.execute(
                "INSERT INTO tenants (id, name, created_at) VALUES (?, ?, ?)",
                (tenant.id, tenant.name, tenant.created_at),
            )
            return self._insert_key(db, tenant.id, "initial")

        key = self._write(add)
        _log.info("tenant %s added", tenant.id)
        return tenant, key

    def get(self, tenant_id: str) -> Tenant | None:
        row = (
            self._reader()
            .execute("SELECT id, name, created_at FROM tenants WHERE id = ?", (tenant_id,))
            .fetchone()
        )
        return Tenant(*row) if row else None

    def list_tenants(self) -> list[Tenant]:
        rows = self._reader().execute("SELECT id, name, created_at FROM tenants ORDER BY id").fetchall()
        return [Tenant(*row) for row in rows]

    # -- API keys -----------------------------------------------------------------------
    def issue_key(self, tenant_id: str, *, label: str = "", role: Role = Role.ADMIN, member: str = "") -> str:
        def issue(db: sqlite3.Connection) -> str:
            self.require_tenant(db, tenant_id)
            return self._insert_key(db, tenant_id, label, role, member)

        key = self._write(issue)
        _log.info("key issued for tenant %s (label %r, role %s)", tenant_id, label, Role(role).value)
        return key

    def revoke_keys(self, tenant_id: str, *, label: str | None = None, member: str | None = None) -> int:
        def revoke(db: sqlite3.Connection) -> int:
            self.require_tenant(db, tenant_id)
            return db.execute(
                "UPDATE api_keys SET revoked_at = ? WHERE tenant_id = ? AND revoked_at IS NULL"
                " AND (? IS NULL OR label = ?) AND (? IS NULL OR member = ?)",
                (_now(), tenant_id, label, label, member, member),
            ).rowcount

        revoked = self._write(revoke)
        _log.info("%d key(s) revoked for tenant %s", revoked, tenant_id)
        return revoked

    def revoke_key(self, tenant_id: str, key_id: str) -> bool:
        if len(key_id) != KEY_ID_CHARS:
            return False
        revoked = _changed(
            self._write,
            "UPDATE api_keys SET revoked_at = ? WHERE tenant_id = ? AND revoked_at IS NULL"
            " AND substr(key_hash, 1, ?) = ?",
            (_now(), tenant_id, KEY_ID_CHARS, key_id),
        )
        _log.info("key %s of tenant %s revoked: %s", key_id, tenant_id, revoked)
        return revoked

    def list_keys(self, tenant_id: str) -> list[KeyInfo]:
        rows = (
            self._reader()
            .execute(
                "SELECT key_hash, label, role, member, created_at, revoked_at FROM api_keys"
                " WHERE tenant_id = ? ORDER BY created_at, key_hash",
                (tenant_id,),
            )
            .fetchall()
        )
        return [
            KeyInfo(key_id(h), label, Role(role), member, at, gone)
            for h, label, role, member, at, gone in rows
        ]

    def identify(self, key: str) -> Credential | None:
        if not is_well_formed_key(key):
            return None
        digest = hash_key(key)
        # The lookup is by digest: timing can reveal at most how a digest compares, never the key.
        row = (
            self._reader()
            .execute(
                "SELECT t.id, t.name, t.created_at, k.role, k.member FROM api_keys k JOIN tenants t"
                " ON t.id = k.tenant_id WHERE k.key_hash = ? AND k.revoked_at IS NULL",
                (digest,),
            )
            .fetchone()
        )
        if row is None:
            return None
        *tenant, role, member = row
        return Credential(Tenant(*tenant), Role(role), member, subject_of(member, f"key:{key_id(digest)}"))

    def authenticate(self, key: str) -> Tenant | None:
        found = self.identify(key)
        return None if found is None else found.tenant

    # -- Entra ID principals ------------------------------------------------------------
    def map_principal(
        self, principal_id: str, tenant_id: str, *, role: Role = Role.ADMIN, member: str = ""
    ) -> None:
        principal = canonical_principal(principal_id)
        if not principal:
            raise ValueError("principal id must not be blank")

        def map_it(db: sqlite3.Connection) -> None:
            self.require_tenant(db, tenant_id)
            db.execute(
                "INSERT INTO principals (principal_id, tenant_id, role, member) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (principal_id) DO UPDATE SET tenant_id = excluded.tenant_id,"
                " role = excluded.role, member = excluded.member",
                (principal, tenant_id, Role(role).value, member),
            )

        self._write(map_it)
        _log.info("principal mapped to tenant %s as %s", tenant_id, Role(role).value)

    def unmap_principal(self, principal_id: str, tenant_id: str) -> bool:
        return _changed(
            self._write,
            "DELETE FROM principals WHERE principal_id = ? AND tenant_id = ?",
            (canonical_principal(principal_id), tenant_id),
        )

    def principal(self, principal_id: str) -> Credential | None:
        principal = canonical_principal(principal_id)
        row = (
            self._reader()
            .execute(
                "SELECT t.id, t.name, t.created_at, p.role, p.member FROM principals p JOIN tenants t"
                " ON t.id = p.tenant_id WHERE p.principal_id = ?",
                (principal,),
            )
            .fetchone()
        )
        if row is None:
            return None
        *tenant, role, member = row
        return Credential(Tenant(*tenant), Role(role), member, subject_of(member, f"principal:{principal}"))

    def tenant_for_principal(self, principal_id: str) -> Tenant | None:
        found = self.principal(principal_id)
        return None if found is None else found.tenant

    # -- the installation's claim (ADR 0022) ---------------------------------------------
    def claim_installation(self, tenant_id: str, member_id: str) -> bool:
        # One row at most (id = 1): the first INSERT wins, every later one does nothing.
        won = _changed(
            self._write,
            "INSERT INTO installation (id, tenant_id, member_id, claimed_at) VALUES (1, ?, ?, ?)"
            " ON CONFLICT (id) DO NOTHING",
            (tenant_id, member_id, _now()),
        )
        _log.info("installation claimed for tenant %s: %s", tenant_id, won)
        return won

    def installation_claim(self) -> dict[str, str] | None:
        row = self._reader().execute("SELECT tenant_id, member_id, claimed_at FROM installation").fetchone()
        return None if row is None else dict(zip(("tenant_id", "member_id", "claimed_at"), row, strict=True))

    # -- run index: SqliteRunIndex (_runs_sqlite.py) --------------------------------------

    # -- tenant records -----------------------------------------------------------------
    def records(self, kind: str) -> SqliteTenantRecords:
        return SqliteTenantRecords(self, check_kind(kind))


def _changed(
    write: Callable[[Callable[[sqlite3.Connection], bool]], bool], sql: str, args: tuple[Any, ...]
) -> bool:
    """Run one statement in a write transaction: whether it changed a row."""
    return write(lambda db: db.execute(sql, args).rowcount > 0)


class SqliteTenantRecords:
    """One family of tenant records in the tenant store's file (same locking and durability rules)."""

    def __init__(self, store: SqliteTenantStore, kind: str) -> None:
        self._store = store
        self.kind = kind

    def __repr__(self) -> str:
        return f"SqliteTenantRecords({self._store!r}, {self.kind!r})"

    def _insert(
        self, verb: Literal["REPLACE", "IGNORE"], tenant_id: str, name: str, body: Mapping[str, Any]
    ) -> bool:
        text = json.dumps(dict(body), sort_keys=True)

        def insert(db: sqlite3.Connection) -> bool:
            self._store.require_tenant(db, tenant_id)
            return (
                db.execute(
                    f"INSERT OR {verb} INTO tenant_records (kind, tenant_id, name, body)"  # noqa: S608 - a constant verb
                    " VALUES (?, ?, ?, ?)",
                    (self.kind, tenant_id, name, text),
                ).rowcount
                > 0
            )

        return self._store._write(insert)

    def put(self, tenant_id: str, name: str, body: Mapping[str, Any]) -> None:
        self._insert("REPLACE", tenant_id, name, body)

    def create(self, tenant_id: str, name: str, body: Mapping[str, Any]) -> bool:
        return self._insert("IGNORE", tenant_id, name, body)

    def get(self, tenant_id: str, name: str) -> dict[str, Any] | None:
        row = (
            self._store._reader()
            .execute(
                "SELECT body FROM tenant_records WHERE kind = ? AND tenant_id = ? AND name = ?",
                (self.kind, tenant_id, name),
            )
            .fetchone()
        )
        return dict(json.loads(row[0])) if row else None

    def items(self, tenant_id: str) -> list[tuple[str, dict[str, Any]]]:
        rows = (
            self._store._reader()
            .execute(
                "SELECT name, body FROM tenant_records WHERE kind = ? AND tenant_id = ? ORDER BY name",
                (self.kind, tenant_id),
            )
            .fetchall()
        )
        return [(str(name), dict(json.loads(body))) for name, body in rows]

    def list(self, tenant_id: str) -> list[dict[str, Any]]:
        return [body for _, body in self.items(tenant_id)]

    def delete(self, tenant_id: str, name: str) -> bool:
        return _changed(
            self._store._write,
            "DELETE FROM tenant_records WHERE kind = ? AND tenant_id = ? AND name = ?",
            (self.kind, tenant_id, name),
        )

    def delete_if(self, tenant_id: str, name: str, body: Mapping[str, Any]) -> bool:
        text = json.dumps(dict(body), sort_keys=True)  # as put and create store it
        return _changed(
            self._store._write,
            "DELETE FROM tenant_records WHERE kind = ? AND tenant_id = ? AND name = ? AND body = ?",
            (self.kind, tenant_id, name, text),
        )
