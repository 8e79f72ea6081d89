"""External events: the orchestrator reports exactly what ``wait_for_external_event`` gave it."""

import json

import azure.durable_functions as df
import azure.functions as func

bp = df.Blueprint()


@bp.orchestration_trigger(context_name="context", orchestration="ExternalEventOrchestrator")
def external_event_orchestrator(context: df.DurableOrchestrationContext):
    value = yield context.wait_for_external_event("Approval")
    return {"value": value, "type": type(value).__name__}


@bp.route(route="SendExternalEvent_HttpStart", methods=["POST"])
@bp.durable_client_input(client_name="client")
async def send_external_event(req: func.HttpRequest, client) -> func.HttpResponse:
    """Body: {"instanceId": ..., "data": <any JSON>}; the SDK client raises it as "Approval"."""
    body = req.get_json()
    try:
        await client.raise_event(body["instanceId"], "Approval", body.get("data"))
        return func.HttpResponse(f"External event sent to {body['instanceId']}.", status_code=200)
    except Exception as ex:
        return func.HttpResponse(f"{type(ex).__name__}: {ex}", status_code=400)


@bp.route(route="ManagementPayload", methods=["GET"])
@bp.durable_client_input(client_name="client")
async def management_payload(req: func.HttpRequest, client) -> func.HttpResponse:
    payload = client.create_http_management_payload(req.params.get("instanceId"))
    return func.HttpResponse(json.dumps(payload), mimetype="application/json")
