"""The engine benchmark's app: a chain and a fan-out of no-op activities."""

import azure.durable_functions as df

app = df.DFApp()


@app.orchestration_trigger(context_name="context")
def chain(context: df.DurableOrchestrationContext):
    value = 0
    for _ in range(context.get_input()):
        value = yield context.call_activity("noop", value)
    return value


@app.orchestration_trigger(context_name="context")
def fan_out(context: df.DurableOrchestrationContext):
    results = yield context.task_all(
        [context.call_activity("noop", i) for i in range(context.get_input())])
    return len(results)


@app.activity_trigger(input_name="value")
def noop(value: int) -> int:
    return value + 1
