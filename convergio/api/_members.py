"""A tenant's members and API keys, managed by its admins (ADR 0022).

A key is shown in the answer that made it and never again: listings show its public id (the
first 16 hex digits of its SHA-256 digest), enough to revoke it, useless to forge it. An admin
cannot revoke the key the request came with, nor remove themselves: either could leave the
tenant with no admin, and only another admin should decide that.
"""

from __future__ import annotations

import dataclasses

import azure.durable_functions as df
import azure.functions as func

from convergio.errors import Conflict, InvalidRequest, NotFound
from convergio.tenants import Caller, Permission, Role, key_id_of

from . import _people_models as pm
from ._http import answer, caller_of, json_response, read_body
from ._people import MEMBERS, add_member, member_view, remove_member
from ._service import Service, service

__all__: list[str] = []


def _bad(path: str, message: str) -> InvalidRequest:
    return InvalidRequest(f"{path}: {message}", details=[{"path": path, "message": message}])


def _admin(req: func.HttpRequest) -> tuple[Service, Caller]:
    """The service and the caller of one of these routes: every one of them is for admins only."""
    svc = service()
    return svc, caller_of(req, svc, Permission.ADMIN)


def _keys(svc: Service, tenant_id: str) -> dict[str, pm.KeyView]:
    """The tenant's keys as an admin sees them (never the key itself), by public id."""
    return {k.id: pm.KeyView.model_validate(dataclasses.asdict(k)) for k in svc.store.list_keys(tenant_id)}


@answer
async def list_members(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    svc, caller = _admin(req)
    members = [member_view(body) for body in svc.store.records(MEMBERS).list(caller.tenant.id)]
    return json_response(pm.MemberList(members=members))


@answer
async def invite_member(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    svc, caller = _admin(req)
    body: pm.MemberIn = read_body(req, pm.MemberIn)
    member, key = add_member(
        svc.store, caller.tenant.id, body.name, Role(body.role), principal_id=body.principal_id
    )
    return json_response(pm.MemberCreated(member=member, key=key), 201)


@answer
async def delete_member(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    svc, caller = _admin(req)
    member_id = str(req.route_params.get("id", ""))
    revoked = remove_member(svc.store, caller.tenant.id, member_id, caller_member=caller.member)
    return json_response({"id": member_id, "removed": True, "keys_revoked": revoked})


@answer
async def list_keys(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    svc, caller = _admin(req)
    return json_response(pm.KeyList(keys=list(_keys(svc, caller.tenant.id).values())))


@answer
async def issue_key(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    svc, caller = _admin(req)
    tenant = caller.tenant
    body: pm.KeyIn = read_body(req, pm.KeyIn)
    if body.member is not None:
        member = svc.store.records(MEMBERS).get(tenant.id, body.member)
        if member is None:
            raise _bad("member", f"no member {body.member!r} in this tenant")
        if member["role"] != body.role:
            raise _bad("role", f"member {body.member!r} is a {member['role']}; their keys carry that role")
    key = svc.store.issue_key(tenant.id, label=body.label, role=Role(body.role), member=body.member or "")
    listed = _keys(svc, tenant.id)[key_id_of(key)]
    return json_response(pm.KeyCreated(**listed.model_dump(), key=key), 201)


@answer
async def revoke_key(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    svc, caller = _admin(req)
    key_id = str(req.route_params.get("id", ""))
    own = req.headers.get("x-api-key")
    if own is not None and key_id_of(own.strip()) == key_id:
        raise Conflict("this is the key this request came with: revoke it with another admin's key")
    if not svc.store.revoke_key(caller.tenant.id, key_id):
        raise NotFound(f"no live key {key_id!r} in this tenant")
    return json_response({"id": key_id, "revoked": True})
