"""The records and errors of the tenants package.

Error tree::

    ValueError
    └── TenantExists          a tenant with that id is already registered
    LookupError
    └── UnknownTenant         no tenant has that id
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["RunRecord", "Tenant", "TenantExists", "UnknownTenant"]


@dataclass(frozen=True, slots=True)
class Tenant:
    """One tenant of the HTTP API.

    Attributes:
        id: The slug derived from the name (``[a-z0-9-]``, 1..63 chars), e.g. ``acme-school``.
        name: The display name, as given when the tenant was added.
        created_at: When the tenant was added, ISO-8601 in UTC.
    """

    id: str
    name: str
    created_at: str


@dataclass(frozen=True, slots=True)
class RunRecord:
    """One run (orchestration instance) in a tenant's run index.

    Attributes:
        run_id: The orchestration instance id.
        tenant_id: The tenant that started the run.
        graph_name: The graph the run executes.
        created_at: When the run was recorded, ISO-8601 in UTC.
    """

    run_id: str
    tenant_id: str
    graph_name: str
    created_at: str


class TenantExists(ValueError):
    """A tenant with the id derived from the given name is already registered."""

    def __init__(self, tenant_id: str) -> None:
        super().__init__(f"tenant {tenant_id!r} already exists")
        self.tenant_id = tenant_id


class UnknownTenant(LookupError):
    """No tenant has the given id."""

    def __init__(self, tenant_id: str) -> None:
        super().__init__(f"no tenant {tenant_id!r}")
        self.tenant_id = tenant_id
