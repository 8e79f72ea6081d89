"""The OpenAPI paths of ADR 0022's routes: claim, who am I, tenants, members, keys, budget, sharing.

Every route here that needs a role may answer 403 (``forbidden``, naming the role); the anonymous
ones (``/setup``, ``/setup/claim``) declare ``security: []`` and the claim's own refusals.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = ["openapi_paths"]

Body = Callable[[str], dict[str, Any]]
Errors = Callable[..., dict[str, Any]]


def _path(name: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}


def openapi_paths(body: Body, errors: Errors) -> dict[str, Any]:
    """The paths; ``body(model)`` is a JSON body of a schema, ``errors(*codes)`` error answers."""

    def op(summary: str, ok: str, model: str | None, *codes: int, **more: Any) -> dict[str, Any]:
        answer = {"description": ok, **(body(model) if model else {})}
        status = "201" if ok == "created" else "200"
        return {"summary": summary, "responses": {status: answer} | errors(*codes), **more}

    def sent(model: str) -> dict[str, Any]:
        return {"requestBody": {"required": True, **body(model)}}

    member_id, key_id, graph = _path("id"), _path("id"), _path("name")
    return {
        "/api/v1/setup": {
            "get": op("Whether the installation is claimed (anonymous)", "state", "SetupState", security=[])
        },
        "/api/v1/setup/claim": {
            "post": op(
                "Claim a fresh installation with its one-time setup code: the first tenant and admin",
                "created",
                "TenantCreated",
                403,
                409,
                503,
                security=[],
                **sent("ClaimIn"),
            )
        },
        "/api/v1/me": {"get": op("Who this credential acts as, and what its role may do", "me", "MeView")},
        "/api/v1/tenants": {
            "get": op("Every tenant (admins of the home tenant)", "tenants", "TenantList", 403),
            "post": op(
                "Create a tenant with its first admin (admins of the home tenant); the key is shown once",
                "created",
                "TenantCreated",
                403,
                409,
                **sent("TenantIn"),
            ),
        },
        "/api/v1/tenants/me/members": {
            "get": op("This tenant's members", "members", "MemberList", 403),
            "post": op(
                "Invite a member: a key (shown once) or an Entra principal mapping, with a role",
                "created",
                "MemberCreated",
                403,
                409,
                **sent("MemberIn"),
            ),
        },
        "/api/v1/tenants/me/members/{id}": {
            "delete": op(
                "Remove a member: their keys revoked, their principal unmapped", "removed", None, 403, 409
            )
            | {"parameters": [member_id]}
        },
        "/api/v1/tenants/me/keys": {
            "get": op("This tenant's API keys, by id (never the keys)", "keys", "KeyList", 403),
            "post": op(
                "Issue an API key with a role; shown once", "created", "KeyCreated", 403, **sent("KeyIn")
            ),
        },
        "/api/v1/tenants/me/keys/{id}": {
            "delete": op("Revoke a key by its id", "revoked", None, 403, 409) | {"parameters": [key_id]}
        },
        "/api/v1/graphs/{name}/share": {
            "put": op("Share a library graph with the tenant's students", "shared", "ShareView", 403)
            | {"parameters": [graph]},
            "delete": op("Stop sharing a graph with students", "unshared", "ShareView", 403)
            | {"parameters": [graph]},
        },
    }
