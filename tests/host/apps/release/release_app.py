"""A small app for the tests of dropped sessions (ADR 0067): the graph's loop of ``task_any`` over
open calls (one retried), a ``task_all``, and a wait for an event in the middle."""

import azure.durable_functions as df
import azure.functions as func

app = df.DFApp(http_auth_level=func.AuthLevel.ANONYMOUS)


@app.orchestration_trigger(context_name="context")
def any_loop(context: df.DurableOrchestrationContext):
    """``n`` calls and a retried one, taken one result at a time; with ``wait``, then an event
    "go"; then two more calls at once. Returns the sum of every result and the event's value."""
    spec = context.get_input()
    pending = [context.call_activity("echo", i) for i in range(spec["n"])]
    pending.append(context.call_activity_with_retry("echo", df.RetryOptions(1000, 2), spec["n"]))
    total = 0
    while pending:
        winner = yield context.task_any(pending)
        pending.remove(winner)
        total += winner.result
    if spec.get("wait"):
        total += yield context.wait_for_external_event("go")
    more = yield context.task_all([context.call_activity("echo", 1), context.call_activity("echo", 2)])
    return total + sum(more)


@app.activity_trigger(input_name="value")
def echo(value: int) -> int:
    return value
