"""What the API handlers share in one process: settings, the tenant store, the graph library."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from convergio.errors import Unauthorized
from convergio.tenants import Caller, TenantStore, credential_of

from ._library import load_library

if TYPE_CHECKING:
    from convergio.graph import Catalog
    from convergio.wiring import Components

__all__ = ["Service", "service"]


class Service:
    def __init__(self, parts: Components) -> None:
        self.settings = parts.settings
        self.store: TenantStore = parts.tenants
        self.connections = parts.connections
        self.secrets = parts.secrets
        self.ledger = parts.ledger
        self.quotas = parts.quotas
        self.webhooks = parts.webhooks
        self.streams = parts.streams
        self.toolbox = parts.toolbox
        self.mcp = parts.mcp
        self._managed = bool(parts.settings.managed_connection.strip())
        self._graphs_dir = Path(parts.settings.graphs_dir)

    def authenticate(self, headers: Mapping[str, str]) -> Caller:
        """Who calls (tenant, role, subject), or ``Unauthorized`` (one answer for missing and wrong keys)."""
        trust = self.settings.trust_principal_headers
        found = credential_of(headers, self.store, trust_principal_headers=trust)
        if found is None:
            raise Unauthorized("missing or unknown API key: send it in the x-api-key header")
        return Caller.of(found)

    @functools.cache  # noqa: B019 - one Service per process; the library is read once
    def library(self) -> Mapping[str, dict[str, Any]]:
        return load_library(self._graphs_dir)

    def catalog(self, tenant_id: str) -> Catalog:
        """What a tenant's graphs may name: built-in providers, its connections, tools, the library."""
        from convergio.agents import MANAGED
        from convergio.graph import Catalog
        from convergio.providers import PROVIDER_NAMES

        names = PROVIDER_NAMES | {c.name for c in self.connections.list(tenant_id)}
        if self._managed and self.quotas.budget(tenant_id).managed_enabled:
            names |= {MANAGED}
        tools = self.toolbox.tool_names(tenant_id)
        return Catalog(providers=frozenset(names), tools=tools, graphs=self.library())


@functools.cache
def service() -> Service:
    """The process-wide service, built on first use from the settings.

    The stores and adapters are imported here, not at import: ``import function_app`` indexes
    the routes at every cold start and needs none of them (issue 22).
    """
    from convergio.wiring import components

    return Service(components())
