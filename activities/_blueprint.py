"""Blueprint of the activity layer: agent calls, and the samples.

Each trigger imports its module on first call, not here: the worker imports this file to index
the functions at cold start, and the modules behind the triggers pull the stores, the adapters
and numpy (issue 22: ``import function_app`` within 1.5x a minimal Durable app).
"""

from typing import Any

import azure.durable_functions as df

__all__ = ["blueprint"]

blueprint = df.Blueprint()


@blueprint.activity_trigger(input_name="call")
async def run_agent(call: dict[str, Any]) -> dict[str, Any]:
    from . import agents

    return await agents.run_agent_activity(call)


@blueprint.activity_trigger(input_name="call")
def route_request(call: dict[str, Any]) -> dict[str, Any]:
    from . import routing

    return routing.route_request_activity(call)


@blueprint.activity_trigger(input_name="call")
def a2a_send(call: dict[str, Any]) -> dict[str, Any]:
    from . import a2a

    return a2a.a2a_send_activity(call)


@blueprint.activity_trigger(input_name="call")
def a2a_poll(call: dict[str, Any]) -> dict[str, Any]:
    from . import a2a

    return a2a.a2a_poll_activity(call)


@blueprint.activity_trigger(input_name="summary")
def record_run(summary: dict[str, Any]) -> None:
    from . import runs

    runs.record_run_activity(summary)


@blueprint.activity_trigger(input_name="record")
def record_progress(record: dict[str, Any]) -> dict[str, Any]:
    """Echo a run's progress record: its result is how the record reaches the history (ADR 0014)."""
    return record


@blueprint.activity_trigger(input_name="event")
@blueprint.durable_client_input(client_name="client")
async def emit_run_event(event: dict[str, Any], client: df.DurableOrchestrationClient) -> list[str]:
    from . import webhooks

    return await webhooks.emit_run_event_activity(event, client)


@blueprint.activity_trigger(input_name="call")
def deliver_webhook(call: dict[str, Any]) -> dict[str, Any]:
    from . import webhooks

    return webhooks.deliver_webhook_activity(call)


@blueprint.activity_trigger(input_name="call")
def retention_plan(call: dict[str, Any]) -> dict[str, Any]:
    from . import retention

    return retention.retention_plan_activity(call)


@blueprint.activity_trigger(input_name="call")
@blueprint.durable_client_input(client_name="client")
async def retention_sweep(call: dict[str, Any], client: df.DurableOrchestrationClient) -> dict[str, Any]:
    from . import retention

    return await retention.retention_sweep_activity(call, client)


@blueprint.activity_trigger(input_name="call")
@blueprint.durable_client_input(client_name="client")
async def retention_backstop(call: dict[str, Any], client: df.DurableOrchestrationClient) -> dict[str, Any]:
    from . import retention

    return await retention.retention_backstop_activity(call, client)


@blueprint.activity_trigger(input_name="city")
def say_hello(city: str) -> str:
    return f"Hello {city}!"


@blueprint.activity_trigger(input_name="text")
def measure(text: str) -> int:
    return len(text)
