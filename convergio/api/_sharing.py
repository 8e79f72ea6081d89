"""Graphs a teacher shares with the students of the tenant, and what a student may start (ADR 0022).

A share is a tenant record (kind ``shared_graphs``) named after a library graph. A student sees
only shared graphs (another one is a 404, as an unknown name is) and starts only those, by name:
an inline graph could do anything a shared one does not, so a student may send none. Who may
share graphs may start any graph: they could share it first anyway.
"""

from __future__ import annotations

from datetime import UTC, datetime

import azure.durable_functions as df
import azure.functions as func

from convergio.errors import Forbidden, NotFound
from convergio.tenants import Caller, Permission

from . import _models as m
from . import _people_models as pm
from ._http import answer, caller_of, json_response
from ._service import Service, service

__all__ = ["SHARED", "check_may_start", "sees_graph", "shared_graphs"]

SHARED = "shared_graphs"
"""The tenant record kind of shares."""


def shared_graphs(svc: Service, tenant_id: str) -> set[str]:
    """The names of the library graphs shared with the tenant's students."""
    return {str(body["graph"]) for body in svc.store.records(SHARED).list(tenant_id)}


def sees_graph(svc: Service, caller: Caller, name: str) -> bool:
    """Whether ``caller`` may see (and so start) the library graph ``name``."""
    return (
        caller.may(Permission.SHARE_GRAPHS)
        or svc.store.records(SHARED).get(caller.tenant.id, name) is not None
    )


def check_may_start(svc: Service, caller: Caller, request: m.RunRequest) -> None:
    """Refuse a student's inline graph, or a library graph not shared with students.

    Raises:
        Forbidden: 403 naming the role and the field (``graph`` or ``graph_ref``).
    """
    if caller.may(Permission.SHARE_GRAPHS):
        return
    role = caller.role.value
    if request.graph_ref is None:
        message = f"the {role} role may not start inline graphs: start a graph a teacher shared (graph_ref)"
        raise Forbidden(message, details=[{"path": "graph", "message": message}])
    if not sees_graph(svc, caller, request.graph_ref):
        message = f"the {role} role may not start {request.graph_ref!r}: it is not shared with students"
        raise Forbidden(message, details=[{"path": "graph_ref", "message": message}])


def _library_graph(req: func.HttpRequest, svc: Service) -> str:
    name = str(req.route_params.get("name", ""))
    if svc.library().get(name) is None:
        raise NotFound(f"no graph named {name!r}")
    return name


@answer
async def share_graph(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    svc = service()
    caller = caller_of(req, svc, Permission.SHARE_GRAPHS)
    name = _library_graph(req, svc)
    share = {"graph": name, "shared_by": caller.subject, "shared_at": datetime.now(UTC).isoformat()}
    svc.store.records(SHARED).put(caller.tenant.id, name, share)
    return json_response(pm.ShareView(graph=name, shared=True))


@answer
async def unshare_graph(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    svc = service()
    caller = caller_of(req, svc, Permission.SHARE_GRAPHS)
    name = str(req.route_params.get("name", ""))
    # Idempotent: unsharing a graph that is not shared (or no longer in the library) is done.
    svc.store.records(SHARED).delete(caller.tenant.id, name)
    return json_response(pm.ShareView(graph=name, shared=False))
