"""Blueprint of the orchestration layer: the generic HTTP starter and the samples."""

import json

import azure.durable_functions as df
import azure.functions as func

from convergio._history_times import install as _read_history_times_fast

from . import graph, samples, webhooks
from .retention import sweep_forever

# Every replay parses every event's time: without dateutil, a replay costs 40 % less (ADR 0069).
_read_history_times_fast()

blueprint = df.Blueprint()

# What the generic starter may start: the samples only. Graph runs and webhook delivery act for a
# tenant (and spend its keys), so they start only through the API that authenticates the tenant.
STARTABLE = frozenset({"hello_sequence", "fan_out_fan_in"})


def _error(status: int, code: str, message: str) -> func.HttpResponse:
    body = json.dumps({"error": {"code": code, "message": message}})
    return func.HttpResponse(body, status_code=status, mimetype="application/json")


@blueprint.route(route="orchestrators/{functionName}", methods=["POST"])
@blueprint.durable_client_input(client_name="client")
async def http_start(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    """Start a sample orchestrator by name with the request body as its input (202 + status URLs)."""
    name = req.route_params["functionName"]
    if name not in STARTABLE:
        return _error(404, "not_found", f"no startable orchestrator {name!r}")
    try:
        payload = req.get_json() if req.get_body() else None
    except (ValueError, RecursionError):
        return _error(400, "invalid_json", "body must be JSON")
    instance_id = await client.start_new(name, client_input=payload)
    return client.create_check_status_response(req, instance_id)


@blueprint.orchestration_trigger(context_name="context")
def hello_sequence(context: df.DurableOrchestrationContext):  # type: ignore[no-untyped-def]
    return (yield from samples.hello_sequence(context))


@blueprint.orchestration_trigger(context_name="context")
def fan_out_fan_in(context: df.DurableOrchestrationContext):  # type: ignore[no-untyped-def]
    return (yield from samples.fan_out_fan_in(context))


@blueprint.orchestration_trigger(context_name="context")
def agent_graph(context: df.DurableOrchestrationContext):  # type: ignore[no-untyped-def]
    return (yield from graph.agent_graph(context))


@blueprint.orchestration_trigger(context_name="context")
def deliver_webhooks(context: df.DurableOrchestrationContext):  # type: ignore[no-untyped-def]
    return (yield from webhooks.deliver(context))


@blueprint.orchestration_trigger(context_name="context")
def retention(context: df.DurableOrchestrationContext):  # type: ignore[no-untyped-def]
    """The retention singleton (ADR 0018): the name is ``convergio.retention.RETENTION``."""
    return (yield from sweep_forever(context))
