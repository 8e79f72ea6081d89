"""The Durable extension's HTTP API (``/runtime/webhooks/durabletask/...``).

This is what ``DurableOrchestrationClient`` talks to: its binding JSON points ``rpcBaseUrl``
here, so unmodified ``start_new``, ``get_status``, ``raise_event``, ``terminate``,
``purge_instance_history`` ... work locally. Status codes, headers and bodies follow the
extension's ``HttpApiHandler`` and ``DurableClient`` (azure-functions-durable-extension), read
from its source:

* start and restart: 202, ``Location`` (the status URL) and ``Retry-After: 10``; the body holds
  the management URLs without ``rewindPostUri`` (``CreateCheckStatusResponse``). Bad JSON 400;
  an unknown orchestrator or a bad instance ID 400 with the reason in ``ExceptionMessage``.
* status: 202 while Pending, Running or Suspended, with ``Location`` (the request URL) and
  ``Retry-After: 5``; 200 once Completed, Failed or Terminated (Failed is 500 with
  ``returnInternalServerErrorOnFailure=true``); 404 with no body. Times in whole seconds;
  ``showInput=false`` gives ``"input": null``; ``historyEvents`` as :mod:`._history_view`.
* raise event, terminate, suspend, resume: 404 unknown, 410 once finished, 202 accepted; a
  suspend of a suspended instance or a resume of one not suspended is 500, as the extension's
  ``InvalidOperationException`` is (Microsoft's Python e2e tests expect exactly that).
* purge one: 404 unknown, 412 while it runs (the current extension refuses a live instance;
  its e2e tests expect ``PreconditionFailed``), else 200 ``{"instancesDeleted": 1}``. Purge by
  filter: ``createdTimeFrom`` is required (400), ``createdTimeTo`` defaults to now,
  ``runtimeStatus`` filters; 404 when nothing matched.
* rewind: 404 unknown, 412 unless Failed (the current extension's e2e expectations), 202 for a
  failed instance: its failed activities run again (:mod:`._rewind`; 501 for the histories it
  cannot rewind yet, saying why).
* restart: 400 for an unknown ID (the extension's ``ArgumentException``), a new instance with a
  new ID by default (``restartWithNewInstanceId=false`` reuses it: 409 while it still runs).

Payload semantics (what the orchestrator and the status show for a given body) are in
:mod:`._payloads`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ._engine import Conflict, Engine, Gone, NotFound
from ._events import format_time, parse_time, utcnow
from ._payloads import (
    InvalidJson,
    TrailingContent,
    instance_id_error,
    is_json_media,
    read_json,
    serialise,
    stored_start_value,
)
from ._rewind import NotFailed, RewindRefused
from ._rewind import rewind as rewind_instance
from ._status_answer import LIVE as _LIVE
from ._status_answer import flag as _flag
from ._status_answer import instance_status, status_answer, status_json
from ._store import TERMINAL, InstanceRecord

__all__ = [
    "PREFIX",
    "client_binding",
    "instance_status",
    "management_urls",
    "routes",
    "status_answer",
    "status_json",
]

PREFIX = "/runtime/webhooks/durabletask"
_STATUSES = frozenset({*TERMINAL, *_LIVE, "ContinuedAsNew", "Canceled"})
_PAGE = 100  # OrchestrationStatusQueryCondition.PageSize
_ARGUMENTS = "One or more of the arguments submitted is incorrect"
_WENT_WRONG = "Something went wrong while processing your request"
_CHECK_STATUS = (
    "id",
    "statusQueryGetUri",
    "sendEventPostUri",
    "terminatePostUri",
    "purgeHistoryDeleteUri",
    "restartPostUri",
    "suspendPostUri",
    "resumePostUri",
)


def _query(hub: str, code: str) -> str:
    """The query every management URL carries; ``code`` is the extension's system key."""
    return f"taskHub={hub}&connection=Storage" + (f"&code={code}" if code else "")


