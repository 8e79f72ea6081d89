"""A2A routes: every named graph published as an A2A agent at ``/api/a2a/{graph}``.

One catch-all HTTP function authenticates the tenant (``x-api-key``, as every other route) and
hands the request to the ``a2a-sdk`` ASGI app of ``convergio.protocols.a2a`` through
``func.AsgiMiddleware`` (``_a2a_agents``), on Azure and on the embedded host alike:

- ``GET  /api/a2a/{graph}/.well-known/agent-card.json``: the agent card. Authenticated too (it
  is a tenant's view of the library); it declares the ``x-api-key`` scheme.
- ``POST /api/a2a/{graph}``: JSON-RPC (A2A 1.0 ``SendMessage``, ``SendStreamingMessage``,
  ``GetTask``, ``ListTasks``, ``CancelTask``, ``SubscribeToTask``; the 0.3 names
  ``message/send``... too). ``ListTasks`` lists this tenant's runs of the graph only.
  Protocol errors are JSON-RPC errors; a missing or wrong key is HTTP 401, an unknown graph 404.

Functions HTTP is request/response: a streamed answer is buffered and arrives whole when the
stream ends (the run ends or pauses, or the stream's time is up).
"""

from __future__ import annotations

import azure.durable_functions as df
import azure.functions as func

from convergio.errors import NotFound
from convergio.tenants import Permission

from ._http import answer, caller_of, off_loop
from ._idempotency import key_of
from ._service import service

__all__: list[str] = []


@answer
async def a2a_agent(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    svc = service()
    caller = await off_loop(caller_of, req, svc, Permission.READ_RUNS)  # answer() adds the 401's challenge
    graph = str(req.route_params.get("graph", ""))
    if svc.library().get(graph) is None:
        raise NotFound(f"no agent named {graph!r}")
    # Loaded here, not at import: the SDK is slow to import and most cold starts never speak A2A.
    from ._a2a_agents import TenantAgents, handle

    key = key_of(req.headers) if req.method == "POST" else None
    agents = TenantAgents(
        svc,
        client,
        caller.tenant.id,
        idempotency_key=key,
        subject=caller.subject,
        who=caller.member or caller.role.value,
    )
    return await handle(req, agents)
