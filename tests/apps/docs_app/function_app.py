"""A Durable Functions app written the way Microsoft's docs write them.

The embedded host must run it unmodified. Activities append one line per
execution to $COUNT_DIR/<activity>.log so tests can count executions.
"""

import json
import os
import time
from datetime import timedelta

import azure.durable_functions as df
import azure.functions as func

app = df.DFApp(http_auth_level=func.AuthLevel.ANONYMOUS)


def _record(activity: str, value: object) -> None:
    folder = os.environ.get("COUNT_DIR")
    if folder:
        with open(os.path.join(folder, f"{activity}.log"), "a", encoding="utf-8") as log:
            log.write(json.dumps(value) + "\n")
            log.flush()
            os.fsync(log.fileno())


def _attempts(activity: str, key: str) -> int:
    folder = os.environ.get("COUNT_DIR", "")
    path = os.path.join(folder, f"{activity}.log")
    if not os.path.exists(path):
        return 0
    with open(path, encoding="utf-8") as log:
        return sum(1 for line in log if json.loads(line) == key)


# -- client functions ---------------------------------------------------------------------
@app.route(route="orchestrators/{functionName}")
@app.durable_client_input(client_name="client")
async def http_start(req: func.HttpRequest, client):
    function_name = req.route_params.get("functionName")
    payload = req.get_json() if req.get_body() else None
    instance_id = await client.start_new(function_name, client_input=payload)
    return client.create_check_status_response(req, instance_id)


@app.route(route="instances/{instanceId}", methods=["GET"])
@app.durable_client_input(client_name="client")
async def get_status(req: func.HttpRequest, client):
    status = await client.get_status(req.route_params["instanceId"], show_history=True)
    return func.HttpResponse(json.dumps(status.to_json(), default=str), mimetype="application/json")


@app.route(route="instances/{instanceId}/events/{eventName}", methods=["POST"])
@app.durable_client_input(client_name="client")
async def raise_event(req: func.HttpRequest, client):
    await client.raise_event(req.route_params["instanceId"], req.route_params["eventName"],
                             req.get_json())
    return func.HttpResponse(status_code=202)


@app.route(route="instances/{instanceId}/terminate", methods=["POST"])
@app.durable_client_input(client_name="client")
async def terminate(req: func.HttpRequest, client):
    await client.terminate(req.route_params["instanceId"], req.params.get("reason", "stop"))
    return func.HttpResponse(status_code=202)


@app.route(route="instances/{instanceId}", methods=["DELETE"])
@app.durable_client_input(client_name="client")
async def purge(req: func.HttpRequest, client):
    result = await client.purge_instance_history(req.route_params["instanceId"])
    return func.HttpResponse(json.dumps({"deleted": result.instances_deleted}),
                             mimetype="application/json")


@app.route(route="hello/{name?}", methods=["GET"])
def hello(req: func.HttpRequest) -> func.HttpResponse:
    name = req.route_params.get("name") or req.params.get("name") or "world"
    return func.HttpResponse(f"Hello, {name}!")


# -- orchestrators ------------------------------------------------------------------------
@app.orchestration_trigger(context_name="context")
def chaining(context: df.DurableOrchestrationContext):
    result1 = yield context.call_activity("say_hello", "Tokyo")
    result2 = yield context.call_activity("say_hello", "Seattle")
    result3 = yield context.call_activity("say_hello", "London")
    return [result1, result2, result3]


@app.orchestration_trigger(context_name="context")
def fan_out_fan_in(context: df.DurableOrchestrationContext):
    count = context.get_input()
    tasks = [context.call_activity("work", i) for i in range(count)]
    results = yield context.task_all(tasks)
    total = yield context.call_activity("add", results)
    return total


@app.orchestration_trigger(context_name="context")
def retrying(context: df.DurableOrchestrationContext):
    retry = df.RetryOptions(first_retry_interval_in_milliseconds=200, max_number_of_attempts=3)
    first = yield context.call_activity_with_retry("flaky", retry, {"key": "a", "fail": 2})
    try:
        yield context.call_activity_with_retry("flaky", retry, {"key": "b", "fail": 5})
        second = "unexpected success"
    except Exception as error:
        second = "gave up: " + str(error).splitlines()[0]
    return [first, second]


@app.orchestration_trigger(context_name="context")
def parent(context: df.DurableOrchestrationContext):
    children = yield context.task_all([
        context.call_sub_orchestrator("chaining"),
        context.call_sub_orchestrator("fan_out_fan_in", 5),
    ])
    named = yield context.call_sub_orchestrator("chaining", None, context.instance_id + "-named")
    return {"children": children, "named": named}


