"""A Durable app written the way Microsoft's Python end-to-end test app is (azure-functions-durable-
extension, test/e2e/Apps/BasicPython): a plain ``func.FunctionApp`` registering ``df.Blueprint``s,
functions named by their triggers (``orchestration=`` / ``activity=``), plain and generator
orchestrators, and HTTP triggers that call the SDK client (``start_new``, ``raise_event``,
``suspend``, ``resume``, ``terminate``, ``purge_instance_history``, ``rewind``) and answer what the
client said, as that app does.

Its expected values come from the extension's documented behaviour; see
tests/host/test_e2e_style_app.py.
"""

import azure.functions as func
from events import bp as events_bp
from hello_cities import bp as hello_cities_bp
from inputs import bp as inputs_bp
from management import bp as management_bp
from rewind import bp as rewind_bp

app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)


@app.route(route="http_trigger")
def http_trigger(req: func.HttpRequest) -> func.HttpResponse:
    name = req.params.get("name") or "world"
    return func.HttpResponse(f"Hello, {name}. This HTTP triggered function executed successfully.")


app.register_blueprint(hello_cities_bp)
app.register_blueprint(events_bp)
app.register_blueprint(inputs_bp)
app.register_blueprint(management_bp)
app.register_blueprint(rewind_bp)
