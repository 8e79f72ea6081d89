"""Graph routes (the shipped library) and the OpenAPI document.

A student sees only the graphs shared with students (``_sharing``); another is a 404, as an
unknown name is. Everyone else sees the whole library, each graph marked shared or not.
"""

from __future__ import annotations

import azure.durable_functions as df
import azure.functions as func

from convergio.errors import InvalidGraph, NotFound
from convergio.graph import parse_graph
from convergio.tenants import Permission

from . import _models as m
from ._http import answer, caller_of, json_response
from ._service import service
from ._sharing import sees_graph, shared_graphs

__all__: list[str] = []


@answer
async def list_graphs(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    svc = service()
    caller = caller_of(req, svc, Permission.READ_GRAPHS)
    catalog = svc.catalog(caller.tenant.id)
    shared = shared_graphs(svc, caller.tenant.id)
    everything = caller.may(Permission.SHARE_GRAPHS)
    graphs = []
    for name, raw in sorted(svc.library().items()):
        if not everything and name not in shared:
            continue
        try:
            spec = parse_graph(raw, catalog)
        except InvalidGraph as exc:  # e.g. it needs a plugin this tenant has not installed
            agents = raw.get("agents")
            info = m.GraphInfo(
                name=name,
                description=str(raw.get("description") or ""),
                agents=len(agents) if isinstance(agents, list) else 0,
                available=False,
                problems=[dict(p) for p in exc.details or []],
                shared=name in shared,
            )
        else:
            info = m.GraphInfo(
                name=name,
                description=spec.description,
                agents=len(spec.agents),
                input_schema=spec.input_schema,
                shared=name in shared,
            )
        graphs.append(info)
    return json_response(m.GraphList(graphs=graphs))


@answer
async def get_graph(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    svc = service()
    caller = caller_of(req, svc, Permission.READ_GRAPHS)
    tenant = caller.tenant
    name = req.route_params.get("name", "")
    raw = svc.library().get(name)
    if raw is None or not sees_graph(svc, caller, name):
        raise NotFound(f"no graph named {name!r}")
    return json_response(parse_graph(raw, svc.catalog(tenant.id)).model_dump(mode="json", exclude_none=True))


@answer
async def openapi(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    from ._openapi import openapi_document  # all the API's models, built on the first ask (issue 22)

    return json_response(openapi_document())