@app.orchestration_trigger(context_name="context")
def sleeper(context: df.DurableOrchestrationContext):
    seconds = context.get_input()
    started = context.current_utc_datetime
    yield context.create_timer(started + timedelta(seconds=seconds))
    return (context.current_utc_datetime - started).total_seconds()


@app.orchestration_trigger(context_name="context")
def approval(context: df.DurableOrchestrationContext):
    deadline = context.current_utc_datetime + timedelta(seconds=context.get_input())
    timeout = context.create_timer(deadline)
    answer = context.wait_for_external_event("Approval")
    winner = yield context.task_any([answer, timeout])
    if winner == answer:
        timeout.cancel()
        return {"approved": answer.result}
    return {"timed_out": True}


@app.orchestration_trigger(context_name="context")
def careful(context: df.DurableOrchestrationContext):
    try:
        yield context.call_activity("boom", "x")
        return "no error?"
    except Exception as error:
        recovered = yield context.call_activity("say_hello", "after failure")
        return {"caught": "kaboom" in str(error), "then": recovered}


@app.orchestration_trigger(context_name="context")
def careless(context: df.DurableOrchestrationContext):
    yield context.call_activity("boom", "y")
    return "unreachable"


@app.orchestration_trigger(context_name="context")
def counter(context: df.DurableOrchestrationContext):
    value = context.get_input() or 0
    yield context.call_activity("say_hello", f"round {value}")
    if value < 3:
        context.continue_as_new(value + 1)
        return None
    return value


@app.orchestration_trigger(context_name="context")
def reporter(context: df.DurableOrchestrationContext):
    context.set_custom_status({"stage": "waiting"})
    go = yield context.wait_for_external_event("go")
    context.set_custom_status({"stage": "working", "go": go})
    result = yield context.call_activity("say_hello", "reporter")
    context.set_custom_status({"stage": "done"})
    return result


@app.orchestration_trigger(context_name="context")
def tally(context: df.DurableOrchestrationContext):
    """Fans out, sets its custom status after every completion, then waits (a burst, then idle)."""
    open_tasks = [context.call_activity("measure", "x" * i) for i in range(context.get_input())]
    done = 0
    while open_tasks:
        winner = yield context.task_any(open_tasks)
        open_tasks.remove(winner)
        done += 1
        context.set_custom_status({"done": done})
    yield context.wait_for_external_event("go")
    return done


@app.orchestration_trigger(context_name="context")
def bloated(context: df.DurableOrchestrationContext):
    """Sets a custom status of N characters (Azure refuses one over 16 KB of UTF-16)."""
    context.set_custom_status("x" * context.get_input())
    result = yield context.call_activity("say_hello", "bloated")
    return result


@app.orchestration_trigger(context_name="context")
def forever(context: df.DurableOrchestrationContext):
    yield context.wait_for_external_event("never")
    return "woke"


@app.orchestration_trigger(context_name="context")
def shifty(context: df.DurableOrchestrationContext):
    """Non-deterministic on purpose: the first activity depends on an env var."""
    first = os.environ.get("SHIFTY_ACTIVITY", "say_hello")
    yield context.call_activity(first, "x")
    yield context.wait_for_external_event("continue")
    return "done"


# -- activities ----------------------------------------------------------------------------
@app.activity_trigger(input_name="city")
def say_hello(city: str) -> str:
    _record("say_hello", city)
    return f"Hello {city}!"


@app.activity_trigger(input_name="name")
def measure(name: str) -> int:
    return len(name)


@app.activity_trigger(input_name="index")
def work(index: int) -> int:
    delay = float(os.environ.get("WORK_DELAY", "0"))
    if delay:
        time.sleep(delay)
    _record("work", index)
    return index * 2


@app.activity_trigger(input_name="values")
def add(values: list) -> int:
    return sum(values)


@app.activity_trigger(input_name="spec")
def flaky(spec: dict) -> str:
    _record("flaky", spec["key"])
    attempt = _attempts("flaky", spec["key"])
    if attempt <= spec["fail"]:
        raise RuntimeError(f"flaky failure {attempt}")
    return f"{spec['key']} ok after {attempt} attempts"


@app.activity_trigger(input_name="value")
def boom(value: str) -> str:
    raise ValueError("kaboom")