def management_urls(base_url: str, hub: str, instance_id: str, code: str = "") -> dict[str, str]:
    root, q = f"{base_url}{PREFIX}/instances/{instance_id}", _query(hub, code)
    return {
        "id": instance_id,
        "statusQueryGetUri": f"{root}?{q}",
        "sendEventPostUri": f"{root}/raiseEvent/{{eventName}}?{q}",
        "terminatePostUri": f"{root}/terminate?reason={{text}}&{q}",
        "rewindPostUri": f"{root}/rewind?reason={{text}}&{q}",
        "purgeHistoryDeleteUri": f"{root}?{q}",
        "restartPostUri": f"{root}/restart?{q}",
        "suspendPostUri": f"{root}/suspend?reason={{text}}&{q}",
        "resumePostUri": f"{root}/resume?reason={{text}}&{q}",
    }


def client_binding(base_url: str, hub: str, code: str = "", rpc_base_url: str = "") -> str:
    """The JSON the extension passes to a ``durable_client_input`` parameter.

    As on Azure, the URLs handed to callers carry the system key (``code=``) and the SDK's own
    calls go to ``rpcBaseUrl``, a separate endpoint that is not published (here: a path holding
    a per-process secret, where Azure uses a loopback-only listener).
    """
    return json.dumps(
        {
            "taskHubName": hub,
            "creationUrls": {
                "createNewInstancePostUri": f"{base_url}{PREFIX}/orchestrators/{{functionName}}"
                f"[/{{instanceId}}]?{_query(hub, code)}",
            },
            "managementUrls": management_urls(base_url, hub, "INSTANCEID", code),
            "rpcBaseUrl": rpc_base_url or f"{base_url}{PREFIX}/",
            "requiredQueryStringParameters": f"code={code}" if code else _query(hub, code),
        }
    )


def _error(status: int, message: str, exception_message: str | None = None) -> JSONResponse:
    """``CreateErrorResponse``: an ``HttpError`` body, the exception's message when there is one."""
    body = {"Message": message} | ({"ExceptionMessage": exception_message} if exception_message else {})
    return JSONResponse(body, status_code=status)


def _bool(request: Request, name: str, default: bool) -> bool:
    """``bool.TryParse`` of a query value: ``true`` / ``false`` in any case, else the default."""
    return _flag(request.query_params, name, default)


def _time(value: str | None) -> str | None:
    """A query time in the stored format (so it compares), or None: ``DateTime.TryParse`` failing
    leaves the filter out, as the extension does."""
    if not value:
        return None
    try:
        return format_time(parse_time(value).astimezone(UTC))
    except ValueError:
        return None


def _statuses(request: Request) -> list[str]:
    """``runtimeStatus``: comma-separated names; unknown ones are ignored, as ``Enum.TryParse`` does."""
    given = ",".join(request.query_params.getlist("runtimeStatus"))
    return [s for s in given.split(",") if s in _STATUSES]


