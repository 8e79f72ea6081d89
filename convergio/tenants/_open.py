"""Which tenant store an instance opens: its own SQLite file, or the shared control plane."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from convergio.tenants._cosmos import CosmosTenantStore
from convergio.tenants._sqlite import STORE_FILE, SqliteTenantStore
from convergio.tenants._store import TenantStore

if TYPE_CHECKING:
    from convergio.controlplane import CosmosPlane

__all__ = ["open_tenant_store"]


def open_tenant_store(home: Path, *, cosmos: CosmosPlane | None = None) -> TenantStore:
    """Open the tenant store: the control plane's ``tenants`` container when given, else SQLite.

    Args:
        home: The state directory (``CONVERGIO_HOME``); the embedded file is ``home/tenants.sqlite3``
            (created when missing). Unused with ``cosmos``.
        cosmos: The shared control plane, when several instances serve the same tenants.

    Returns:
        The store.
    """
    if cosmos is not None:
        return CosmosTenantStore(cosmos)
    return SqliteTenantStore(home / STORE_FILE)
