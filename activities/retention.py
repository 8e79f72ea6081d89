"""Retention activities: plan a sweep, sweep one tenant, run the backstop (ADR 0018).

The orchestration passes its own clock (``at``): a re-run activity decides as the first did.
The sweeps purge through the durable client binding, which works on activities too.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import azure.durable_functions as df

from convergio.retention import DurableInstances, RetentionPolicy, backstop, sweep_tenant
from convergio.wiring import components

__all__ = ["retention_backstop_activity", "retention_plan_activity", "retention_sweep_activity"]


def retention_plan_activity(call: dict[str, Any]) -> dict[str, Any]:
    """The tenants to sweep, and the settings the orchestration may not read itself."""
    parts = components()
    return {
        "tenants": [tenant.id for tenant in parts.tenants.list_tenants()],
        "interval_s": parts.settings.retention_interval_s,
        "batch": parts.settings.retention_batch,
        "defaults": RetentionPolicy().as_dict(),
    }


async def retention_sweep_activity(
    call: dict[str, Any], client: df.DurableOrchestrationClient
) -> dict[str, Any]:
    """One bounded pass over one tenant's runs; its summary is also kept for the API."""
    parts = components()
    return await sweep_tenant(
        parts.tenants,
        parts.streams,
        DurableInstances(client),
        str(call["tenant"]),
        datetime.fromisoformat(call["at"]),
        batch=int(call["batch"]),
    )


async def retention_backstop_activity(
    call: dict[str, Any], client: df.DurableOrchestrationClient
) -> dict[str, Any]:
    """Finished instances and stream events older than every tenant's policy."""
    return await backstop(
        components().streams,
        DurableInstances(client),
        datetime.fromisoformat(call["at"]),
        finished_runs_days=int(call["finished_runs_days"]),
        stream_events_days=int(call["stream_events_days"]),
    )
