"""Claiming a fresh installation without a shell, and ``GET /me`` (ADR 0022).

``POST /setup/claim`` is anonymous: the one-time setup code is the proof of ownership (only
someone with rights on the deployment can read it). Checks, in order: the body (400), already
claimed (409: the code works once), a code configured (503), the code (403, compared in constant
time). Then the claim is created first-wins in the control plane, so of any number of claims
racing on any number of instances exactly one goes on to create the first tenant and its first
admin; the others get 409 and have created nothing.

An installation whose tenants were made with the CLI before any claim counts as claimed: whoever
made them holds the state, and a setup code must not hand a stranger a second way in.
"""

from __future__ import annotations

import secrets

import azure.durable_functions as df
import azure.functions as func

from convergio.errors import Conflict, Forbidden, NotConfigured
from convergio.tenants import (
    ROLE_PERMISSIONS,
    Permission,
    SetupCodeMissing,
    TenantExists,
    TenantStore,
    setup_code,
    setup_code_matches,
    tenant_id_for,
)

from . import _people_models as pm
from ._http import answer, json_response, read_body
from ._people import MEMBERS, create_tenant, member_view
from ._service import service

__all__ = ["claimed", "is_home"]

_CLAIMED = "this installation is already claimed: the setup code works once; ask one of its admins for a key"


def claimed(store: TenantStore) -> bool:
    """Whether the installation is claimed: by the setup code, or by tenants the CLI made."""
    return store.installation_claim() is not None or bool(store.list_tenants())


def is_home(store: TenantStore, tenant_id: str) -> bool:
    """Whether ``tenant_id`` is the tenant that claimed the installation (its admins make tenants)."""
    claim = store.installation_claim()
    return claim is not None and claim["tenant_id"] == tenant_id


@answer
async def setup_state(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    # Anonymous on purpose: the console's setup page asks before anyone has a key.
    return json_response(pm.SetupState(claimed=claimed(service().store)))


@answer
async def claim(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    svc = service()
    body: pm.ClaimIn = read_body(req, pm.ClaimIn)
    if claimed(svc.store):
        raise Conflict(_CLAIMED)
    settings = svc.settings
    try:
        expected = setup_code(settings.setup_code, home=settings.home, hosted=settings.hosted)
    except SetupCodeMissing as exc:
        raise NotConfigured(str(exc)) from None
    if not setup_code_matches(body.code.get_secret_value(), expected):
        message = "the setup code is not this installation's"
        raise Forbidden(message, details=[{"path": "code", "message": message}])
    member_id = secrets.token_hex(6)
    if not svc.store.claim_installation(tenant_id_for(body.tenant_name), member_id):
        raise Conflict(_CLAIMED)  # another request, maybe on another instance, won the race
    try:
        tenant, member, key = create_tenant(svc.store, body.tenant_name, body.admin_name, member_id=member_id)
    except TenantExists:  # the CLI made a tenant of that name since the check above
        raise Conflict(_CLAIMED) from None
    ref = pm.TenantRef(id=tenant.id, name=tenant.name, created_at=tenant.created_at)
    created = pm.TenantCreated(tenant=ref, member=member, key=key)
    return json_response(created, 201)


@answer
async def me(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    svc = service()
    # Any credential may ask who it is: no permission needed, only a known, live credential.
    caller = svc.authenticate(dict(req.headers))
    tenant = caller.tenant
    record = svc.store.records(MEMBERS).get(tenant.id, caller.member) if caller.member else None
    view = pm.MeView(
        tenant=pm.TenantRef(id=tenant.id, name=tenant.name, created_at=tenant.created_at),
        role=caller.role.value,
        subject=caller.subject,
        member=None if record is None else member_view(record),
        home=is_home(svc.store, tenant.id),
        permissions=[p.value for p in Permission if p in ROLE_PERMISSIONS[caller.role]],
    )
    return json_response(view)
