"""The ASGI surface of the embedded host: HTTP triggers, the Durable API, health.

Every request passes the ``Gate`` first (body size limit, keys for the host's own routes); an
HTTP trigger's declared auth level is checked once routing has found it, before its body is read.
The SDK's own calls reach the Durable API at ``rpcBaseUrl``, a path holding a per-process secret
that only the client bindings of this process ever carry (Azure uses a loopback-only listener).
"""

from __future__ import annotations

import json
import logging
import secrets
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import azure.functions as func
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from . import _durable_api, _entities, _eventgrid
from ._engine import Engine
from ._gate import Gate, Rule
from ._keys import DURABLE_KEY, EVENT_GRID_KEY, HostKeys, Level, presented_key

__all__ = ["build_asgi_app"]

log = logging.getLogger("convergio.host.http")


def _to_function_request(request: Request, body: bytes, route_params: dict[str, str]) -> func.HttpRequest:
    return func.HttpRequest(
        method=request.method,
        url=str(request.url),
        headers=dict(request.headers),
        params=dict(request.query_params),
        route_params=route_params,
        body=body,
    )


def _to_response(result: Any) -> Response:
    """Map what an HTTP function returned to a response, as the worker does.

    An ASGI response (a streamed one, say) passes through, as with the worker's HTTP streams.
    """
    if isinstance(result, Response):
        return result
    if isinstance(result, func.HttpResponse):
        headers = {k: v for k, v in result.headers.items() if k.lower() != "content-length"}
        media_type = headers.pop("Content-Type", None) or headers.pop("content-type", None)
        if media_type is None and result.mimetype:
            media_type = result.mimetype
            if result.charset and "charset" not in media_type:
                media_type += f"; charset={result.charset}"
        return Response(
            result.get_body(), status_code=result.status_code, headers=headers, media_type=media_type
        )
    if result is None:
        return Response(status_code=204)
    if isinstance(result, bytes | str):
        return Response(result, media_type="text/plain")
    return Response(json.dumps(result), media_type="application/json")


def build_asgi_app(
    engine: Engine,
    *,
    route_prefix: str,
    hub: str,
    base_url: Callable[[], str],
    keys: HostKeys,
    body_limit: int,
) -> Starlette:
    index = engine.index
    code = keys.system_keys[DURABLE_KEY]
    rpc = f"/runtime/rpc/{secrets.token_urlsafe(32)}/durabletask"

    def binding() -> str:
        return _durable_api.client_binding(base_url(), hub, code, f"{base_url()}{rpc}/")

    index.client_binding = binding
    prefix = f"/{route_prefix.strip('/')}" if route_prefix.strip("/") else ""

    def advertised(_: Request) -> str:
        return base_url()

    async def http_trigger(request: Request) -> Response:
        # The decoded path as the server read it: ``request.url`` goes through ``urlsplit``, which
        # drops tabs and newlines (bpo-43882), so ``/servers/%09`` would become ``/servers/``.
        path = str(request.scope["path"])[len(prefix) :].strip("/")
        found = index.route(path, request.method)
        if found is None:
            if allowed := index.allowed_methods(path):
                return JSONResponse(
                    {
                        "error": {
                            "code": "method_not_allowed",
                            "message": f"{request.method} is not allowed here",
                            "details": [],
                        }
                    },
                    status_code=405,
                    headers={"Allow": ", ".join(sorted(m.upper() for m in allowed if m != "*"))},
                )
            return JSONResponse(
                {"error": {"code": "not_found", "message": f"No function serves /{path}", "details": []}},
                status_code=404,
            )
        route, params = found
        key = presented_key(request.headers, request.query_params)
        if not keys.allows(key, _required(route.auth_level)):
            message = f"{route.name} is {route.auth_level} level: a valid key is required"
            return JSONResponse({"error": {"code": "unauthorized", "message": message}}, status_code=401)
        body = await request.body()  # only now, once the caller is known
        client = binding() if route.client_params else ""
        try:
            result = await index.call_http(route, _to_function_request(request, body, params), client)
        except Exception:
            log.exception("HTTP function %s failed", route.name)
            return JSONResponse(
                {"error": {"code": "internal_error", "message": "Internal Server Error"}}, status_code=500
            )
        return _to_response(result)

    async def host_status(_: Request) -> Response:
        return JSONResponse(
            {
                "state": "Running",
                "functions": sorted([*(r.name for r in index.http), *index.orchestrators, *index.activities]),
            }
        )

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        import asyncio

        index.loop = asyncio.get_running_loop()
        engine.start()
        try:
            yield
        finally:
            engine.stop()
            # The durable client keeps one aiohttp session per process for its calls back
            # to the Durable API; close it on this loop before the loop goes away.
            from azure.durable_functions.models.utils import http_utils

            await http_utils._close_session()

    async def ping(_: Request) -> Response:
        return Response(status_code=200)

    methods = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]
    routes = [
        Route("/admin/host/status", host_status, methods=["GET"]),
        Route("/admin/host/ping", ping, methods=["GET", "POST"]),
        *_durable_api.routes(engine, advertised, hub, code),
        *_durable_api.routes(engine, advertised, hub, code, base=rpc),
        *_entities.routes(_durable_api.PREFIX),  # 501 with the reason: entities are not run (ADR 0021)
        *_entities.routes(rpc),
        *_eventgrid.routes(index),
        Route(f"{prefix}/{{path:path}}" if prefix else "/{path:path}", http_trigger, methods=methods),
    ]
    rules = [
        Rule(_durable_api.PREFIX, Level.SYSTEM, DURABLE_KEY),
        Rule(_eventgrid.PATH, Level.SYSTEM, EVENT_GRID_KEY),
        Rule("/admin", Level.ADMIN, exempt=("/admin/host/ping",)),
    ]
    gate = Middleware(Gate, keys=keys, body_limit=body_limit, rules=rules)
    return Starlette(
        routes=routes, lifespan=lifespan, middleware=[gate], exception_handlers={RecursionError: _too_deep}
    )


async def _too_deep(_: Request, __: Exception) -> Response:
    """A body nested past the parser's depth (``[[[[...``) is the caller's error, never a 500."""
    message = "The request body is nested too deeply."
    return JSONResponse({"Message": message, "ExceptionMessage": message}, status_code=400)


def _required(declared: str) -> Level:
    """A trigger's declared level; an unknown one is treated as the default, function."""
    return Level(declared) if declared in {"anonymous", "function", "admin"} else Level.FUNCTION
