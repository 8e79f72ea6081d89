"""Instance management through the SDK client, answering as Microsoft's e2e app does: 200 and an
empty body when the client call returned, 400 and the client's exception text when it raised."""

import json

import azure.durable_functions as df
import azure.functions as func

bp = df.Blueprint()


async def _answer(call) -> func.HttpResponse:
    try:
        result = await call
    except Exception as ex:
        return func.HttpResponse(str(ex), status_code=400, mimetype="text/plain")
    if result is None:
        return func.HttpResponse(status_code=200)
    return func.HttpResponse(json.dumps(result), status_code=200, mimetype="application/json")


@bp.route(route="SuspendInstance", methods=["GET", "POST"])
@bp.durable_client_input(client_name="client")
async def suspend_instance(req: func.HttpRequest, client: df.DurableOrchestrationClient):
    return await _answer(client.suspend(req.params.get("instanceId"), "Suspending the instance for test."))


@bp.route(route="ResumeInstance", methods=["GET", "POST"])
@bp.durable_client_input(client_name="client")
async def resume_instance(req: func.HttpRequest, client: df.DurableOrchestrationClient):
    return await _answer(client.resume(req.params.get("instanceId"), "Resuming the instance for test."))


@bp.route(route="TerminateInstance", methods=["GET", "POST"])
@bp.durable_client_input(client_name="client")
async def terminate_instance(req: func.HttpRequest, client: df.DurableOrchestrationClient):
    return await _answer(client.terminate(req.params.get("instanceId"), "Terminating the instance for test."))


@bp.route(route="RewindInstance", methods=["GET", "POST"])
@bp.durable_client_input(client_name="client")
async def rewind_instance(req: func.HttpRequest, client: df.DurableOrchestrationClient):
    return await _answer(client.rewind(req.params.get("instanceId"), "Rewinding the instance for test."))


@bp.route(route="PurgeOrchestrationHistory", methods=["GET", "POST"])
@bp.durable_client_input(client_name="client")
async def purge_orchestration_history(req: func.HttpRequest, client: df.DurableOrchestrationClient):
    async def purged() -> str:
        result = await client.purge_instance_history(req.params.get("instanceId"))
        return f"Purged {result.instances_deleted} records"

    try:
        return func.HttpResponse(await purged(), status_code=200)
    except Exception as ex:
        return func.HttpResponse(str(ex), status_code=500)


@bp.route(route="GetStatus", methods=["GET"])
@bp.durable_client_input(client_name="client")
async def get_status(req: func.HttpRequest, client: df.DurableOrchestrationClient):
    """The SDK's status model as an app sees it: input, output, and the history attributes."""
    status = await client.get_status(req.params.get("instanceId"), show_history=True, show_input=True)
    body = {
        "found": bool(status),
        "input": status.input_,
        "output": status.output,
        "history": status.history,
        "historyEvents": getattr(status, "historyEvents", None),
    }
    return func.HttpResponse(json.dumps(body, default=str), mimetype="application/json")
