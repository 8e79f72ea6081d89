"""Blueprint of the activity layer: agent calls, and the samples."""

from typing import Any

import azure.durable_functions as df

from . import agents, runs

blueprint = df.Blueprint()


@blueprint.activity_trigger(input_name="call")
def run_agent(call: dict[str, Any]) -> dict[str, Any]:
    return agents.run_agent_activity(call)


@blueprint.activity_trigger(input_name="summary")
def record_run(summary: dict[str, Any]) -> None:
    runs.record_run_activity(summary)


@blueprint.activity_trigger(input_name="city")
def say_hello(city: str) -> str:
    return f"Hello {city}!"


@blueprint.activity_trigger(input_name="text")
def measure(text: str) -> int:
    return len(text)
