"""The HTTP API (``/api/v1``) as a Functions blueprint: tenants, runs, graphs, OpenAPI.

The blueprint holds thin triggers, one per entry of the function table (``_routes.py``), plus
the Event Grid and timer triggers: each imports its handler's module on its first call. The
Functions worker imports the app to index its functions at every cold start, and the route
modules bring pydantic, the models, the stores and the adapters (issue 22); a request pays for
its own route's module only.
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Callable
from typing import Any

import azure.durable_functions as df
import azure.functions as func

from convergio._history_times import install as _read_sdk_times_fast

from ._library import GraphFileError, load_graph_file, load_library
from ._routes import KEEPER_SCHEDULE, ROUTES, Route

__all__ = ["GraphFileError", "blueprint", "load_graph_file", "load_library"]

# Every status the durable client reads parses its two times; without dateutil (ADR 0069).
_read_sdk_times_fast()

blueprint = df.Blueprint()


@functools.cache
def _handler(module: str, name: str) -> Callable[..., Any]:
    """The route module's function ``name``, the module imported on the first ask."""
    found: Callable[..., Any] = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    return found


def _with_client(route: Route) -> Callable[..., Any]:
    async def trigger(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
        response: func.HttpResponse = await _handler(route.module, route.name)(req, client)
        return response

    if route.streams:  # what the worker sees: a StreamingResponse is not an HttpResponse
        trigger.__annotations__["return"] = "Any"
    with_client: Callable[..., Any] = blueprint.durable_client_input(client_name="client")(
        _named(trigger, route.name)
    )
    return with_client


def _plain(route: Route) -> Callable[..., Any]:
    def trigger(req: func.HttpRequest) -> func.HttpResponse:
        response: func.HttpResponse = _handler(route.module, route.name)(req)
        return response

    return _named(trigger, route.name)


def _named(trigger: Callable[..., Any], name: str) -> Callable[..., Any]:
    """Azure names a function after its Python function: the trigger takes the handler's name."""
    trigger.__name__ = trigger.__qualname__ = name
    return trigger


async def _hook_event(event: func.EventGridEvent, client: df.DurableOrchestrationClient) -> None:
    await _handler("_eventgrid", "hook_event")(event, client)


async def _retention_keeper(timer: func.TimerRequest, client: df.DurableOrchestrationClient) -> None:
    await _handler("_retention", "retention_keeper")(timer, client)


def _register() -> None:
    for route in ROUTES:
        trigger = _with_client(route) if route.client else _plain(route)
        level = func.AuthLevel[route.auth_level]
        blueprint.route(route=route.route, methods=list(route.methods), auth_level=level)(trigger)
    client = blueprint.durable_client_input(client_name="client")
    blueprint.event_grid_trigger(arg_name="event")(client(_named(_hook_event, "hook_event")))
    keeper = client(_named(_retention_keeper, "retention_keeper"))
    blueprint.timer_trigger(
        schedule=KEEPER_SCHEDULE, arg_name="timer", run_on_startup=False, use_monitor=False
    )(keeper)


_register()
