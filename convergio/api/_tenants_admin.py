"""``/tenants``: the installation's tenants, listed and created by admins of the home tenant (ADR 0022).

The home tenant is the one that claimed the installation; an admin of any other tenant manages
only their own (403 here). A new tenant comes with its first admin member and that admin's key,
shown in the answer only: whoever creates it hands the key over.
"""

from __future__ import annotations

import azure.durable_functions as df
import azure.functions as func

from convergio.errors import Conflict, Forbidden
from convergio.tenants import Caller, Permission, TenantExists

from . import _people_models as pm
from ._http import answer, caller_of, json_response, read_body
from ._people import create_tenant
from ._service import Service, service
from ._setup import is_home

__all__: list[str] = []


def _home_admin(req: func.HttpRequest, svc: Service) -> Caller:
    caller = caller_of(req, svc, Permission.ADMIN)
    if not is_home(svc.store, caller.tenant.id):
        message = "only admins of the home tenant (the one that claimed the installation) may manage tenants"
        raise Forbidden(message, details=[{"path": "tenant", "message": message}])
    return caller


@answer
async def list_tenants(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    svc = service()
    _home_admin(req, svc)
    tenants = [pm.TenantRef(id=t.id, name=t.name, created_at=t.created_at) for t in svc.store.list_tenants()]
    return json_response(pm.TenantList(tenants=tenants))


@answer
async def add_tenant(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    svc = service()
    _home_admin(req, svc)
    body: pm.TenantIn = read_body(req, pm.TenantIn)
    try:
        tenant, member, key = create_tenant(svc.store, body.name, body.admin_name)
    except TenantExists as exc:
        raise Conflict(str(exc), details=[{"path": "name", "message": str(exc)}]) from None
    ref = pm.TenantRef(id=tenant.id, name=tenant.name, created_at=tenant.created_at)
    return json_response(pm.TenantCreated(tenant=ref, member=member, key=key), 201)
