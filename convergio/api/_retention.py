"""Retention routes: read and set the tenant's policy, with what the last sweep did (ADR 0018).

Reading or setting the policy also makes sure the retention orchestration is alive, and on
Azure an hourly timer trigger does the same without any traffic (the embedded host, which runs
no timer triggers, starts it on the first API request instead: see ``answer``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import azure.durable_functions as df
import azure.functions as func
from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from convergio.retention import (
    FINISHED_RUNS_DAYS,
    STREAM_EVENTS_DAYS,
    RetentionPolicy,
    ensure_retention,
    last_sweep,
    policy_of,
    set_policy,
)
from convergio.tenants import Permission

from ._http import answer, json_response, read_body, tenant_of
from ._models import ApiModel
from ._service import Service, service

__all__ = ["OPENAPI_MODELS", "RetentionIn", "RetentionSweep", "RetentionView", "openapi_paths"]

_DEFAULT = RetentionPolicy()


class RetentionIn(ApiModel):
    """The tenant's retention policy; an omitted field takes its default."""

    model_config = ConfigDict(extra="forbid", strict=True)

    finished_runs_days: int = Field(
        default=_DEFAULT.finished_runs_days,
        ge=FINISHED_RUNS_DAYS[0],
        le=FINISHED_RUNS_DAYS[1],
        description="days a finished run (history, payloads, stream events, listing) is kept after it ends",
    )
    stream_events_days: int = Field(
        default=_DEFAULT.stream_events_days,
        ge=STREAM_EVENTS_DAYS[0],
        le=STREAM_EVENTS_DAYS[1],
        description="days a run's stream events are kept after it starts; at most finished_runs_days",
        validate_default=True,  # the default too must fit under a shorter finished_runs_days
    )

    @field_validator("stream_events_days")
    @classmethod
    def _within_runs(cls, value: int, info: ValidationInfo) -> int:
        finished = info.data.get("finished_runs_days")
        if finished is not None and value > finished:
            raise ValueError("must not exceed finished_runs_days")
        return value


class RetentionSweep(ApiModel):
    """What the last sweep did for this tenant."""

    at: str
    runs_examined: int
    runs_purged: int
    runs_kept: int = Field(description="old runs kept because they are still going or ended recently")
    stream_runs: int = Field(description="runs whose stream events were dropped for their age")
    events_dropped: int
    records_expired: int = Field(
        default=0, description="expired records deleted (Idempotency-Key records, a day after they expire)"
    )
    more: bool = Field(description="work was left for the next sweep (it comes sooner)")


class RetentionView(ApiModel):
    finished_runs_days: int
    stream_events_days: int
    default: bool = Field(description="true: the tenant has not set a policy")
    ledger: str = Field(default="kept", description="usage records are never purged by retention")
    last_sweep: RetentionSweep | None


OPENAPI_MODELS: list[type[BaseModel]] = [RetentionIn, RetentionView, RetentionSweep]


def _view(svc: Service, tenant_id: str) -> RetentionView:
    policy, chosen = policy_of(svc.store, tenant_id)
    sweep = last_sweep(svc.store, tenant_id)
    return RetentionView(
        finished_runs_days=policy.finished_runs_days,
        stream_events_days=policy.stream_events_days,
        default=not chosen,
        last_sweep=None
        if sweep is None
        else RetentionSweep.model_validate({k: sweep[k] for k in RetentionSweep.model_fields if k in sweep}),
    )


@answer
async def get_retention(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    svc = service()
    tenant = tenant_of(req, svc, Permission.ADMIN)
    await ensure_retention(client)
    return json_response(_view(svc, tenant.id))


@answer
async def put_retention(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    svc = service()
    tenant = tenant_of(req, svc, Permission.ADMIN)
    body: RetentionIn = read_body(req, RetentionIn)
    set_policy(svc.store, tenant.id, RetentionPolicy(**body.model_dump()))
    await ensure_retention(client)
    return json_response(_view(svc, tenant.id))


async def retention_keeper(timer: func.TimerRequest, client: df.DurableOrchestrationClient) -> None:
    """Azure only: start the retention orchestration if it is missing, ended or failed."""
    await ensure_retention(client)


def openapi_paths(
    body: Callable[[str], dict[str, Any]], errors: Callable[..., dict[str, Any]]
) -> dict[str, Any]:
    return {
        "/api/v1/tenants/me/retention": {
            "get": {
                "summary": "This tenant's retention policy and what the last sweep did",
                "responses": {"200": {"description": "the policy", **body("RetentionView")}},
            },
            "put": {
                "summary": "Set how long finished runs and stream events are kept (never the ledger)",
                "requestBody": {"required": True, **body("RetentionIn")},
                "responses": {"200": {"description": "the policy", **body("RetentionView")}} | errors(400),
            },
        }
    }
