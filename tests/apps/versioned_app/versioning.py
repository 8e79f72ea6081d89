"""Orchestration versioning: the version a starter asks for (``?version=`` through the SDK's
``start_new(version=...)``), else host.json's ``defaultVersion``; sub-orchestrations; ``context.version``.

The starters and orchestrators mirror the extension's e2e ``VersionedOrchestration`` functions.
"""

import azure.durable_functions as df
import azure.functions as func

bp = df.Blueprint()


@bp.route(route="OrchestrationVersion_HttpStart")
@bp.durable_client_input(client_name="client")
async def orchestration_version_http_start(req: func.HttpRequest, client):
    instance_id = await client.start_new("OrchestrationVersion", version=req.params.get("version"))
    return client.create_check_status_response(req, instance_id)


@bp.route(route="OrchestrationSubVersion_HttpStart")
@bp.durable_client_input(client_name="client")
async def orchestration_sub_version_http_start(req: func.HttpRequest, client):
    sub_version = req.params.get("subOrchestrationVersion")
    instance_id = await client.start_new("OrchestrationSubVersion", None, sub_version)
    return client.create_check_status_response(req, instance_id)


@bp.route(route="StartOrchestration")
@bp.durable_client_input(client_name="client")
async def http_start(req: func.HttpRequest, client):
    instance_id = await client.start_new(
        req.params.get("orchestrationName"), req.params.get("instanceId"), version=req.params.get("version")
    )
    return client.create_check_status_response(req, instance_id)


@bp.route(route="RaiseEvent")
@bp.durable_client_input(client_name="client")
async def raise_event(req: func.HttpRequest, client):
    await client.raise_event(req.params.get("instanceId"), req.params.get("eventName"), None)
    return func.HttpResponse(status_code=202)


@bp.orchestration_trigger(context_name="context", orchestration="OrchestrationVersion")
def orchestration_version(context: df.DurableOrchestrationContext):
    return f"Version: '{context.version}'"


@bp.orchestration_trigger(context_name="context", orchestration="OrchestrationSubVersion")
def orchestration_sub_version(context: df.DurableOrchestrationContext):
    sub_version = yield context.call_sub_orchestrator("SubOrchestrationVersion", version=context.get_input())
    return f"Parent Version: '{context.version}' | Sub Version: '{sub_version}'"


@bp.orchestration_trigger(context_name="context", orchestration="SubOrchestrationVersion")
def sub_orchestration_version(context: df.DurableOrchestrationContext):
    return context.version


@bp.orchestration_trigger(context_name="context", orchestration="VersionAfterExternalEvent")
def version_after_external_event(context: df.DurableOrchestrationContext):
    """The extension's ExistingOrchestrationVersionIsImmutable: waits, then calls a sub-orchestrator."""
    context.set_custom_status("Waiting")
    yield context.wait_for_external_event("Resume")
    sub_version = yield context.call_sub_orchestrator("SubOrchestrationVersion")
    return f"Orchestration: '{context.version}'; Sub-orchestration: '{sub_version}'"


@bp.orchestration_trigger(context_name="context", orchestration="VersionAcrossContinueAsNew")
def version_across_continue_as_new(context: df.DurableOrchestrationContext):
    if context.get_input() is None:
        context.continue_as_new("again")
        return None
    return f"Version: '{context.version}'"


@bp.orchestration_trigger(context_name="context", orchestration="VersionWithActivity")
def version_with_activity(context: df.DurableOrchestrationContext):
    greeting = yield context.call_activity("say_version", context.version)
    return greeting


@bp.activity_trigger(input_name="version")
def say_version(version: str) -> str:
    return f"Hello from version {version}!"
