"""Budget routes: the tenant's monthly limits and spending, and consent to managed-key overage."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import azure.durable_functions as df
import azure.functions as func

from convergio.errors import Conflict
from convergio.tenants import Permission

from . import _models as m
from . import _people_models as pm
from ._http import answer, json_response, read_body, tenant_of
from ._service import Service, service

__all__ = ["budget_view"]


def budget_view(svc: Service, tenant_id: str) -> m.BudgetView:
    """The tenant's limits this month and what counts against them (GET and PUT answer it)."""
    # The quotas (and through them the metering, agents and providers) load on the first budget
    # request, not when ``import function_app`` indexes the routes (issue 22).
    from convergio.quotas import DOWNGRADE_AT

    now = datetime.now(UTC)
    budget = svc.quotas.budget(tenant_id)
    return m.BudgetView(
        month=now.strftime("%Y-%m"),
        monthly_eur=None if budget.monthly_eur is None else str(budget.monthly_eur),
        spent_eur=str(svc.quotas.spent(tenant_id, now=now)),
        managed_enabled=budget.managed_enabled,
        managed_cap_eur=str(budget.managed_cap_eur),
        managed_spent_eur=str(svc.quotas.spent(tenant_id, now=now, key_mode="managed")),
        overage_consent_eur=str(svc.quotas.consented(tenant_id, now=now)),
        downgrade_at=str(DOWNGRADE_AT),
        events=[m.QuotaEvent.model_validate(event) for event in svc.quotas.events(tenant_id)],
    )


@answer
async def get_budget(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    svc = service()
    tenant = tenant_of(req, svc, Permission.ADMIN)
    return json_response(budget_view(svc, tenant.id))


@answer
async def put_budget(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    """Set the monthly limits, as ``python -m convergio tenants budget`` does (admins only, ADR 0022)."""
    from convergio.quotas import TenantBudget  # on first use, as in budget_view

    svc = service()
    tenant = tenant_of(req, svc, Permission.ADMIN)
    body: pm.BudgetIn = read_body(req, pm.BudgetIn)
    monthly = None if body.monthly_eur is None else Decimal(body.monthly_eur)
    limits = TenantBudget(tenant.id, monthly, body.managed_enabled, Decimal(body.managed_cap_eur))
    svc.quotas.set_budget(limits)
    return json_response(budget_view(svc, tenant.id))


@answer
async def overage_consent(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    svc = service()
    tenant = tenant_of(req, svc, Permission.ADMIN)
    body: m.ConsentIn = read_body(req, m.ConsentIn)
    if not svc.quotas.budget(tenant.id).managed_enabled:
        raise Conflict("managed keys are not enabled for this tenant: there is no overage to consent to")
    svc.quotas.consent(tenant.id, Decimal(body.amount_eur), now=datetime.now(UTC))
    return json_response({"amount_eur": body.amount_eur, "recorded": True}, 201)
