"""Shared plumbing of the ``/api/v1`` routes: JSON answers, body parsing, auth.

Every handler follows the same path: tenant from the request headers, body
through a pydantic model, then the domain call. Errors leave through one place
(``answer``) as ``{"error": {...}}``; an unknown error is a logged, opaque 500.
Bodies are untrusted: declared as JSON (or undeclared), at most ``MAX_BODY_BYTES``
and ``MAX_DEPTH`` levels deep, or a coded 4xx whose details name ``body``.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any, ParamSpec, TypeVar

import azure.durable_functions as df
import azure.functions as func
from pydantic import BaseModel, ValidationError

from convergio import _json as bounded_json
from convergio.errors import (
    AppError,
    Forbidden,
    InvalidRequest,
    NotFound,
    PayloadTooLarge,
    Unauthorized,
    UnsupportedMediaType,
)
from convergio.graph import path_of
from convergio.retention import ensure_once
from convergio.tenants import Caller, Permission, RunRecord, Tenant

from ._service import Service

__all__ = [
    "CHALLENGE",
    "MAX_BODY_BYTES",
    "answer",
    "check_json_body",
    "base_url",
    "caller_of",
    "int_param",
    "json_response",
    "off_loop",
    "owned_record",
    "owned_run",
    "read_body",
    "run_for",
    "tenant_of",
]

MAX_BODY_BYTES = 1 << 20
CHALLENGE = {"WWW-Authenticate": 'ApiKey header="x-api-key"'}
"""Sent with every 401 (RFC 9110): how to authenticate."""
_log = logging.getLogger("convergio.api")
Handler = Callable[[func.HttpRequest, df.DurableOrchestrationClient], Awaitable[func.HttpResponse]]
_P = ParamSpec("_P")
_T = TypeVar("_T")


async def off_loop(call: Callable[_P, _T], /, *args: _P.args, **kwargs: _P.kwargs) -> _T:
    """``call(*args, **kwargs)`` in a worker thread: the one way handlers do blocking store work.

    Handlers are coroutines on the host's one event loop (the embedded host's and the Functions
    Python worker's alike); a store or ledger call made there (a SQLite commit, a Cosmos DB round
    trip) holds every other request, and the durable client's calls to the host, until it
    returns. Context variables (the request's telemetry span) go along with the call.
    """
    return await asyncio.to_thread(call, *args, **kwargs)


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> func.HttpResponse:
    text = body.model_dump_json() if isinstance(body, BaseModel) else json.dumps(body)
    return func.HttpResponse(text, status_code=status, mimetype="application/json", headers=headers)


def answer(handler: Callable[..., Awaitable[func.HttpResponse]]) -> Handler:
    """Turn errors into JSON answers; unknown ones become a logged, opaque 500."""

    @functools.wraps(handler)
    async def wrapper(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
        await ensure_once(client)  # the retention singleton, on this process's first request (ADR 0018)
        try:
            return await handler(req, client)
        except AppError as exc:
            headers = CHALLENGE if isinstance(exc, Unauthorized) else None
            return json_response(exc.body(), exc.status_code, headers=headers)
        except Exception:
            _log.error("unhandled error in %s", handler.__name__, exc_info=True)
            error = {"code": "internal", "message": "Internal Server Error", "details": []}
            return json_response({"error": error}, 500)

    return wrapper


def _body_error(error: type[AppError], message: str) -> AppError:
    return error(message, details=[{"path": "body", "message": message}])


def check_json_body(req: func.HttpRequest) -> bytes:
    """The raw body, if it is declared as JSON (or not declared) and within the size limit.

    Raises:
        UnsupportedMediaType: a body sent as something else (``text/plain``, a form...).
        PayloadTooLarge: over ``MAX_BODY_BYTES``.
    """
    body = req.get_body() or b""
    if len(body) > MAX_BODY_BYTES:
        raise _body_error(PayloadTooLarge, f"body is {len(body)} bytes; the limit is {MAX_BODY_BYTES}")
    media = (req.headers.get("content-type") or "").split(";", 1)[0].strip().lower()
    if body.strip() and media and media != "application/json" and not media.endswith("+json"):
        raise _body_error(UnsupportedMediaType, f"body must be sent as application/json, not {media[:100]}")
    return body


def read_body(req: func.HttpRequest, model: type[BaseModel] | None = None) -> Any:
    """The JSON body, through ``model`` when given (then it must be an object).

    Raises:
        InvalidRequest: not JSON, too deeply nested, or not what ``model`` takes (details name fields).
        UnsupportedMediaType, PayloadTooLarge: see ``check_json_body``.
    """
    body = check_json_body(req)
    try:
        data = bounded_json.loads(body) if body.strip() else None
    except bounded_json.TooDeep as exc:
        raise _body_error(InvalidRequest, f"body {exc}") from None
    except ValueError as exc:  # UnicodeDecodeError too
        raise _body_error(InvalidRequest, f"body is not valid JSON: {exc}") from None
    if model is None:
        return data
    if not isinstance(data, dict):
        raise _body_error(InvalidRequest, "body must be a JSON object")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        details = [{"path": path_of(e["loc"]) or "body", "message": e["msg"]} for e in exc.errors()]
        raise InvalidRequest(f"{details[0]['path']}: {details[0]['message']}", details=details) from None


def caller_of(req: func.HttpRequest, svc: Service, need: Permission) -> Caller:
    """Who calls, if their role grants ``need``.

    Raises:
        Unauthorized: no credential, or an unknown or revoked one (401).
        Forbidden: the role does not grant ``need`` (403, naming the role and what it may not do).
    """
    caller = svc.authenticate(dict(req.headers))
    if not caller.may(need):
        message = f"the {caller.role.value} role may not {need.value}"
        raise Forbidden(message, details=[{"path": "role", "message": message}])
    return caller


def tenant_of(req: func.HttpRequest, svc: Service, need: Permission) -> Tenant:
    """The calling tenant, if the caller's role grants ``need`` (see :func:`caller_of`)."""
    return caller_of(req, svc, need).tenant


def owned_run(req: func.HttpRequest, svc: Service, caller: Caller | Tenant) -> str:
    """The run id of the route, if the caller may see that run (else 404, as for an unknown id).

    A caller whose role reads only their own runs (a student) sees only runs they started.
    """
    return owned_record(req, svc, caller).run_id


def owned_record(req: func.HttpRequest, svc: Service, caller: Caller | Tenant) -> RunRecord:
    """The route's run's index entry, if the caller may see that run (see :func:`owned_run`).

    Routes that need the entry anyway (the run view) take it from here: one index read, which
    on Cosmos DB is a round trip.
    """
    run_id = str(req.route_params.get("id", ""))
    tenant = caller.tenant if isinstance(caller, Caller) else caller
    record = svc.store.run(run_id)
    if record is None or record.tenant_id != tenant.id:
        raise NotFound(f"no run {run_id!r}")
    own_only = isinstance(caller, Caller) and not caller.may(Permission.READ_RUNS)
    if own_only and getattr(record, "started_by", "") != getattr(caller, "subject", None):
        raise NotFound(f"no run {run_id!r}")
    return record


def run_for(req: func.HttpRequest, svc: Service, need: Permission) -> RunRecord:
    """The route's run's index entry, if the caller's role grants ``need`` and they may see the run.

    Blocking (a key lookup, an index read): handlers call it through :func:`off_loop`.
    """
    return owned_record(req, svc, caller_of(req, svc, need))


def base_url(req: func.HttpRequest) -> str:
    scheme, _, rest = req.url.partition("://")
    return f"{scheme}://{rest.split('/', 1)[0]}/api/v1"


def int_param(req: func.HttpRequest, name: str, default: int, low: int, high: int) -> int:
    raw = req.params.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise InvalidRequest(f"{name}: must be an integer") from None
    if not low <= value <= high:
        raise InvalidRequest(f"{name}: must be between {low} and {high}")
    return value