def routes(
    engine: Engine, base_url: Callable[[Request], str], hub: str, code: str = "", base: str = PREFIX
) -> list[Route]:
    """The API's routes under ``base``, bound to one engine.

    ``base_url`` gives the URL origin to advertise, ``code`` the system key its URLs carry.
    """

    def check_status(request: Request, instance_id: str) -> JSONResponse:
        urls = management_urls(base_url(request), hub, instance_id, code)
        headers = {"Location": urls["statusQueryGetUri"], "Retry-After": "10"}
        return JSONResponse({k: urls[k] for k in _CHECK_STATUS}, status_code=202, headers=headers)

    async def start(request: Request) -> Response:
        name = request.path_params["function_name"]
        instance_id = request.path_params.get("instance_id") or None
        raw = await request.body()
        value = None
        if raw.strip():
            try:
                value = read_json(raw, allow_trailing=False)
            except InvalidJson as exc:
                return _error(400, "Invalid JSON content", str(exc))
            except TrailingContent as exc:
                return _error(500, _WENT_WRONG, str(exc))
        if instance_id is not None and (why := instance_id_error(instance_id)):
            return _error(400, _ARGUMENTS, why)
        stored = None if value is None else stored_start_value(raw, value)
        try:
            instance_id = engine.start_new(name, instance_id, stored, request.query_params.get("version"))
        except LookupError as exc:
            return _error(400, _ARGUMENTS, str(exc))
        except Conflict as exc:
            return _error(409, str(exc), str(exc))
        return check_status(request, instance_id)

    async def get_status(request: Request) -> Response:
        code, body = status_answer(engine, request.path_params["instance_id"], request.query_params)
        if body is None:
            return Response(status_code=code)
        headers = {"Location": str(request.url), "Retry-After": "5"} if code == 202 else None
        return Response(body, status_code=code, headers=headers, media_type="application/json")

    async def list_instances(request: Request) -> Response:
        q = request.query_params
        try:
            top = int(q.get("top") or _PAGE)
        except ValueError:
            top = _PAGE
        top = top if top > 0 else _PAGE
        try:
            offset = int(request.headers.get("x-ms-continuation-token") or 0)
        except ValueError:
            return _error(400, _ARGUMENTS, "The continuation token is not one this host gave.")
        show_input = _bool(request, "showInput", True)
        records = engine.store.query(
            statuses=_statuses(request),
            created_from=_time(q.get("createdTimeFrom")),
            created_to=_time(q.get("createdTimeTo")),
            prefix=q.get("instanceIdPrefix"),
            limit=top + 1,
            offset=offset,
            values="shown" if show_input else "shown_without_input",
        )
        headers = {"x-ms-continuation-token": str(offset + top)} if len(records) > top else {}
        body = [status_json(engine, r, show_input=show_input) for r in records[:top]]
        return JSONResponse(body, headers=headers)

    async def purge_one(request: Request) -> Response:
        instance_id = request.path_params["instance_id"]
        record = engine.store.get(instance_id, header=True)
        if record is None:
            return Response(status_code=404)
        if record.status not in TERMINAL:
            return _error(412, f"Instance '{instance_id}' is {record.status}: only finished instances purge.")
        return JSONResponse({"instancesDeleted": engine.purge([instance_id])})

    async def purge_many(request: Request) -> Response:
        q = request.query_params
        created_from = _time(q.get("createdTimeFrom"))
        if created_from is None:
            return JSONResponse("Please provide value for 'createdTimeFrom' parameter.", status_code=400)
        created_to = _time(q.get("createdTimeTo")) or format_time(utcnow())
        # Live instances are never purged (their history is still being written): a filter
        # naming only live statuses purges nothing.
        asked = _statuses(request)
        statuses = [s for s in asked if s in TERMINAL] if asked else sorted(TERMINAL)
        records = (
            engine.store.query(
                statuses=statuses,
                created_from=created_from,
                created_to=created_to,
                limit=10**9,
                values="none",
            )
            if statuses
            else []
        )
        deleted = engine.purge([r.instance_id for r in records])
        if not deleted:
            return Response(status_code=404)
        return JSONResponse({"instancesDeleted": deleted})

    return [
        Route(f"{base}/orchestrators/{{function_name}}", start, methods=["POST"]),
        Route(f"{base}/orchestrators/{{function_name}}/{{instance_id}}", start, methods=["POST"]),
        Route(f"{base}/instances", list_instances, methods=["GET"]),
        Route(f"{base}/instances/", list_instances, methods=["GET"]),
        Route(f"{base}/instances", purge_many, methods=["DELETE"]),
        Route(f"{base}/instances/", purge_many, methods=["DELETE"]),
        Route(f"{base}/instances/{{instance_id}}", get_status, methods=["GET"]),
        Route(f"{base}/instances/{{instance_id}}", purge_one, methods=["DELETE"]),
        *_operation_routes(engine, base, check_status),
    ]


