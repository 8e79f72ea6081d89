"""The Functions worker's cold start: what ``import function_app`` loads (issue 22).

Behaviour, not timing (the timing is ``benchmarks/coldstart.py``): a fresh interpreter that
imports the app must not load the libraries only some requests need. numpy and numba serve the
routing activity and usage roll-ups, httpx (which brings rich and click) the outbound calls,
Jinja and jsonschema a graph's validation and first prompt, YAML the graph library, wasmtime
the plugins, cryptography the secret stores. aiohttp is not on the list:
``azure.durable_functions`` itself imports it, so every Durable app pays for it (the
benchmark's minimal app too). The API registers thin triggers from its function table
(``convergio/api/_routes.py``), each importing its route module on first call: the app loads
no route module, none of the API's models and not pydantic. A route module names a few things
from packages whose other modules are heavy: those packages import a submodule when one of its
names is first asked for (``convergio._lazy``), and the API's models build their validators on
first use.
"""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from convergio.api._routes import ROUTES

ROOT = Path(__file__).resolve().parents[1]
DEFERRED = (
    "numpy",
    "numba",
    "httpx",
    "rich",
    "click",
    "jinja2",
    "jsonschema",
    "referencing",
    "re2",
    "yaml",
    "wasmtime",
    "cryptography",
)
FIRST_USE = (
    "convergio.wiring",
    "convergio.graph._run",
    "convergio.graph._report",
    "convergio.graph._planner",
    "convergio.graph._deciders",
    "convergio.graph._replan",
    "convergio.graph._route",
    "convergio.graph._spec",
    "convergio.quotas",
    "convergio.agents._bound",
    "convergio.agents._runner",
    "convergio.agents._turns",
    "convergio.agents._call",
    "convergio.agents._resolve",
    "convergio.plugins._host",
    "convergio.plugins._package",
    "convergio.plugins._registry",
    "convergio.secrets._cipher",
    "convergio.providers._offline",
    "convergio.api._openapi",
    "convergio.api._http",
    "convergio.api._service",
)
"""Modules of ours that ``import function_app`` left for the requests that need them."""
LAZY_PACKAGES = (
    "convergio.tenants",
    "convergio.graph",
    "convergio.agents",
    "convergio.plugins",
    "convergio.secrets",
    "convergio.providers",
)
MODEL_MODULES = ("_models", "_people_models", "_hook_models", "_plugin_models", "_mcp_servers", "_retention")
API_LIBRARIES = ("pydantic", "pydantic_core", "starlette", "anyio")
"""What the API's handlers, models and live stream use, and the app's import must not load."""


def _probe(code: str) -> Any:
    """Run ``code`` in a fresh interpreter in the app's folder; its last line of output, as JSON."""
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True, timeout=120
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def _loaded_after_the_app() -> set[str]:
    return set(_probe("import json, sys\nimport function_app\nprint(json.dumps(sorted(sys.modules)))\n"))


def test_importing_the_app_loads_none_of_the_libraries_only_some_requests_need() -> None:
    loaded = {name.split(".")[0] for name in _loaded_after_the_app()}
    assert "function_app" in loaded
    assert sorted(loaded & set(DEFERRED)) == []


def test_the_activities_and_orchestrations_import_their_modules_on_first_call() -> None:
    """The blueprints index their triggers without the stores, adapters or graph package."""
    added = set(
        _probe(
            "import json, sys\n"
            "import azure.durable_functions, azure.functions\n"
            "before = set(sys.modules)\n"
            "import activities, orchestrations\n"
            "print(json.dumps(sorted(set(sys.modules) - before)))\n"
        )
    )
    assert {"activities._blueprint", "orchestrations.graph"} <= added
    lazy = {
        "activities.agents",
        "activities.routing",
        "activities.a2a",
        "convergio.graph",
        "convergio.wiring",
    }
    assert sorted(added & (lazy | {"pydantic", *DEFERRED})) == []


def test_importing_the_app_leaves_the_stores_adapters_and_state_machine_for_first_use() -> None:
    loaded = _loaded_after_the_app()
    assert {"convergio.api", "convergio.api._routes"} <= loaded
    assert sorted(loaded & set(FIRST_USE)) == []


def test_importing_the_app_loads_no_route_module_no_model_and_not_pydantic() -> None:
    """The API's triggers import their route module on first call: none is loaded to index the app."""
    loaded = _loaded_after_the_app()
    route_modules = {f"convergio.api.{route.module}" for route in ROUTES}
    assert len(route_modules) > 20
    assert sorted(loaded & route_modules) == []
    assert sorted(loaded & {f"convergio.api.{name}" for name in MODEL_MODULES}) == []
    assert sorted(loaded & {"convergio.api._eventgrid", "convergio.api._retention"}) == []
    assert sorted({name.split(".")[0] for name in loaded} & set(API_LIBRARIES)) == []


def test_the_api_models_are_built_on_first_use_not_at_import() -> None:
    """``defer_build``: no validator is built at import, and a body still validates afterwards."""
    seen = _probe(
        "import importlib, json\n"
        "import function_app\n"
        "from pydantic import BaseModel\n"
        f"modules = [importlib.import_module('convergio.api.' + name) for name in {MODEL_MODULES!r}]\n"
        "models = [v for mod in modules for v in vars(mod).values()\n"
        "          if isinstance(v, type) and issubclass(v, BaseModel) and v.__module__ == mod.__name__]\n"
        "built = sorted(m.__name__ for m in models if m.__pydantic_complete__)\n"
        "from convergio.api._models import RunRequest\n"
        "request = RunRequest.model_validate({'graph_ref': 'lesson-plan', 'input': {'topic': 'x'}})\n"
        "print(json.dumps({'models': len(models), 'built': built, 'ref': request.graph_ref}))\n"
    )
    assert seen["models"] > 40
    assert seen["built"] == []
    assert seen["ref"] == "lesson-plan"


@pytest.mark.parametrize("package", LAZY_PACKAGES)
def test_a_lazy_package_still_offers_every_public_name(package: str) -> None:
    """Each name of ``__all__`` resolves (importing its submodule) and shows in ``dir()``."""
    seen = _probe(
        "import importlib, json\n"
        f"package = importlib.import_module({package!r})\n"
        "listed = set(dir(package))\n"
        "values = {name: getattr(package, name) for name in package.__all__}\n"
        "missing = sorted(set(package.__all__) - listed)\n"
        "try:\n"
        "    package.no_such_name\n"
        "    unknown = 'resolved'\n"
        "except AttributeError as exc:\n"
        "    unknown = str(exc)\n"
        "print(json.dumps({'resolved': len(values), 'missing': missing, 'unknown': unknown}))\n"
    )
    assert seen["resolved"] == len(importlib.import_module(package).__all__)
    assert seen["missing"] == []
    assert seen["unknown"] == f"module {package!r} has no attribute 'no_such_name'"
