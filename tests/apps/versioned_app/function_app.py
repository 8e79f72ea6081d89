"""An app written the way the Durable extension's own Python e2e app is (test/e2e/Apps/BasicPython):
a ``FunctionApp`` made of blueprints, functions named by their triggers, HTTP starters that hand
the request's parameters to the SDK's client. The expected values in tests/host/test_versioning.py
and tests/host/test_clear_errors.py come from the extension's documented and tested behaviour.

host.json is the e2e apps': ``defaultVersion`` 2.0, ``CurrentOrOlder``, ``Fail``.
"""

import azure.functions as func
from activity_error_handling import bp as error_handling_bp
from unsupported import bp as unsupported_bp
from versioning import bp as versioning_bp

app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)

app.register_blueprint(versioning_bp)
app.register_blueprint(error_handling_bp)
app.register_blueprint(unsupported_bp)
