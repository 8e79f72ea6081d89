"""A small app with every HTTP auth level and an Event Grid trigger, written as the docs write them.

The app's default level is FUNCTION (``DFApp``'s default); routes override it per function.
The Event Grid function appends each event it gets to $COUNT_DIR/events.log.
"""

import json
import os

import azure.durable_functions as df
import azure.functions as func

app = df.DFApp(http_auth_level=func.AuthLevel.FUNCTION)


@app.route(route="open", auth_level=func.AuthLevel.ANONYMOUS)
def open_route(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse(f"read {len(req.get_body())} bytes")


@app.route(route="keyed", methods=["GET", "POST"])
def keyed(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse(f"read {len(req.get_body())} bytes")


@app.route(route="admin-only", auth_level=func.AuthLevel.ADMIN)
def admin_only(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse("admin")


@app.route(route="start/{name}", auth_level=func.AuthLevel.ANONYMOUS)
@app.durable_client_input(client_name="client")
async def start(req: func.HttpRequest, client):
    instance_id = await client.start_new(req.route_params["name"])
    return client.create_check_status_response(req, instance_id)


@app.route(route="status/{instanceId}", auth_level=func.AuthLevel.ANONYMOUS)
@app.durable_client_input(client_name="client")
async def status(req: func.HttpRequest, client):
    found = await client.get_status(req.route_params["instanceId"])
    return func.HttpResponse(json.dumps({"runtimeStatus": found.runtime_status.value}),
                             mimetype="application/json")


@app.orchestration_trigger(context_name="context")
def waiter(context: df.DurableOrchestrationContext):
    return (yield context.wait_for_external_event("go"))


@app.event_grid_trigger(arg_name="event")
def on_event(event: func.EventGridEvent) -> None:
    folder = os.environ.get("COUNT_DIR")
    if folder:
        with open(os.path.join(folder, "events.log"), "a", encoding="utf-8") as log:
            log.write(json.dumps({"id": event.id, "data": event.get_json()}) + "\n")
