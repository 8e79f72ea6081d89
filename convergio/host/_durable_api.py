"""The Durable extension's HTTP API (``/runtime/webhooks/durabletask/...``).

This is what ``DurableOrchestrationClient`` talks to: its binding JSON points
``rpcBaseUrl`` here, so unmodified ``start_new``, ``get_status``,
``raise_event``, ``terminate``, ``purge_instance_history`` ... work locally.
Status codes and payload shapes follow the extension's documented API.

Payloads: the SDK posts inputs already serialised and then JSON-encodes them
again, so a JSON *string* body to start an orchestration is taken as the
serialised value itself; any other JSON body is serialised once. Event data is
different, as on Azure: the body's JSON value *is* the event, so the SDK's
``raise_event`` of a dict arrives as a string holding JSON (its second layer is
kept; azure-functions-durable-python issue 295), and a hand-posted object
arrives as the object.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ._engine import Conflict, Engine, Gone, NotFound
from ._events import EventType, format_time, parse_time
from ._store import TERMINAL, InstanceRecord

__all__ = ["PREFIX", "client_binding", "management_urls", "routes"]

PREFIX = "/runtime/webhooks/durabletask"
_STATUS_CODES = {"Completed": 200, "Failed": 400, "Terminated": 400}
_MAX_PAGE = 1000


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


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"Message": message, "ExceptionMessage": message}, status_code=status)


def _payload(token: Any) -> str | None:
    """A body's JSON token as the serialised value the SDK will ``df_loads``."""
    if token is None:
        return None
    return token if isinstance(token, str) else json.dumps(token)


async def _body_payload(request: Request) -> str | None:
    raw = await request.body()
    if not raw.strip():
        return None
    try:
        return _payload(json.loads(raw))
    except RecursionError:  # nested too deep to parse: a bad request, not a server error
        raise ValueError("The request body is nested too deeply.") from None


async def _event_data(request: Request) -> str | None:
    """An event's data, serialised: the body's JSON value as it is, a string included (see module doc)."""
    raw = await request.body()
    if not raw.strip():
        return None
    try:
        return json.dumps(json.loads(raw))
    except RecursionError:
        raise ValueError("The request body is nested too deeply.") from None


def _flag(request: Request, name: str, default: bool) -> bool:
    value = request.query_params.get(name)
    return default if value is None else value.lower() == "true"


def _loads(text: str | None) -> Any:
    if text is None:
        return None
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        return text


_SHOWN = {
    EventType.EXECUTION_STARTED,
    EventType.EXECUTION_COMPLETED,
    EventType.EXECUTION_TERMINATED,
    EventType.TASK_COMPLETED,
    EventType.TASK_FAILED,
    EventType.TIMER_CREATED,
    EventType.TIMER_FIRED,
    EventType.EVENT_RAISED,
    EventType.SUB_ORCHESTRATION_INSTANCE_COMPLETED,
    EventType.SUB_ORCHESTRATION_INSTANCE_FAILED,
    EventType.EXECUTION_SUSPENDED,
    EventType.EXECUTION_RESUMED,
}


def _history(events: list[dict[str, Any]], with_output: bool) -> list[dict[str, Any]]:
    """The condensed history the extension shows: completions carry their function name."""
    scheduled: dict[int, dict[str, Any]] = {}
    shown: list[dict[str, Any]] = []
    for event in events:
        kind = EventType(event["EventType"])
        if kind in (EventType.TASK_SCHEDULED, EventType.SUB_ORCHESTRATION_INSTANCE_CREATED):
            scheduled[event["EventId"]] = event
        if kind not in _SHOWN:
            continue
        item: dict[str, Any] = {
            "EventType": kind.name.title().replace("_", ""),
            "Timestamp": event["Timestamp"],
        }
        origin = scheduled.get(event.get("TaskScheduledId", -2))
        if origin is not None:
            item["FunctionName"] = origin.get("Name")
            item["ScheduledTime"] = origin["Timestamp"]
        for key in ("Name", "FireAt", "TimerId", "Reason", "OrchestrationStatus"):
            if event.get(key) is not None:
                item["FunctionName" if key == "Name" else key] = event[key]
        if with_output and event.get("Result") is not None:
            item["Result"] = _loads(event["Result"])
        if event.get("Details"):
            item["Details"] = event["Details"]
        shown.append(item)
    return shown


def status_json(
    engine: Engine,
    record: InstanceRecord,
    *,
    show_input: bool = True,
    show_history: bool = False,
    show_history_output: bool = False,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": record.name,
        "instanceId": record.instance_id,
        "runtimeStatus": record.status,
        "customStatus": _loads(record.custom_status),
        "output": _loads(record.output),
        "createdTime": record.created_at,
        "lastUpdatedTime": record.updated_at,
    }
    if show_input:
        body["input"] = _loads(record.input)
    if show_history:
        # "historyEvents" is the documented field; the Python SDK's status model reads "history".
        body["historyEvents"] = body["history"] = _history(
            engine.store.history(record.instance_id), show_history_output
        )
    return body