def _operation_routes(
    engine: Engine, base: str, check_status: Callable[[Request, str], JSONResponse]
) -> list[Route]:
    """POSTs on one instance: raise an event, terminate, suspend, resume, rewind, restart."""

    def known(request: Request) -> tuple[str, InstanceRecord | None]:
        instance_id = request.path_params["instance_id"]
        return instance_id, engine.store.get(instance_id, header=True)

    async def raise_event(request: Request) -> Response:
        instance_id, record = known(request)
        if record is None:
            return Response(status_code=404)
        if record.status in TERMINAL:
            return Response(status_code=410)
        if not is_json_media(request.headers.get("content-type")):
            return _error(400, "Only application/json request content is supported")
        try:
            data = read_json(await request.body(), allow_trailing=True)
        except InvalidJson as exc:
            return _error(400, "Invalid JSON content", str(exc))
        try:
            engine.raise_event(instance_id, request.path_params["event_name"], serialise(data))
        except NotFound:
            return Response(status_code=404)
        except Gone:
            return Response(status_code=410)
        return Response(status_code=202)

    def state_change(action: str, allowed: frozenset[str]) -> Callable[[Request], Any]:
        async def endpoint(request: Request) -> Response:
            instance_id, record = known(request)
            if record is None:
                return Response(status_code=404)
            if record.status in TERMINAL:
                return Response(status_code=410)
            if record.status not in allowed:
                return _error(
                    500,
                    _WENT_WRONG,
                    f"Cannot {action} the orchestration instance {instance_id} because instance is "
                    f"in the {record.status} state.",
                )
            try:
                getattr(engine, action)(instance_id, request.query_params.get("reason"))
            except NotFound:  # purged meanwhile
                return Response(status_code=404)
            except Gone:  # finished meanwhile
                return Response(status_code=410)
            return Response(status_code=202)

        return endpoint

    async def rewind(request: Request) -> Response:
        instance_id, record = known(request)
        if record is None:
            return Response(status_code=404)
        if record.status != "Failed":
            return _error(412, "The rewind operation is only supported on failed orchestration instances.")
        try:
            await run_in_threadpool(rewind_instance, engine, instance_id, request.query_params.get("reason"))
        except NotFailed as exc:  # rewound (or purged) meanwhile
            return _error(412, str(exc))
        except RewindRefused as exc:
            return _error(501, f"The embedded host cannot rewind '{instance_id}'.", str(exc))
        return Response(status_code=202)

    async def restart(request: Request) -> Response:
        instance_id, _ = known(request)
        record = engine.store.get(instance_id)
        if record is None:
            return _error(
                400,
                "InstanceId does not match a valid orchestration instance.",
                f"An orchestrastion with the instanceId {instance_id} was not found.",  # sic, as Azure
            )
        new_id = None if _bool(request, "restartWithNewInstanceId", True) else record.instance_id
        try:
            started = engine.start_new(record.name, new_id, record.input)
        except LookupError as exc:
            return _error(400, _ARGUMENTS, str(exc))
        except Conflict as exc:
            return _error(409, str(exc), str(exc))
        return check_status(request, started)

    instance = f"{base}/instances/{{instance_id}}"
    return [
        Route(f"{instance}/raiseEvent/{{event_name}}", raise_event, methods=["POST"]),
        Route(f"{instance}/terminate", state_change("terminate", _LIVE), methods=["POST"]),
        Route(f"{instance}/suspend", state_change("suspend", _LIVE - {"Suspended"}), methods=["POST"]),
        Route(f"{instance}/resume", state_change("resume", frozenset({"Suspended"})), methods=["POST"]),
        Route(f"{instance}/restart", restart, methods=["POST"]),
        Route(f"{instance}/rewind", rewind, methods=["POST"]),
    ]
