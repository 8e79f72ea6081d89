"""Tenants of the HTTP API: who a request acts for, and which runs are theirs.

A tenant is identified by an API key (``x-api-key``; only SHA-256 digests are stored) or, on
Azure with App Service Authentication, by its Entra ID principal. The store also keeps the run
index, so the API can list a tenant's runs and refuse access to other tenants' runs, and
tenants' metadata records (provider connections, MCP servers).

:class:`TenantStore` is the interface; :class:`SqliteTenantStore` (embedded, one instance) and
:class:`CosmosTenantStore` (the shared control plane, many instances) implement it, and
:func:`open_tenant_store` picks one. Importing this package loads no Azure SDK.
"""

from typing import TYPE_CHECKING

from convergio._lazy import lazy_exports

if TYPE_CHECKING:
    from convergio.tenants._auth import authenticate_headers, credential_of
    from convergio.tenants._connections import ConnectionRecord, ConnectionRegistry
    from convergio.tenants._cosmos import CosmosTenantStore
    from convergio.tenants._keys import key_id_of, tenant_id_for
    from convergio.tenants._models import RunRecord, Tenant, TenantExists, UnknownTenant
    from convergio.tenants._open import open_tenant_store
    from convergio.tenants._roles import (
        ROLE_PERMISSIONS,
        Caller,
        Credential,
        KeyInfo,
        Permission,
        Role,
        parse_role,
    )
    from convergio.tenants._runs import FINISHED, RUN_STATUSES, index_run_end, split_position
    from convergio.tenants._setup import SetupCodeMissing, local_setup_code, setup_code, setup_code_matches
    from convergio.tenants._sqlite import SqliteTenantStore
    from convergio.tenants._store import TenantRecords, TenantStore

# Imported on first use (issue 22): a name brings its submodule only; the Cosmos adapter, the
# SQLite store and the run index's modules come with the store that needs them.
__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "._auth": ("authenticate_headers", "credential_of"),
        "._connections": ("ConnectionRecord", "ConnectionRegistry"),
        "._cosmos": ("CosmosTenantStore",),
        "._keys": ("key_id_of", "tenant_id_for"),
        "._models": ("RunRecord", "Tenant", "TenantExists", "UnknownTenant"),
        "._open": ("open_tenant_store",),
        "._roles": (
            "ROLE_PERMISSIONS",
            "Caller",
            "Credential",
            "KeyInfo",
            "Permission",
            "Role",
            "parse_role",
        ),
        "._runs": ("FINISHED", "RUN_STATUSES", "index_run_end", "split_position"),
        "._setup": ("SetupCodeMissing", "local_setup_code", "setup_code", "setup_code_matches"),
        "._sqlite": ("SqliteTenantStore",),
        "._store": ("TenantRecords", "TenantStore"),
    },
)

__all__ = [
    "ROLE_PERMISSIONS",
    "Caller",
    "Credential",
    "KeyInfo",
    "Permission",
    "Role",
    "credential_of",
    "parse_role",
    "ConnectionRecord",
    "ConnectionRegistry",
    "CosmosTenantStore",
    "FINISHED",
    "RUN_STATUSES",
    "RunRecord",
    "SqliteTenantStore",
    "Tenant",
    "TenantExists",
    "TenantRecords",
    "TenantStore",
    "UnknownTenant",
    "authenticate_headers",
    "index_run_end",
    "key_id_of",
    "local_setup_code",
    "open_tenant_store",
    "SetupCodeMissing",
    "setup_code",
    "setup_code_matches",
    "split_position",
    "tenant_id_for",
]
