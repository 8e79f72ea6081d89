"""A small app for the gathering window's tests (ADR 0057): a fan-out whose gated items stay in
flight while its quick ones finish, racing an external event or a timer."""

import time
from datetime import timedelta
from pathlib import Path

import azure.durable_functions as df
import azure.functions as func

app = df.DFApp(http_auth_level=func.AuthLevel.ANONYMOUS)


@app.orchestration_trigger(context_name="context")
def fan_out(context: df.DurableOrchestrationContext):
    results = yield context.task_all([context.call_activity("quick", i) for i in range(context.get_input())])
    return sum(results)


@app.orchestration_trigger(context_name="context")
def work_or_other(context: df.DurableOrchestrationContext):
    """``gated`` items that run until the gate opens, ``quick`` ones, and whichever comes
    first of all of them or ``other``: an event "go", or a timer ``timer_s`` away."""
    spec = context.get_input()
    work = [context.call_activity("gated", spec["folder"]) for _ in range(spec["gated"])]
    work += [context.call_activity("quick", i) for i in range(spec["quick"])]
    if "timer_s" in spec:
        other = context.create_timer(context.current_utc_datetime + timedelta(seconds=spec["timer_s"]))
    else:
        other = context.wait_for_external_event("go")
    winner = yield context.task_any([context.task_all(work), other])
    return "other" if winner == other else "work"


@app.activity_trigger(input_name="index")
def quick(index: int) -> int:
    return index


@app.activity_trigger(input_name="folder")
def gated(folder: str) -> str:
    """Runs until ``open`` is in ``folder`` (at most 30 s)."""
    gate = Path(folder) / "open"
    deadline = time.monotonic() + 30
    while not gate.exists() and time.monotonic() < deadline:
        time.sleep(0.005)
    return "gated"
