"""Connection routes: a tenant's named provider connections, with write-only keys.

``PUT /api/v1/tenants/me/connections/{name}`` stores the key in the secret store (Key Vault on
Azure) and only its fingerprint here; no response ever carries a key.
"""

from __future__ import annotations

import azure.durable_functions as df
import azure.functions as func

from convergio.errors import InvalidRequest, NotFound
from convergio.metering import unit_prices
from convergio.providers import Connection, check_endpoint
from convergio.secrets import Secret, check_name
from convergio.tenants import ConnectionRecord, Permission

from . import _models as m
from ._http import answer, json_response, read_body, tenant_of
from ._service import Service, service

__all__: list[str] = []

_ROUTE = "v1/tenants/me/connections"


def _view(record: ConnectionRecord) -> m.ConnectionView:
    key = None if record.key_fingerprint is None else m.KeyView(fingerprint=record.key_fingerprint)
    return m.ConnectionView(
        name=record.name,
        kind=record.kind,
        endpoint=record.endpoint,
        deployment=record.deployment,
        api_version=record.api_version,
        model=record.model,
        key=key,
        updated_at=record.updated_at,
        prices=None if record.prices is None else dict(record.prices),
    )


def _name(req: func.HttpRequest) -> str:
    name = str(req.route_params.get("name", ""))
    try:
        check_name(name)
    except ValueError as exc:
        raise InvalidRequest(f"name: {exc}") from None
    if name in _RESERVED:
        raise InvalidRequest(f"name: {name!r} is reserved for the platform's providers")
    if name.startswith(_RESERVED_PREFIXES):
        raise InvalidRequest(f"name: names starting with {', '.join(_RESERVED_PREFIXES)} are reserved")
    return name


_RESERVED = frozenset({"offline", "managed"})
_RESERVED_PREFIXES = ("hook-", "callback-", "mcp--")
"""Other secrets share the tenant's secret namespace under these (webhooks, MCP server headers)."""


def _check(svc: Service, body: m.ConnectionIn) -> Connection:
    try:
        connection = Connection(
            kind=body.kind,
            endpoint=body.endpoint,
            deployment=body.deployment,
            api_version=body.api_version,
            model=body.model,
        )
        if connection.endpoint is not None:
            settings = svc.settings
            check_endpoint(
                connection.endpoint,
                allowed_hosts=settings.provider_allowed_hosts,
                local_mode=not settings.hosted,
            )
    except ValueError as exc:
        raise InvalidRequest(str(exc), details=[{"path": "endpoint", "message": str(exc)}]) from None
    return connection


@answer
async def put_connection(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    svc = service()
    tenant = tenant_of(req, svc, Permission.ADMIN)
    name = _name(req)
    body: m.ConnectionIn = read_body(req, m.ConnectionIn)
    connection = _check(svc, body)
    prices = _prices(body)
    existing = svc.connections.get(tenant.id, name)
    fingerprint = existing.key_fingerprint if existing and existing.kind == connection.kind else None
    if body.key is not None:
        fingerprint = svc.secrets.put(tenant.id, name, Secret(body.key.get_secret_value())).fingerprint
    elif fingerprint is None and connection.kind in ("openai", "azure-openai", "anthropic"):
        raise InvalidRequest("key: required for a new connection of this kind", details=[_KEY_REQUIRED])
    record = ConnectionRecord(
        tenant.id,
        name,
        connection.kind,
        connection.endpoint,
        connection.deployment,
        connection.api_version,
        connection.model,
        fingerprint,
        prices=prices,
    )
    saved = svc.connections.put(record)
    return json_response(_view(saved), 201 if existing is None else 200)


_KEY_REQUIRED = {"path": "key", "message": "required for a new connection of this kind"}


def _prices(body: m.ConnectionIn) -> dict[str, str] | None:
    """The connection's own prices, checked as the price table checks its entries (bounded)."""
    if body.prices is None:
        return None
    given = body.prices.model_dump(exclude_none=True)
    try:
        unit_prices(given)
    except ValueError as exc:
        raise InvalidRequest(str(exc), details=[{"path": "prices", "message": str(exc)}]) from None
    return given


@answer
async def list_connections(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    svc = service()
    tenant = tenant_of(req, svc, Permission.ADMIN)
    return json_response(m.ConnectionList(connections=[_view(c) for c in svc.connections.list(tenant.id)]))


@answer
async def get_connection(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    svc = service()
    tenant = tenant_of(req, svc, Permission.ADMIN)
    record = svc.connections.get(tenant.id, _name(req))
    if record is None:
        raise NotFound("no such connection")
    return json_response(_view(record))


@answer
async def delete_connection(
    req: func.HttpRequest, client: df.DurableOrchestrationClient
) -> func.HttpResponse:
    svc = service()
    tenant = tenant_of(req, svc, Permission.ADMIN)
    name = _name(req)
    if not svc.connections.delete(tenant.id, name):
        raise NotFound("no such connection")
    svc.secrets.delete(tenant.id, name)
    return json_response({"name": name, "deleted": True})
