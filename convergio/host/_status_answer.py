"""The Durable API's status answer (``GET .../instances/{id}``), as the extension gives it.

``StatusResponsePayload``: the input, output and custom status as ``ParseToJToken`` shows the
stored text (JSON, else the raw text), times in whole seconds, ``historyEvents`` as
:mod:`._history_view`. 202 while live, 200 once finished (500 for a failure with
``returnInternalServerErrorOnFailure=true``), 404 with no body for an unknown instance.

``instance_status`` builds the answer as a dict; ``status_answer`` (the route's, ADR 0060) as
the JSON it sends, with the stored values spliced in as stored.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from ._engine import Engine
from ._events import status_time
from ._history_view import history_events
from ._payloads import json_token
from ._store import InstanceRecord

__all__ = ["LIVE", "flag", "instance_status", "status_answer", "status_json"]

LIVE = frozenset({"Pending", "Running", "Suspended"})


def flag(query: Mapping[str, str], name: str, default: bool) -> bool:
    """``bool.TryParse`` of a query value: ``true`` / ``false`` in any case, else ``default``."""
    value = (query.get(name) or "").strip().lower()
    return {"true": True, "false": False}.get(value, default)


def status_json(
    engine: Engine,
    record: InstanceRecord,
    *,
    show_input: bool = True,
    show_history: bool = False,
    show_history_output: bool = False,
) -> dict[str, Any]:
    """``StatusResponsePayload``: values as ``ParseToJToken`` shows them, whole-second times."""
    body: dict[str, Any] = {
        "name": record.name,
        "instanceId": record.instance_id,
        "runtimeStatus": record.status,
        "input": json_token(record.input) if show_input else None,
        "customStatus": json_token(record.custom_status),
        "output": json_token(record.output),
        "createdTime": status_time(record.created_at),
        "lastUpdatedTime": status_time(record.updated_at),
    }
    if show_history and record.status != "Pending":
        body["historyEvents"] = history_events(
            engine.store.history(record.instance_id), show_input=show_input, show_output=show_history_output
        )
    return body


def instance_status(
    engine: Engine, instance_id: str, query: Mapping[str, str]
) -> tuple[int, dict[str, Any] | None]:
    """The status route's code and body (None: no body) for one instance and the request's query.

    202 while live, 200 once finished (500 for a failure with
    ``returnInternalServerErrorOnFailure=true``), 404 unknown; the route answers it as JSON. The
    record is read without what the answer leaves out (``Store.status``): a watched run's status
    is read a few times a second, and its input (the graph) and shim are its large values.
    """
    show_input = flag(query, "showInput", True)
    record = engine.store.status(instance_id, with_input=show_input)
    if record is None:
        return 404, None
    body = status_json(
        engine,
        record,
        show_input=show_input,
        show_history=flag(query, "showHistory", False),
        show_history_output=flag(query, "showHistoryOutput", False),
    )
    return _status_code(record, query), body


def _status_code(record: InstanceRecord, query: Mapping[str, str]) -> int:
    if record.status in LIVE:
        return 202
    failed_500 = record.status == "Failed" and flag(query, "returnInternalServerErrorOnFailure", False)
    return 500 if failed_500 else 200


_ENCODE = json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode
"""Starlette's ``JSONResponse.render``, without building an encoder per call."""
_SPECIAL = ("NaN", "Infinity")


def status_answer(engine: Engine, instance_id: str, query: Mapping[str, str]) -> tuple[int, bytes | None]:
    """``instance_status`` as the route sends it: the code and the JSON body (None: no body).

    The input, custom status and output are stored as JSON text, and ``status_json`` decoded
    them only for the route to encode them again: a watched run's status is read a few times a
    second, its custom status a few KB, a finished run's output up to hundreds. Here a stored
    value that decodes is sent as stored (the same JSON value; the decode is its validation),
    one that does not as the text it is (``json_token``'s fallback), and one that holds ``NaN``
    or ``Infinity`` goes through ``json_token`` and the strict encoder, which refuses it as the
    route always did. A read with its history is built by ``status_json`` (rare: a failed or
    cancelled run's view).
    """
    show_input = flag(query, "showInput", True)
    if flag(query, "showHistory", False):
        code, body = instance_status(engine, instance_id, query)
        return code, None if body is None else _ENCODE(body).encode()
    record = engine.store.status(instance_id, with_input=show_input)
    if record is None:
        return 404, None
    head = _ENCODE({"name": record.name, "instanceId": record.instance_id, "runtimeStatus": record.status})
    tail = _ENCODE(
        {"createdTime": status_time(record.created_at), "lastUpdatedTime": status_time(record.updated_at)}
    )
    parts = (
        head[:-1],
        ',"input":',
        _as_json_text(record.input) if show_input else "null",
        ',"customStatus":',
        _as_json_text(record.custom_status),
        ',"output":',
        _as_json_text(record.output),
        ",",
        tail[1:],
    )
    return _status_code(record, query), "".join(parts).encode()


def _as_json_text(stored: str | None) -> str:
    """JSON text of ``json_token(stored)``: the stored text itself when it is JSON."""
    text = "" if stored is None else stored.strip()
    if not text or any(word in text for word in _SPECIAL):
        return _ENCODE(json_token(stored))
    try:
        json.loads(text)
    except (ValueError, RecursionError):
        return _ENCODE(text)  # not JSON: the raw text, as ``json_token`` answers it
    return text
