"""The HTTP API (``/api/v1``): authenticate, validate, start or query a durable run.

Every handler follows the same path: tenant from the request headers, body
through a pydantic model, graph through ``parse_graph``, then the durable
client. Errors leave through one place (``_answer``) as ``{"error": {...}}``.
A tenant only ever sees its own runs: a foreign run id is a 404, exactly like
an unknown one.
"""

from __future__ import annotations

import functools
import json
import logging
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import azure.durable_functions as df
import azure.functions as func
from pydantic import BaseModel, ValidationError

from convergio.errors import AppError, Conflict, InvalidGraph, InvalidRequest, NotFound, PayloadTooLarge
from convergio.graph import AGENT_GRAPH, GraphSpec, parse_graph, path_of, validate_input
from convergio.tenants import Tenant

from . import _models as m
from ._openapi import openapi_document
from ._service import Service, service
from ._views import run_summary, run_view

__all__ = ["blueprint"]

MAX_BODY_BYTES = 1 << 20
_log = logging.getLogger("convergio.api")
blueprint = df.Blueprint()
Handler = Callable[[func.HttpRequest, df.DurableOrchestrationClient], Awaitable[func.HttpResponse]]


def _json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> func.HttpResponse:
    text = body.model_dump_json() if isinstance(body, BaseModel) else json.dumps(body)
    return func.HttpResponse(text, status_code=status, mimetype="application/json", headers=headers)


