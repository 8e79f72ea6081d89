"""The API's function table (``convergio/api/_routes.py``) and the thin triggers built from it (issue 22).

The triggers import their handler's module on first call, so the table is the only place a
route is declared: every entry must name a handler that exists, with the shape its trigger
calls, and no route module may register a function of its own (it would be registered twice,
or, once the table lost it, silently not at all).
"""

from __future__ import annotations

import importlib
import inspect
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from convergio.api._routes import ROUTES, Route
from tests._helpers import ROOT, app_functions

ROUTE_MODULES = sorted({route.module for route in ROUTES} | {"_eventgrid", "_retention"})
OTHER_TRIGGERS = {
    "hook_event": ("_eventgrid", "eventGridTrigger"),
    "retention_keeper": ("_retention", "timerTrigger"),
}
API_MODULES = sorted(
    path.stem
    for path in (ROOT / "convergio" / "api").glob("_*.py")
    if path.stem not in {"__init__", "__main__"}
)


def _api_functions() -> dict[str, dict[str, object]]:
    """The app's functions that the API blueprint registered: name -> trigger binding."""
    names = {route.name for route in ROUTES} | set(OTHER_TRIGGERS)
    found: dict[str, dict[str, object]] = {}
    for function in app_functions():
        bindings = json.loads(function.get_function_json())["bindings"]
        trigger = next(b for b in bindings if b["direction"] == "IN" and b["type"] != "durableClient")
        if function.get_function_name() in names:
            found[function.get_function_name()] = {
                **trigger,
                "client": any(b["type"] == "durableClient" for b in bindings),
            }
    return found


@pytest.mark.parametrize("route", ROUTES, ids=lambda route: route.name)
def test_each_entry_names_a_handler_of_its_module_with_the_shape_its_trigger_calls(route: Route) -> None:
    handler = getattr(importlib.import_module(f"convergio.api.{route.module}"), route.name)
    if route.client:
        assert inspect.iscoroutinefunction(handler)
        assert list(inspect.signature(handler).parameters) == ["req", "client"]
    else:  # the console's files: read from disk, so a plain function (the host runs it in a thread)
        assert callable(handler) and not inspect.iscoroutinefunction(handler)
        assert list(inspect.signature(handler).parameters) == ["req"]


@pytest.mark.parametrize("name", sorted(OTHER_TRIGGERS))
def test_the_event_grid_and_timer_handlers_are_coroutines_of_their_modules(name: str) -> None:
    handler = getattr(importlib.import_module(f"convergio.api.{OTHER_TRIGGERS[name][0]}"), name)
    assert inspect.iscoroutinefunction(handler)
    assert list(inspect.signature(handler).parameters)[1:] == ["client"]


def test_the_app_registers_every_entry_once_with_its_route_methods_and_auth_level() -> None:
    names = [route.name for route in ROUTES]
    assert len(names) == len(set(names))
    registered = _api_functions()
    assert set(registered) == set(names) | set(OTHER_TRIGGERS)
    for route in ROUTES:
        trigger = registered[route.name]
        assert trigger["type"] == "httpTrigger"
        assert (trigger["route"], trigger["methods"], trigger["authLevel"]) == (
            route.route,
            list(route.methods),
            route.auth_level,
        )
        assert trigger["name"] == "req"
        assert trigger["client"] is route.client
    for name, (_, kind) in OTHER_TRIGGERS.items():
        assert registered[name]["type"] == kind
        assert registered[name]["client"] is True


def _probe(code: str, env: dict[str, str] | None = None) -> Any:
    """Run ``code`` in a fresh interpreter in the app's folder; its last line of output, as JSON."""
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_no_api_module_registers_a_function_itself() -> None:
    """Importing every module of the API, in a fresh interpreter, adds nothing to the blueprint."""
    assert set(ROUTE_MODULES) <= set(API_MODULES)
    before, after = _probe(
        "import importlib, json\n"
        "from convergio.api import blueprint\n"
        "before = len(blueprint._function_builders)\n"
        f"for name in {API_MODULES!r}:\n"
        "    importlib.import_module('convergio.api.' + name)\n"
        "print(json.dumps([before, len(blueprint._function_builders)]))\n"
    )
    assert before == len(ROUTES) + len(OTHER_TRIGGERS)
    assert after == before


def test_a_trigger_imports_its_own_route_module_on_its_first_call(tmp_path: Path) -> None:
    """The registered trigger of ``GET /api/v1/setup`` answers through ``_setup``, no other route module."""
    status, body, before, after = _probe(
        "import asyncio, json, sys\n"
        "import azure.functions as func\n"
        "import convergio.retention._durable as retention\n"
        "from convergio.api import blueprint\n"
        "retention._ensured = True  # no host to start the retention orchestration on\n"
        "functions = {fb._function.get_function_name(): fb._function\n"
        "             for fb in blueprint._function_builders}\n"
        "trigger = functions['setup_state'].get_user_function()\n"
        "client = json.dumps({'taskHubName': 'hub', 'creationUrls': {}, 'managementUrls': {},\n"
        "                     'baseUrl': 'http://127.0.0.1:9/', 'requiredQueryStringParameters': ''})\n"
        "api = lambda: sorted(m for m in sys.modules if m.startswith('convergio.api.'))\n"
        "before = api()\n"
        "req = func.HttpRequest('GET', 'http://h/api/v1/setup', body=b'')\n"
        "answer = asyncio.run(trigger(req=req, client=client))\n"
        "print(json.dumps([answer.status_code, json.loads(answer.get_body()), before, api()]))\n",
        {"CONVERGIO_HOME": str(tmp_path)},
    )
    assert (status, body) == (200, {"claimed": False})
    assert "convergio.api._setup" not in before
    assert "convergio.api._setup" in after
    others = {f"convergio.api.{module}" for module in ROUTE_MODULES} - {"convergio.api._setup"}
    assert sorted(others & set(after)) == []
