"""Webhook routes: inbound hooks that start runs (or raise an event), outbound callbacks.

An inbound request carries no API key: the hook's signature is its credential
(HMAC-SHA256 over the timestamp, the delivery id and the body, see ``convergio.webhooks``). It
is checked before anything else happens, so a bad or stale signature starts nothing (401). A
delivery id seen before starts nothing new either: it answers with the first run's id; since
the id is signed, a captured request cannot be replayed under a new one.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import asdict
from typing import Any

import azure.durable_functions as df
import azure.functions as func

from convergio.errors import Conflict, InvalidRequest, NotFound, PayloadTooLarge, Unauthorized
from convergio.tenants import Permission
from convergio.webhooks import Callback, Hook, SignatureError, check_callback_url, verify

from . import _hook_models as h
from . import _models as m
from ._http import (
    MAX_BODY_BYTES,
    answer,
    base_url,
    int_param,
    json_response,
    read_body,
    tenant_of,
)
from ._runs import raise_run_event, run_created, start_graph_run
from ._service import Service, service

__all__ = ["deliver_to_hook"]


async def deliver_to_hook(
    svc: Service,
    client: df.DurableOrchestrationClient,
    hook: Hook,
    delivery_id: str,
    payload: Any,
    run_id: str = "",
) -> tuple[str, bool]:
    """Start a run of the hook's graph (or raise its event into ``run_id``), once per delivery id.

    Returns the run id and whether this call did it (False: a replay, nothing new started).
    """
    if hook.event is not None and svc.store.owner_of(run_id) != hook.tenant_id:
        raise NotFound(f"no run {run_id!r}")
    target = run_id or uuid.uuid4().hex
    first, claimed = svc.webhooks.claim_delivery(hook.id, delivery_id, target)
    if not claimed:
        return first, False
    try:
        if hook.event is None:
            request = m.RunRequest(graph_ref=hook.graph_ref, input=payload)
            await start_graph_run(svc, client, hook.tenant_id, request, run_id=target)
        else:
            await raise_run_event(client, target, hook.event, payload)
    except BaseException:
        svc.webhooks.release_delivery(hook.id, delivery_id)
        raise
    return target, True


def _verified(req: func.HttpRequest, svc: Service) -> tuple[Hook, str, Any]:
    """The hook, the delivery id and the parsed body of a correctly signed, fresh request."""
    hook = svc.webhooks.hook(str(req.route_params.get("id", "")))
    if hook is None:
        raise NotFound("no such hook")
    body = req.get_body() or b""
    if len(body) > MAX_BODY_BYTES:
        raise PayloadTooLarge(f"body is {len(body)} bytes; the limit is {MAX_BODY_BYTES}")
    try:
        secret = svc.webhooks.hook_secret(hook).reveal()
        delivery = verify(
            secret, dict(req.headers), body, now=time.time(), tolerance_s=svc.settings.webhook_tolerance_s
        )
    except SignatureError as exc:
        raise Unauthorized(str(exc), details=[{"path": "headers", "message": exc.code}]) from None
    return hook, delivery, read_body(req)


@answer
async def receive_hook(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    svc = service()
    hook, delivery, payload = _verified(req, svc)
    if hook.event is not None:
        raise Conflict(f"this hook raises {hook.event!r}: POST to /api/v1/hooks/{hook.id}/runs/{{run_id}}")
    run_id, fresh = await deliver_to_hook(svc, client, hook, delivery, payload)
    body = run_created(req, run_id).model_dump() | {"delivery": delivery, "replayed": not fresh}
    return json_response(body, 202 if fresh else 200)


@answer
async def receive_hook_event(
    req: func.HttpRequest, client: df.DurableOrchestrationClient
) -> func.HttpResponse:
    svc = service()
    hook, delivery, payload = _verified(req, svc)
    if hook.event is None:
        raise Conflict(f"this hook starts runs: POST to /api/v1/hooks/{hook.id}")
    run_id = str(req.route_params.get("run_id", ""))
    first, fresh = await deliver_to_hook(svc, client, hook, delivery, payload, run_id=run_id)
    body = {"id": first, "event": hook.event, "delivery": delivery, "replayed": not fresh}
    return json_response(body, 202 if fresh else 200)


# -- managing hooks (API key) ---------------------------------------------------------------


def _hook_view(req: func.HttpRequest, hook: Hook) -> h.HookView:
    url = f"{base_url(req)}/hooks/{hook.id}" + ("/runs/{run_id}" if hook.event else "")
    return h.HookView(
        id=hook.id, graph_ref=hook.graph_ref, event=hook.event, url=url, created_at=hook.created_at
    )


def _check_hook(svc: Service, body: h.HookIn) -> None:
    graph = svc.library().get(body.graph_ref)
    if graph is None:
        problem = {"path": "graph_ref", "message": f"unknown graph {body.graph_ref!r}"}
        raise InvalidRequest(f"graph_ref: unknown graph {body.graph_ref!r}", details=[problem])
    awaited = {(a.get("await_event") or {}).get("name") for a in graph.get("agents", [])}
    if body.event is not None and body.event not in awaited:
        problem = {"path": "event", "message": f"graph {body.graph_ref!r} awaits no event {body.event!r}"}
        raise InvalidRequest(f"event: {problem['message']}", details=[problem])


@answer
async def create_hook(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    svc = service()
    tenant = tenant_of(req, svc, Permission.ADMIN)
    body: h.HookIn = read_body(req, h.HookIn)
    _check_hook(svc, body)
    hook, secret = svc.webhooks.create_hook(tenant.id, body.graph_ref, body.event)
    view = _hook_view(req, hook)
    return json_response(h.HookCreated(**view.model_dump(), secret=secret.reveal()), 201)


@answer
async def list_hooks(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    svc = service()
    tenant = tenant_of(req, svc, Permission.ADMIN)
    return json_response(h.HookList(hooks=[_hook_view(req, x) for x in svc.webhooks.hooks(tenant.id)]))


@answer
async def delete_hook(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    svc = service()
    tenant = tenant_of(req, svc, Permission.ADMIN)
    hook_id = str(req.route_params.get("id", ""))
    if not svc.webhooks.delete_hook(tenant.id, hook_id):
        raise NotFound("no such hook")
    return json_response({"id": hook_id, "deleted": True})


# -- outbound callbacks (API key) -------------------------------------------------------------


def _callback_view(callback: Callback) -> h.CallbackView:
    return h.CallbackView(
        id=callback.id, url=callback.url, events=list(callback.events), created_at=callback.created_at
    )


@answer
async def create_callback(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    svc = service()
    tenant = tenant_of(req, svc, Permission.ADMIN)
    body: h.CallbackIn = read_body(req, h.CallbackIn)
    settings = svc.settings
    try:
        check_callback_url(body.url, hosted=settings.hosted, allowed_hosts=settings.webhook_allowed_hosts)
    except ValueError as exc:
        raise InvalidRequest(f"url: {exc}", details=[{"path": "url", "message": str(exc)}]) from None
    callback, secret = svc.webhooks.create_callback(tenant.id, body.url, sorted(set(body.events)))
    view = _callback_view(callback)
    return json_response(h.CallbackCreated(**view.model_dump(), secret=secret.reveal()), 201)


@answer
async def list_callbacks(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    svc = service()
    tenant = tenant_of(req, svc, Permission.ADMIN)
    views = [_callback_view(c) for c in svc.webhooks.callbacks(tenant.id)]
    return json_response(h.CallbackList(callbacks=views))


@answer
async def delete_callback(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    svc = service()
    tenant = tenant_of(req, svc, Permission.ADMIN)
    callback_id = str(req.route_params.get("id", ""))
    if not svc.webhooks.delete_callback(tenant.id, callback_id):
        raise NotFound("no such callback")
    return json_response({"id": callback_id, "deleted": True})


@answer
async def list_deliveries(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    svc = service()
    tenant = tenant_of(req, svc, Permission.ADMIN)
    callback_id = str(req.route_params.get("id", ""))
    if svc.webhooks.callback(tenant.id, callback_id) is None:
        raise NotFound("no such callback")
    limit = int_param(req, "limit", 50, 1, 200)
    views = [
        h.DeliveryView(
            id=d.id,
            run_id=d.run_id,
            event=d.event,
            status=d.status,
            created_at=d.created_at,
            attempts=[h.AttemptView(**asdict(a)) for a in d.attempts],
        )
        for d in svc.webhooks.deliveries(tenant.id, callback_id, limit)
    ]
    return json_response(h.DeliveryList(deliveries=views))
