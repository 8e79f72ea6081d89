"""A small app for the engine's async activities (ADR 0065): a fan-out whose activities can
only finish if they all run at once, a chain, a failing one, and sync ones beside them."""

import asyncio
import threading

import azure.durable_functions as df
import azure.functions as func

app = df.DFApp(http_auth_level=func.AuthLevel.ANONYMOUS)

_met: dict[int, tuple[int, asyncio.Event]] = {}
"""Per fan-out size, how many ``meet`` calls arrived and the event the last one sets (one
meeting of a size at a time; the event belongs to the loop of the first call)."""


@app.orchestration_trigger(context_name="context")
def meeting(context: df.DurableOrchestrationContext):
    size = context.get_input()
    return (yield context.task_all([context.call_activity("meet", size) for _ in range(size)]))


@app.orchestration_trigger(context_name="context")
def mixed(context: df.DurableOrchestrationContext):
    size = context.get_input()
    calls = [context.call_activity("where_async" if i % 2 else "where_sync", i) for i in range(size)]
    return (yield context.task_all(calls))


@app.orchestration_trigger(context_name="context")
def chain(context: df.DurableOrchestrationContext):
    threads = []
    for index in range(context.get_input()):
        threads.append((yield context.call_activity("where_async", index)))
    return threads


@app.orchestration_trigger(context_name="context")
def failing(context: df.DurableOrchestrationContext):
    try:
        yield context.call_activity("fail_async", context.get_input())
    except Exception as exc:
        return f"caught: {exc}"
    return "not failed"


@app.activity_trigger(input_name="size")
async def meet(size: int) -> str:
    """Returns once ``size`` calls have arrived (10 s at most): only calls running at once on
    one event loop can; they all wake in the same turn of it."""
    arrived, met = _met.get(size) or (0, asyncio.Event())
    _met[size] = (arrived + 1, met)
    if arrived + 1 == size:
        met.set()
        del _met[size]
    try:
        await asyncio.wait_for(met.wait(), 10)
    except TimeoutError:
        return "alone"
    return threading.current_thread().name


@app.activity_trigger(input_name="index")
async def where_async(index: int) -> str:
    await asyncio.sleep(0)
    return threading.current_thread().name


@app.activity_trigger(input_name="index")
def where_sync(index: int) -> str:
    return "sync:" + threading.current_thread().name


@app.activity_trigger(input_name="text")
async def fail_async(text: str) -> str:
    await asyncio.sleep(0)
    raise ValueError(f"refused {text}")
