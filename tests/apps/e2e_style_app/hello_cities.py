"""HelloCities, named by its trigger, started by name from the query string."""

import logging
import time
from datetime import timedelta

import azure.durable_functions as df
import azure.functions as func

bp = df.Blueprint()


@bp.route(route="StartOrchestration")
@bp.durable_client_input(client_name="client")
async def http_start(req: func.HttpRequest, client):
    instance_id = await client.start_new(req.params.get("orchestrationName"))
    logging.info(f"Started orchestration with ID = '{instance_id}'.")
    return client.create_check_status_response(req, instance_id)


@bp.orchestration_trigger(context_name="context", orchestration="HelloCities")
def hello_cities(context: df.DurableOrchestrationContext):
    result1 = yield context.call_activity("SayHello", "Tokyo")
    result2 = yield context.call_activity("SayHello", "Seattle")
    result3 = yield context.call_activity("SayHello", "London")
    return [result1, result2, result3]


@bp.activity_trigger(input_name="city", activity="SayHello")
def say_hello(city: str) -> str:
    return f"Hello {city}!"


@bp.orchestration_trigger(context_name="context", orchestration="LongRunningOrchestrator")
def long_running_orchestrator(context: df.DurableOrchestrationContext):
    yield context.wait_for_external_event("NeverSent")
    return "unreachable"


@bp.orchestration_trigger(context_name="context", orchestration="FailingOrchestrator")
def failing_orchestrator(context: df.DurableOrchestrationContext):
    yield context.call_activity("RaiseException", "This activity failed")
    return "unreachable"


@bp.activity_trigger(input_name="message", activity="RaiseException")
def raise_exception(message: str) -> str:
    raise ValueError(message)


@bp.orchestration_trigger(context_name="context", orchestration="SlowOrchestrator")
def slow_orchestrator(context: df.DurableOrchestrationContext):
    return (yield context.call_activity("Sleep", 3))


@bp.activity_trigger(input_name="seconds", activity="Sleep")
def sleep(seconds: float) -> str:
    time.sleep(seconds)
    return "slept"


@bp.orchestration_trigger(context_name="context", orchestration="TimerOrchestrator")
def timer_orchestrator(context: df.DurableOrchestrationContext):
    yield context.create_timer(context.current_utc_datetime + timedelta(milliseconds=300))
    return "fired"
