"""Blueprint of the orchestration layer: the generic HTTP starter and the samples."""

import azure.durable_functions as df
import azure.functions as func

from . import graph, samples, webhooks

blueprint = df.Blueprint()


@blueprint.route(route="orchestrators/{functionName}", methods=["POST"])
@blueprint.durable_client_input(client_name="client")
async def http_start(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    """Start any orchestrator by name with the request body as its input (202 + status URLs)."""
    try:
        payload = req.get_json() if req.get_body() else None
    except ValueError:
        return func.HttpResponse(
            '{"error": {"code": "invalid_json", "message": "body must be JSON"}}',
            status_code=400,
            mimetype="application/json",
        )
    instance_id = await client.start_new(req.route_params["functionName"], client_input=payload)
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
