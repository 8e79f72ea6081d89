"""Functions named by their triggers (see hello_cities.py), and orchestrators that are plain
functions rather than generators: one that raises, one whose input does not decode, one that
returns a value. Start any of them with POST /api/StartOrchestration?orchestrationName=<name>.
"""

import azure.durable_functions as df
import azure.functions as func
from hello_cities import bp

app = df.DFApp(http_auth_level=func.AuthLevel.ANONYMOUS)
app.register_functions(bp)


@app.function_name(name="Renamed")
@app.orchestration_trigger(context_name="context")
def renamed_by_function_name(context: df.DurableOrchestrationContext):
    return (yield context.call_activity("SayHello", "Paris"))


@app.orchestration_trigger(context_name="context", orchestration="PlainRaises")
def plain_raises(context: df.DurableOrchestrationContext):
    raise ValueError("plain orchestrator went wrong")


@app.orchestration_trigger(context_name="context")
def plain_input(context: df.DurableOrchestrationContext):
    return {"got": context.get_input()}


@app.orchestration_trigger(context_name="context")
def generator_input(context: df.DurableOrchestrationContext):
    value = context.get_input()
    return (yield context.call_activity("SayHello", str(value)))


@app.orchestration_trigger(context_name="context")
def plain_answer(context: df.DurableOrchestrationContext):
    return 42
