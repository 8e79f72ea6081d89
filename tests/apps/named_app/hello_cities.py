"""The pattern of Microsoft's Durable Python e2e app: a blueprint whose functions are named by
their triggers (``orchestration=`` / ``activity=``), not by the Python functions."""

import logging

import azure.durable_functions as df
import azure.functions as func

bp = df.Blueprint()


@bp.route(route="StartOrchestration")
@bp.durable_client_input(client_name="client")
async def http_start(req: func.HttpRequest, client):
    body = req.get_body()
    payload = req.get_json() if body else None
    instance_id = await client.start_new(req.params.get("orchestrationName"), None, payload)
    logging.info(f"Started orchestration with ID = '{instance_id}'.")
    return client.create_check_status_response(req, instance_id)


@bp.orchestration_trigger(context_name="context", orchestration="HelloCities")
def hello_cities(context: df.DurableOrchestrationContext):
    result1 = yield context.call_activity("SayHello", "Tokyo")
    result2 = yield context.call_activity("SayHello", "Seattle")
    result3 = yield context.call_activity("say_hello_plain", "London")
    return [result1, result2, result3]


@bp.activity_trigger(input_name="city", activity="SayHello")
def say_hello(city: str) -> str:
    return f"Hello {city}!"


@bp.activity_trigger(input_name="city")
def say_hello_plain(city: str) -> str:
    return f"Hi {city}!"
