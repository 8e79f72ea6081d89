"""The retention orchestration's names, its singleton start, and the task hub as a sweep sees it.

There is one retention orchestration per task hub, under a fixed instance id. Azure Functions
has no start-up hook for Python apps and the embedded host runs no timer triggers, so it is
started (when missing, finished or failed) from two places, whichever comes first: the first
API request each process serves, and an hourly timer trigger on Azure (``retention_keeper``),
which also revives it without any traffic. Starting is check-then-start, as Microsoft's
singleton pattern does; two racing starters end with one instance under the one id.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Final

import azure.durable_functions as df
from azure.durable_functions.models.OrchestrationRuntimeStatus import OrchestrationRuntimeStatus

from ._sweep import TERMINAL

__all__ = [
    "RETENTION",
    "RETENTION_BACKSTOP",
    "RETENTION_INSTANCE",
    "RETENTION_PLAN",
    "RETENTION_SWEEP",
    "DurableInstances",
    "ensure_once",
    "ensure_retention",
]

RETENTION: Final = "retention"
"""The eternal orchestrator: sweep, sleep on a durable timer, continue as new."""
RETENTION_INSTANCE: Final = "convergio-retention"
RETENTION_PLAN: Final = "retention_plan"
RETENTION_SWEEP: Final = "retention_sweep"
RETENTION_BACKSTOP: Final = "retention_backstop"
_EPOCH: Final = datetime(2000, 1, 1, tzinfo=UTC)
_FINISHED: Final = [
    OrchestrationRuntimeStatus.Completed,
    OrchestrationRuntimeStatus.Failed,
    OrchestrationRuntimeStatus.Terminated,
]
_log = logging.getLogger("convergio.retention")
_ensured = False


def _utc(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


class DurableInstances:
    """:class:`~convergio.retention.Instances` over a durable client (Azure's or the embedded host's)."""

    def __init__(self, client: df.DurableOrchestrationClient) -> None:
        self._client = client

    async def state(self, run_id: str) -> tuple[str | None, datetime | None]:
        status = await self._client.get_status(run_id)
        if status.runtime_status is None:
            return None, None
        return status.runtime_status.value, _utc(status.last_updated_time)

    async def purge(self, run_id: str) -> None:
        await self._client.purge_instance_history(run_id)

    async def purge_finished_before(self, moment: datetime) -> int:
        result = await self._client.purge_instance_history_by(
            created_time_from=_EPOCH, created_time_to=moment, runtime_status=_FINISHED
        )
        return int(result.instances_deleted)


async def _alive(client: df.DurableOrchestrationClient) -> bool:
    status = await client.get_status(RETENTION_INSTANCE)
    return status.runtime_status is not None and status.runtime_status.value not in TERMINAL


async def ensure_retention(client: df.DurableOrchestrationClient) -> bool:
    """Start the retention singleton unless it is alive; True when this call started it."""
    if await _alive(client):
        return False
    try:
        await client.start_new(RETENTION, instance_id=RETENTION_INSTANCE, client_input={})
    except Exception:
        if await _alive(client):  # a concurrent starter won (the embedded host answers 409)
            return False
        raise
    _log.info("retention orchestration started")
    return True


async def ensure_once(client: df.DurableOrchestrationClient) -> None:
    """``ensure_retention`` on a process's first request; a failure is logged and tried next time."""
    global _ensured
    if _ensured:
        return
    try:
        await ensure_retention(client)
    except Exception as exc:  # never fail a request over housekeeping
        _log.warning("retention orchestration not ensured: %s", type(exc).__name__)
        return
    _ensured = True
