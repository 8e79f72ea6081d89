"""The ``kv`` capability's storage: the :class:`PluginKV` protocol and its SQLite adapter.

The host passes the tenant and plugin of the running call, never the guest, so one plugin cannot
read another's keys, and one tenant cannot read another tenant's. Keys, values and the total
size per (tenant, plugin) are capped. :class:`KVStore` keeps rows keyed by (tenant, plugin, key)
in one SQLite file; ``CosmosKVStore`` keeps them in the control plane.
"""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path
from typing import Literal, Protocol

__all__ = ["KVStore", "PluginKV", "PutResult", "check_limits"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS plugin_kv (
    tenant_id TEXT NOT NULL,
    plugin    TEXT NOT NULL,
    key       BLOB NOT NULL,
    value     BLOB NOT NULL,
    PRIMARY KEY (tenant_id, plugin, key)
)
"""

PutResult = Literal["ok", "too_large", "quota"]


class PluginKV(Protocol):
    """Plugins' key-value data per (tenant, plugin), with the same limits in every adapter.

    Attributes:
        key_bytes: The longest key.
        value_bytes: The longest value.
        quota_bytes: The most key plus value bytes one plugin keeps for one tenant.
    """

    key_bytes: int
    value_bytes: int
    quota_bytes: int

    def get(self, tenant_id: str, plugin: str, key: bytes) -> bytes | None:
        """A value, or None when there is none."""
        ...

    def put(self, tenant_id: str, plugin: str, key: bytes, value: bytes) -> PutResult:
        """Write a value atomically: ``"too_large"`` or ``"quota"`` write nothing."""
        ...

    def clear(self, tenant_id: str, plugin: str) -> None:
        """Delete everything one plugin stored for one tenant (on uninstall)."""
        ...

    def close(self) -> None:
        """Release what the store holds open."""
        ...


def check_limits(**limits: int) -> None:
    """Refuse a limit below 1 (``ValueError`` naming it)."""
    for name, value in limits.items():
        if value < 1:
            raise ValueError(f"{name} must be >= 1")


class KVStore:
    """A per-tenant, per-plugin key-value store in one SQLite file.

    Args:
        path: The SQLite file (created if missing).
        key_bytes: The longest key.
        value_bytes: The longest value.
        quota_bytes: The most bytes (keys plus values) one plugin may keep for one tenant.

    Raises:
        ValueError: a limit below 1.
    """

    def __init__(
        self,
        path: Path,
        *,
        key_bytes: int = 256,
        value_bytes: int = 64 * 1024,
        quota_bytes: int = 1024 * 1024,
    ) -> None:
        check_limits(key_bytes=key_bytes, value_bytes=value_bytes, quota_bytes=quota_bytes)
        self.key_bytes = key_bytes
        self.value_bytes = value_bytes
        self.quota_bytes = quota_bytes
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(_SCHEMA)

    def get(self, tenant_id: str, plugin: str, key: bytes) -> bytes | None:
        """Read a value.

        Args:
            tenant_id: The calling tenant.
            plugin: The calling plugin.
            key: The key.

        Returns:
            The value, or None when there is none.
        """
        with self._lock:
            row = self._db.execute(
                "SELECT value FROM plugin_kv WHERE tenant_id = ? AND plugin = ? AND key = ?",
                (tenant_id, plugin, key),
            ).fetchone()
        return None if row is None else bytes(row[0])

    def put(self, tenant_id: str, plugin: str, key: bytes, value: bytes) -> PutResult:
        """Write a value, within the size limits and the quota.

        Args:
            tenant_id: The calling tenant.
            plugin: The calling plugin.
            key: The key.
            value: The value.

        Returns:
            ``"ok"``, ``"too_large"`` (key or value over its limit) or ``"quota"`` (store full).
        """
        if len(key) > self.key_bytes or len(value) > self.value_bytes:
            return "too_large"
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                used = self._db.execute(
                    "SELECT COALESCE(SUM(LENGTH(key) + LENGTH(value)), 0) FROM plugin_kv"
                    " WHERE tenant_id = ? AND plugin = ? AND key != ?",
                    (tenant_id, plugin, key),
                ).fetchone()[0]
                if used + len(key) + len(value) > self.quota_bytes:
                    self._db.execute("ROLLBACK")
                    return "quota"
                self._db.execute(
                    "INSERT OR REPLACE INTO plugin_kv (tenant_id, plugin, key, value) VALUES (?, ?, ?, ?)",
                    (tenant_id, plugin, key, value),
                )
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        return "ok"

    def clear(self, tenant_id: str, plugin: str) -> None:
        """Delete everything one plugin stored for one tenant (on uninstall).

        Args:
            tenant_id: The tenant.
            plugin: The plugin.
        """
        with self._lock:
            self._db.execute("DELETE FROM plugin_kv WHERE tenant_id = ? AND plugin = ?", (tenant_id, plugin))

    def close(self) -> None:
        """Close the database."""
        with self._lock:
            self._db.close()
