"""Budget routes: the tenant's monthly limits and spending, and consent to managed-key overage."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import azure.durable_functions as df
import azure.functions as func

from convergio.errors import Conflict
from convergio.quotas import DOWNGRADE_AT

from . import _models as m
from ._http import answer, blueprint, json_response, read_body, tenant_of
from ._service import service

__all__: list[str] = []


@blueprint.route(route="v1/tenants/me/budget", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
@blueprint.durable_client_input(client_name="client")
@answer
async def get_budget(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    svc = service()
    tenant = tenant_of(req, svc)
    now = datetime.now(UTC)
    budget = svc.quotas.budget(tenant.id)
    view = m.BudgetView(
        month=now.strftime("%Y-%m"),
        monthly_eur=None if budget.monthly_eur is None else str(budget.monthly_eur),
        spent_eur=str(svc.quotas.spent(tenant.id, now=now)),
        managed_enabled=budget.managed_enabled,
        managed_cap_eur=str(budget.managed_cap_eur),
        managed_spent_eur=str(svc.quotas.spent(tenant.id, now=now, key_mode="managed")),
        overage_consent_eur=str(svc.quotas.consented(tenant.id, now=now)),
        downgrade_at=str(DOWNGRADE_AT),
        events=[m.QuotaEvent.model_validate(event) for event in svc.quotas.events(tenant.id)],
    )
    return json_response(view)


@blueprint.route(route="v1/tenants/me/overage-consent", methods=["POST"], auth_level=func.AuthLevel.ANONYMOUS)
@blueprint.durable_client_input(client_name="client")
@answer
async def overage_consent(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    svc = service()
    tenant = tenant_of(req, svc)
    body: m.ConsentIn = read_body(req, m.ConsentIn)
    if not svc.quotas.budget(tenant.id).managed_enabled:
        raise Conflict("managed keys are not enabled for this tenant: there is no overage to consent to")
    svc.quotas.consent(tenant.id, Decimal(body.amount_eur), now=datetime.now(UTC))
    return json_response({"amount_eur": body.amount_eur, "recorded": True}, 201)
