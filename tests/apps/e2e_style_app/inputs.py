"""Orchestration inputs: a plain orchestrator and a generator, both echoing ``get_input()``."""

import azure.durable_functions as df
import azure.functions as func

bp = df.Blueprint()


@bp.route(route="StartWithInput", methods=["POST"])
@bp.durable_client_input(client_name="client")
async def start_with_input(req: func.HttpRequest, client):
    """Body: {"orchestrationName": ..., "input": <any JSON>}; the SDK client starts it."""
    body = req.get_json()
    instance_id = await client.start_new(body["orchestrationName"], None, body.get("input"))
    return client.create_check_status_response(req, instance_id)


@bp.orchestration_trigger(context_name="context", orchestration="PlainInputEcho")
def plain_input_echo(context: df.DurableOrchestrationContext):
    value = context.get_input()
    return {"value": value, "type": type(value).__name__}


@bp.orchestration_trigger(context_name="context", orchestration="InputEcho")
def input_echo(context: df.DurableOrchestrationContext):
    value = context.get_input()
    greeting = yield context.call_activity("SayHello", "input")
    return {"value": value, "type": type(value).__name__, "greeting": greeting}
