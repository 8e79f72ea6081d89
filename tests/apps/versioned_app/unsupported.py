"""What the embedded host does not run yet (ADR 0021), used as the e2e app and Microsoft's samples
use it: an entity, calls to it from an orchestrator and from the client, and a durable HTTP call.
Each must fail with a sentence that says so."""

import azure.durable_functions as df
import azure.functions as func

bp = df.Blueprint()


@bp.entity_trigger(context_name="context")
def Counter(context):
    context.set_state((context.get_state(lambda: 0) or 0) + 1)


@bp.orchestration_trigger(context_name="context", orchestration="ThrowEntityOrchestration")
def rethrow_entity_exception(context: df.DurableOrchestrationContext):
    entity_id = df.EntityId("Counter", "myCounter")
    _ = yield context.call_entity(entity_id, "get", context.instance_id)
    return "Success"


@bp.orchestration_trigger(context_name="context", orchestration="SignalEntityOrchestration")
def signal_entity_orchestration(context: df.DurableOrchestrationContext):
    context.signal_entity(df.EntityId("Counter", "myCounter"), "add", 1)
    yield context.call_activity("noop", None)
    return "Success"


@bp.orchestration_trigger(context_name="context", orchestration="CallHttpOrchestration")
def call_http_orchestration(context: df.DurableOrchestrationContext):
    response = yield context.call_http("GET", "https://example.com/")
    return response["statusCode"]


@bp.activity_trigger(input_name="ignored")
def noop(ignored: str) -> None:
    return None


@bp.route(route="SignalCounter")
@bp.durable_client_input(client_name="client")
async def signal_counter(req: func.HttpRequest, client):
    try:
        await client.signal_entity(df.EntityId("Counter", "myCounter"), "add", 1)
    except Exception as e:
        return func.HttpResponse(f"{type(e).__name__}: {e}", status_code=500)
    return func.HttpResponse("signalled", status_code=202)


@bp.route(route="ReadCounter")
@bp.durable_client_input(client_name="client")
async def read_counter(req: func.HttpRequest, client):
    try:
        state = await client.read_entity_state(df.EntityId("Counter", "myCounter"))
    except Exception as e:
        return func.HttpResponse(f"{type(e).__name__}: {e}", status_code=500)
    return func.HttpResponse(str(state.entity_exists), status_code=200)
