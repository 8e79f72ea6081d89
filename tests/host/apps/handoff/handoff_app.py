"""A small app for the engine's hand-off tests (ADR 0046, 0052): chains, a fan-out, a slow
activity, and one that runs until a file exists."""

import threading
import time
from pathlib import Path

import azure.durable_functions as df
import azure.functions as func

app = df.DFApp(http_auth_level=func.AuthLevel.ANONYMOUS)


@app.orchestration_trigger(context_name="context")
def chain(context: df.DurableOrchestrationContext):
    threads = []
    for index in range(context.get_input()):
        threads.append((yield context.call_activity("where", index)))
    return threads


@app.orchestration_trigger(context_name="context")
def fan_out(context: df.DurableOrchestrationContext):
    results = yield context.task_all([context.call_activity("where", i) for i in range(context.get_input())])
    return len(results)


@app.orchestration_trigger(context_name="context")
def slow_one(context: df.DurableOrchestrationContext):
    return (yield context.call_activity("slow", context.get_input()))


@app.orchestration_trigger(context_name="context")
def gated_one(context: df.DurableOrchestrationContext):
    return (yield context.call_activity("gated", context.get_input()))


@app.orchestration_trigger(context_name="context")
def gated_then_event(context: df.DurableOrchestrationContext):
    result = yield context.call_activity("gated", context.get_input())
    return [result, (yield context.wait_for_external_event("go"))]


@app.activity_trigger(input_name="index")
def where(index: int) -> str:
    return threading.current_thread().name


@app.activity_trigger(input_name="seconds")
def slow(seconds: float) -> float:
    time.sleep(seconds)
    return seconds


@app.activity_trigger(input_name="folder")
def gated(folder: str) -> str:
    """Marks ``started`` in ``folder``, then runs until ``open`` is there; returns its text."""
    (Path(folder) / "started").touch()
    gate = Path(folder) / "open"
    deadline = time.monotonic() + 30
    while not gate.exists() and time.monotonic() < deadline:
        time.sleep(0.005)
    return gate.read_text()
