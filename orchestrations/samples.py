"""Sample orchestrations to try the host with (see the README's curl lines)."""

from collections.abc import Generator
from typing import Any

import azure.durable_functions as df

Steps = Generator[Any, Any, Any]


def hello_sequence(context: df.DurableOrchestrationContext) -> Steps:
    """Function chaining: each greeting runs after the previous one."""
    cities = context.get_input() or ["Tokyo", "Seattle", "London"]
    greetings = []
    for city in cities:
        greetings.append((yield context.call_activity("say_hello", city)))
    return greetings


def fan_out_fan_in(context: df.DurableOrchestrationContext) -> Steps:
    """Fan-out/fan-in: N parallel activities, then one aggregate."""
    count = int((context.get_input() or {}).get("count", 10))
    context.set_custom_status({"phase": "fan-out", "workers": count})
    lengths = yield context.task_all([context.call_activity("measure", f"worker-{i}") for i in range(count)])
    context.set_custom_status({"phase": "done", "workers": count})
    return {"workers": count, "total": sum(lengths)}
