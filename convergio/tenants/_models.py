"""The records and errors of the tenants package.

Error tree::

    ValueError
    └── TenantExists          a tenant with that id is already registered
    LookupError
    └── UnknownTenant         no tenant has that id
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

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

    The index keeps what a list of runs shows, so listing needs no call per run to the durable
    backend: the status is written where the run's state changes (recorded ``Pending`` by the start,
    ``Running`` learnt from the durable backend by the first list that meets it and written back,
    ADR 0025; ``Completed``/``Failed`` by the run itself, ``Terminated`` by a cancel).

    Attributes:
        run_id: The orchestration instance id.
        tenant_id: The tenant that started the run.
        graph_name: The graph the run executes.
        created_at: When the run was recorded, ISO-8601 in UTC.
        status: Pending, Running, Completed, Failed or Terminated, as the API shows it; ``""``
            for an entry recorded by a release that kept no status (not known yet).
        finished_at: When the run ended (ISO-8601 UTC), None while it goes.
        updated_at: When the entry last changed (ISO-8601 UTC).
        usage: The run's token counts as of ``updated_at`` (the API's ``Usage`` fields).
        started_by: Who started it (the caller's subject); ``""`` when not known.
        cursor: Where the entry sits in its tenant's newest-first order (``list_runs(before=)``).
        awaiting_input: The run waits for human input now (an approval, an answer).
        cancelled_by: Who cancelled it (a member id or a role), ``""`` when not cancelled.
        cancel_reason: The reason the canceller gave (caller text, bounded, credentials masked).

    ``updated_at`` and ``cursor`` are bookkeeping: records compare equal without them.
    """

    run_id: str
    tenant_id: str
    graph_name: str
    created_at: str
    status: str = "Pending"
    finished_at: str | None = None
    updated_at: str = field(default="", compare=False)
    usage: Mapping[str, int] = field(default_factory=dict, hash=False)
    started_by: str = ""
    cursor: str = field(default="", compare=False)
    awaiting_input: bool = False
    cancelled_by: str = ""
    cancel_reason: str = ""


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