def _answer(handler: Callable[..., Awaitable[func.HttpResponse]]) -> Handler:
    """Turn errors into JSON answers; unknown ones become a logged, opaque 500."""

    @functools.wraps(handler)
    async def wrapper(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
        try:
            return await handler(req, client)
        except AppError as exc:
            return _json(exc.body(), exc.status_code)
        except Exception:
            _log.error("unhandled error in %s", handler.__name__, exc_info=True)
            return _json({"error": {"code": "internal", "message": "Internal Server Error"}}, 500)

    return wrapper


def _read(req: func.HttpRequest, model: type[BaseModel] | None = None) -> Any:
    body = req.get_body() or b""
    if len(body) > MAX_BODY_BYTES:
        raise PayloadTooLarge(f"body is {len(body)} bytes; the limit is {MAX_BODY_BYTES}")
    try:
        data = json.loads(body) if body.strip() else None
    except (UnicodeDecodeError, ValueError) as exc:
        raise InvalidRequest(f"body is not valid JSON: {exc}") from None
    if model is None:
        return data
    if not isinstance(data, dict):
        raise InvalidRequest("body must be a JSON object")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        details = [{"path": path_of(e["loc"]) or "body", "message": e["msg"]} for e in exc.errors()]
        raise InvalidRequest(f"{details[0]['path']}: {details[0]['message']}", details=details) from None


def _tenant(req: func.HttpRequest, svc: Service) -> Tenant:
    return svc.authenticate(dict(req.headers))


def _owned(req: func.HttpRequest, svc: Service, tenant: Tenant) -> str:
    run_id = str(req.route_params.get("id", ""))
    if svc.store.owner_of(run_id) != tenant.id:
        raise NotFound(f"no run {run_id!r}")
    return run_id


def _base(req: func.HttpRequest) -> str:
    scheme, _, rest = req.url.partition("://")
    return f"{scheme}://{rest.split('/', 1)[0]}/api/v1"


@blueprint.route(route="v1/runs", methods=["POST"], auth_level=func.AuthLevel.ANONYMOUS)
@blueprint.durable_client_input(client_name="client")
@_answer
async def start_run(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    svc = service()
    tenant = _tenant(req, svc)
    request: m.RunRequest = _read(req, m.RunRequest)
    spec = _graph(svc, request)
    validate_input(spec, request.input)
    run_id = uuid.uuid4().hex
    svc.store.record_run(tenant.id, run_id, spec.name)
    payload = {
        "graph": spec.model_dump(mode="json", exclude_none=True),
        "input": request.input,
        "run_id": run_id,
        "tenant": tenant.id,
    }
    try:
        await client.start_new(AGENT_GRAPH, instance_id=run_id, client_input=payload)
    except Exception:
        svc.store.forget_run(run_id)
        raise
    url = f"{_base(req)}/runs/{run_id}"
    created = m.RunCreated(
        id=run_id,
        statusQueryGetUri=url,
        sendEventPostUri=f"{url}/events/{{eventName}}",
        terminatePostUri=f"{url}/cancel",
        purgeHistoryDeleteUri=url,
    )
    return _json(created, 202, headers={"Location": url})


def _graph(svc: Service, request: m.RunRequest) -> GraphSpec:
    if request.graph_ref is not None:
        raw = svc.library().get(request.graph_ref)
        if raw is None:
            raise InvalidGraph.from_problems(
                [{"path": "graph_ref", "message": f"unknown graph {request.graph_ref!r}"}]
            )
        prefix = f"graph_ref({request.graph_ref})"
    else:
        raw, prefix = request.graph, "graph"
    try:
        return parse_graph(raw, svc.catalog())
    except InvalidGraph as exc:
        raise InvalidGraph.from_problems(
            [{"path": f"{prefix}.{p['path']}", "message": p["message"]} for p in exc.details]
        ) from None


@blueprint.route(route="v1/runs", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
@blueprint.durable_client_input(client_name="client")
@_answer
async def list_runs(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    svc = service()
    tenant = _tenant(req, svc)
    limit = _int_param(req, "limit", 50, 1, 200)
    offset = _int_param(req, "offset", 0, 0, 1 << 31)
    wanted = req.params.get("status")
    if wanted is not None and wanted not in m.RunStatus.__args__:  # type: ignore[attr-defined]
        raise InvalidRequest(f"status: must be one of {', '.join(m.RunStatus.__args__)}")  # type: ignore[attr-defined]
    runs: list[m.RunSummary] = []
    scanned = offset
    while len(runs) < limit:
        page = svc.store.list_runs(tenant.id, limit=limit, offset=scanned)
        for record in page:
            scanned += 1
            summary = run_summary(record, await client.get_status(record.run_id))
            if wanted is None or summary.status == wanted:
                runs.append(summary)
                if len(runs) == limit:
                    break
        if len(page) < limit:
            break
    more = scanned < svc.store.count_runs(tenant.id)
    return _json(m.RunList(runs=runs, next_offset=scanned if more else None))


@blueprint.route(route="v1/runs/{id}", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
@blueprint.durable_client_input(client_name="client")
@_answer
async def get_run(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    svc = service()
    run_id = _owned(req, svc, _tenant(req, svc))
    status = await client.get_status(run_id)
    if status.runtime_status is None:
        raise NotFound(f"run {run_id!r} has no state (purged?)")
    return _json(run_view(run_id, status))


@blueprint.route(route="v1/runs/{id}", methods=["DELETE"], auth_level=func.AuthLevel.ANONYMOUS)
@blueprint.durable_client_input(client_name="client")
@_answer
async def purge_run(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    svc = service()
    run_id = _owned(req, svc, _tenant(req, svc))
    status = await client.get_status(run_id)
    if run_view(run_id, status).status in ("Pending", "Running"):
        raise Conflict("the run is still going; cancel it first")
    await client.purge_instance_history(run_id)
    svc.store.forget_run(run_id)
    return _json({"id": run_id, "purged": True})


@blueprint.route(route="v1/runs/{id}/cancel", methods=["POST"], auth_level=func.AuthLevel.ANONYMOUS)
@blueprint.durable_client_input(client_name="client")
@_answer
async def cancel_run(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    svc = service()
    run_id = _owned(req, svc, _tenant(req, svc))
    reason = _read(req)
    status = await client.get_status(run_id)
    if run_view(run_id, status).status not in ("Pending", "Running"):
        raise Conflict(f"the run is already {run_view(run_id, status).status}")
    note = reason.get("reason") if isinstance(reason, dict) else None
    await client.terminate(run_id, str(note or "cancelled through the API")[:500])
    return _json({"id": run_id, "status": "Terminated"}, 202)


@blueprint.route(route="v1/runs/{id}/events/{name}", methods=["POST"], auth_level=func.AuthLevel.ANONYMOUS)
@blueprint.durable_client_input(client_name="client")
@_answer
async def send_event(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    svc = service()
    run_id = _owned(req, svc, _tenant(req, svc))
    name = req.route_params.get("name", "")
    payload = _read(req)
    status = await client.get_status(run_id, show_input=True)
    view = run_view(run_id, status)
    if view.status not in ("Pending", "Running"):
        raise Conflict(f"the run is {view.status}; it takes no more events")
    awaited = {
        a.get("await_event", {}).get("name") for a in (status.input_ or {}).get("graph", {}).get("agents", [])
    }
    if name not in awaited:
        raise NotFound(f"this run awaits no event named {name!r}")
    await client.raise_event(run_id, name, payload)
    return _json({"id": run_id, "event": name, "accepted": True}, 202)


@blueprint.route(route="v1/graphs", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
@blueprint.durable_client_input(client_name="client")
@_answer
async def list_graphs(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    svc = service()
    _tenant(req, svc)
    graphs = []
    for name, raw in sorted(svc.library().items()):
        spec = parse_graph(raw, svc.catalog())
        graphs.append(
            m.GraphInfo(
                name=name,
                description=spec.description,
                agents=len(spec.agents),
                input_schema=spec.input_schema,
            )
        )
    return _json(m.GraphList(graphs=graphs))


@blueprint.route(route="v1/graphs/{name}", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
@blueprint.durable_client_input(client_name="client")
@_answer
async def get_graph(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    svc = service()
    _tenant(req, svc)
    name = req.route_params.get("name", "")
    raw = svc.library().get(name)
    if raw is None:
        raise NotFound(f"no graph named {name!r}")
    return _json(parse_graph(raw, svc.catalog()).model_dump(mode="json", exclude_none=True))


@blueprint.route(route="v1/openapi.json", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
@blueprint.durable_client_input(client_name="client")
@_answer
async def openapi(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    return _json(openapi_document())


def _int_param(req: func.HttpRequest, name: str, default: int, low: int, high: int) -> int:
    raw = req.params.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise InvalidRequest(f"{name}: must be an integer") from None
    if not low <= value <= high:
        raise InvalidRequest(f"{name}: must be between {low} and {high}")
    return value
