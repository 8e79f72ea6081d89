"""An app for several processes on one store (ADR 0023): activities log their process.

Each execution of an activity appends ``{"i": ..., "pid": ..., "t": ...}`` to $COUNT_DIR/<activity>.log,
so a test can count the executions of each item and tell which process ran them.
"""

import json
import os
import time

import azure.durable_functions as df
import azure.functions as func

app = df.DFApp(http_auth_level=func.AuthLevel.ANONYMOUS)


def _record(activity: str, index: int) -> None:
    path = os.path.join(os.environ["COUNT_DIR"], f"{activity}.log")
    with open(path, "a", encoding="utf-8") as log:  # O_APPEND: lines of processes do not mix
        log.write(json.dumps({"i": index, "pid": os.getpid(), "t": time.time()}) + "\n")


@app.route(route="orchestrators/{functionName}")
@app.durable_client_input(client_name="client")
async def http_start(req: func.HttpRequest, client):
    payload = req.get_json() if req.get_body() else None
    instance_id = await client.start_new(req.route_params["functionName"], client_input=payload)
    return client.create_check_status_response(req, instance_id)


@app.route(route="instances/{instanceId}/events/{eventName}", methods=["POST"])
@app.durable_client_input(client_name="client")
async def raise_event(req: func.HttpRequest, client):
    await client.raise_event(req.route_params["instanceId"], req.route_params["eventName"], req.get_json())
    return func.HttpResponse(status_code=202)


@app.orchestration_trigger(context_name="context")
def fan_out(context: df.DurableOrchestrationContext):
    """``{"activity": name, "count": n}``: n calls at once; the sum of their results."""
    spec = context.get_input()
    results = yield context.task_all(
        [context.call_activity(spec["activity"], i) for i in range(spec["count"])]
    )
    return sum(results)


@app.orchestration_trigger(context_name="context")
def collect(context: df.DurableOrchestrationContext):
    """Wait for events "tick0" .. "tick<n-1>", in turn, calling an activity after each.

    Distinct names: the Python SDK delivers buffered events of one name unreliably (the same
    value to several waits), with one process as with several.
    """
    seen = []
    for n in range(context.get_input()):
        value = yield context.wait_for_external_event(f"tick{n}")
        seen.append(value)
        yield context.call_activity("work", len(seen))
    return seen


@app.activity_trigger(input_name="index")
def work(index: int) -> int:
    time.sleep(float(os.environ.get("WORK_DELAY", "0")))
    _record("work", index)
    return index * 2


@app.activity_trigger(input_name="index")
def slow(index: int) -> int:
    """Runs for ``SLOW_DELAY`` seconds, longer than a lease: logged when it starts."""
    _record("slow", index)
    time.sleep(float(os.environ.get("SLOW_DELAY", "3")))
    return index
