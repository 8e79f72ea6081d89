"""The Functions app: one DFApp, blueprints registered, nothing else.

The same file runs under `func start`, on Azure, and on the embedded host
(`python -m convergio start`).
"""

import azure.durable_functions as df
import azure.functions as func

from activities import blueprint as activities
from convergio.api import blueprint as api
from orchestrations import blueprint as orchestrations

app = df.DFApp(http_auth_level=func.AuthLevel.FUNCTION)
app.register_functions(orchestrations)
app.register_functions(activities)
app.register_functions(api)
