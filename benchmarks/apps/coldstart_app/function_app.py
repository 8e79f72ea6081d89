"""The cold-start benchmark's baseline: a minimal Durable Functions app.

What the Durable Functions quickstart writes: an HTTP starter, an orchestrator and an
activity on one ``DFApp``. Importing it costs what any Durable app pays for the two SDKs
(``azure.functions`` and ``azure.durable_functions``, which brings aiohttp); Convergio's
``function_app`` is measured against it in the same venv.
"""

import azure.durable_functions as df
import azure.functions as func

app = df.DFApp(http_auth_level=func.AuthLevel.FUNCTION)


@app.route(route="orchestrators/{functionName}")
@app.durable_client_input(client_name="client")
async def http_start(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    instance_id = await client.start_new(req.route_params["functionName"])
    return client.create_check_status_response(req, instance_id)


@app.orchestration_trigger(context_name="context")
def hello_orchestrator(context: df.DurableOrchestrationContext):  # type: ignore[no-untyped-def]
    result = yield context.call_activity("hello", "Seattle")
    return result


@app.activity_trigger(input_name="city")
def hello(city: str) -> str:
    return f"Hello {city}"