def routes(
    engine: Engine, base_url: Callable[[Request], str], hub: str, code: str = "", base: str = PREFIX
) -> list[Route]:
    """The API's routes under ``base``, bound to one engine.

    ``base_url`` gives the URL origin to advertise, ``code`` the system key its URLs carry.
    """

    def accepted(request: Request, instance_id: str) -> JSONResponse:
        urls = management_urls(base_url(request), hub, instance_id, code)
        return JSONResponse(urls, status_code=202, headers={"Location": urls["statusQueryGetUri"]})

    async def start(request: Request) -> Response:
        name = request.path_params["function_name"]
        try:
            payload = await _body_payload(request)
        except ValueError:
            return _error(400, "The request body must be JSON.")
        try:
            instance_id = engine.start_new(name, request.path_params.get("instance_id"), payload)
        except LookupError as exc:
            return _error(400, str(exc))
        except Conflict as exc:
            return _error(409, str(exc))
        return accepted(request, instance_id)

    async def get_status(request: Request) -> Response:
        record = engine.store.get(request.path_params["instance_id"])
        if record is None:
            return _error(404, "No instance with this ID was found.")
        body = status_json(
            engine,
            record,
            show_input=_flag(request, "showInput", True),
            show_history=_flag(request, "showHistory", False),
            show_history_output=_flag(request, "showHistoryOutput", False),
        )
        code = _STATUS_CODES.get(record.status, 202)
        if record.status == "Failed" and _flag(request, "returnInternalServerErrorOnFailure", False):
            code = 500
        return JSONResponse(body, status_code=code)

    def _filters(request: Request) -> dict[str, Any]:
        q = request.query_params
        statuses = [s for s in (q.get("runtimeStatus") or "").split(",") if s]
        return {
            "statuses": statuses,
            "created_from": _normal_time(q.get("createdTimeFrom")),
            "created_to": _normal_time(q.get("createdTimeTo")),
            "prefix": q.get("instanceIdPrefix"),
        }

    async def list_instances(request: Request) -> Response:
        try:
            top = min(int(request.query_params.get("top", _MAX_PAGE)), _MAX_PAGE)
            offset = int(request.headers.get("x-ms-continuation-token") or 0)
            filters = _filters(request)
        except ValueError:
            return _error(400, "top, createdTimeFrom/To and the continuation token must be valid.")
        records = engine.store.query(**filters, limit=top + 1, offset=offset)
        show_input = _flag(request, "showInput", True)
        headers = {"x-ms-continuation-token": str(offset + top)} if len(records) > top else {}
        return JSONResponse(
            [status_json(engine, r, show_input=show_input) for r in records[:top]], headers=headers
        )

    async def purge_one(request: Request) -> Response:
        instance_id = request.path_params["instance_id"]
        record = engine.store.get(instance_id)
        if record is None or record.status not in TERMINAL:
            return _error(404, f"No completed, failed or terminated instance '{instance_id}'.")
        return JSONResponse({"instancesDeleted": engine.purge([instance_id])})

    async def purge_many(request: Request) -> Response:
        try:
            filters = _filters(request)
        except ValueError:
            return _error(400, "createdTimeFrom/To must be ISO 8601 times.")
        if not filters["statuses"]:
            filters["statuses"] = sorted(TERMINAL)
        records = engine.store.query(**filters, limit=1_000_000)
        deleted = engine.purge([r.instance_id for r in records])
        if not deleted:
            return _error(404, "No matching instances to purge.")
        return JSONResponse({"instancesDeleted": deleted})

    def operation(action: Callable[[str, Any], None], reads_body: bool) -> Callable[..., Any]:
        async def endpoint(request: Request) -> Response:
            instance_id = request.path_params["instance_id"]
            try:
                argument = await _event_data(request) if reads_body else request.query_params.get("reason")
            except ValueError:
                return _error(400, "Only application/json request content is supported")
            try:
                action(instance_id, argument)
            except NotFound as exc:
                return _error(404, str(exc))
            except Gone as exc:
                return _error(410, str(exc))
            return Response(status_code=202)

        return endpoint

    async def raise_event(request: Request) -> Response:
        event = request.path_params["event_name"]
        handler = operation(lambda i, data: engine.raise_event(i, event, data), reads_body=True)
        return await handler(request)  # type: ignore[no-any-return]

    async def restart(request: Request) -> Response:
        record = engine.store.get(request.path_params["instance_id"])
        if record is None:
            return _error(404, "No instance with this ID was found.")
        if record.status not in TERMINAL:
            return _error(410, "Only completed, failed or terminated instances can be restarted.")
        new_id = None if _flag(request, "restartWithNewInstanceId", True) else record.instance_id
        return accepted(request, engine.start_new(record.name, new_id, record.input))

    async def rewind(request: Request) -> Response:
        return _error(501, "Rewind is not supported by the embedded host.")

    return [
        Route(f"{base}/orchestrators/{{function_name}}", start, methods=["POST"]),
        Route(f"{base}/orchestrators/{{function_name}}/{{instance_id}}", start, methods=["POST"]),
        Route(f"{base}/instances", list_instances, methods=["GET"]),
        Route(f"{base}/instances/", list_instances, methods=["GET"]),
        Route(f"{base}/instances", purge_many, methods=["DELETE"]),
        Route(f"{base}/instances/", purge_many, methods=["DELETE"]),
        Route(f"{base}/instances/{{instance_id}}", get_status, methods=["GET"]),
        Route(f"{base}/instances/{{instance_id}}", purge_one, methods=["DELETE"]),
        Route(f"{base}/instances/{{instance_id}}/raiseEvent/{{event_name}}", raise_event, methods=["POST"]),
        Route(
            f"{base}/instances/{{instance_id}}/terminate",
            operation(engine.terminate, False),
            methods=["POST"],
        ),
        Route(
            f"{base}/instances/{{instance_id}}/suspend", operation(engine.suspend, False), methods=["POST"]
        ),
        Route(f"{base}/instances/{{instance_id}}/resume", operation(engine.resume, False), methods=["POST"]),
        Route(f"{base}/instances/{{instance_id}}/restart", restart, methods=["POST"]),
        Route(f"{base}/instances/{{instance_id}}/rewind", rewind, methods=["POST"]),
    ]


def _normal_time(value: str | None) -> str | None:
    """Query times in any ISO form, normalised to the stored format (so they compare)."""
    if not value:
        return None
    return format_time(parse_time(value).astimezone(UTC))
