r"""The Azure Event Grid trigger: a second inbound path to hooks, for CloudEvents.

An event names its hook in ``subject`` (``hooks/<hook_id>``, or ``hooks/<hook_id>/runs/<run_id>``
for a hook that raises an event into a waiting run); ``data`` becomes the run input (or the
event payload).

Who may start a tenant's run this way: the host's ``eventgrid_extension`` system key on the
webhook URL proves the delivery comes from a subscription the operator created, but not which
tenant published the event: anyone allowed to publish to that topic picks the subject, and hook
ids travel in URLs. So, as on the HTTP path, the hook's signature is the credential: the event
carries two CloudEvents extension attributes, ``convergiotime`` (unix seconds) and
``convergiosignature`` (``sha256=`` HMAC-SHA256 with the hook's secret over
``v2:{convergiotime}.{delivery_id}\n{canonical}``, the scheme of ``convergio.webhooks``, where
``delivery_id`` is ``delivery_id(source, id)`` and ``canonical`` is the JSON of
``{"data", "id", "source", "subject"}`` with sorted keys and no whitespace; ``sign_cloud_event``
makes them). Events without a valid signature (Event Grid schema events carry none) start
nothing. ``source`` + ``id`` identify an event uniquely, are signed, and are the delivery id, so
Event Grid's at-least-once redelivery (for up to 24 h) starts nothing new, and a captured event
replays only as itself. An event that can never succeed (unknown hook, bad signature, rejected
input) is logged and dropped; any other failure raises, and Event Grid retries.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import time
from typing import Any

import azure.durable_functions as df
import azure.functions as func

from convergio.errors import AppError
from convergio.webhooks import (
    DELIVERY_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    SignatureError,
    sign,
    verify,
)

from ._hooks import deliver_to_hook
from ._service import service

__all__ = ["SIGNATURE_ATTR", "TIME_ATTR", "sign_cloud_event"]

_log = logging.getLogger("convergio.api")
_SUBJECT = re.compile(r"^/?hooks/(?P<hook>[0-9a-f]{32})(?:/runs/(?P<run>[A-Za-z0-9_.:-]{1,200}))?$")
TIME_ATTR = "convergiotime"
SIGNATURE_ATTR = "convergiosignature"
_REDELIVERY_S = 24 * 3600  # Event Grid retries an event for up to a day (its maximum time-to-live)


def delivery_id(source: str, event_id: str) -> str:
    """A bounded, stable delivery id for a CloudEvent (``source`` + ``id`` are unique together)."""
    return "eg-" + hashlib.sha256(f"{source}\n{event_id}".encode()).hexdigest()[:40]


def _canonical(event_id: str, source: str, subject: str, data: Any) -> bytes:
    fields = {"data": data, "id": event_id, "source": source, "subject": subject}
    return json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def sign_cloud_event(secret: str, event: dict[str, Any], timestamp: int | None = None) -> dict[str, Any]:
    """``event`` (a structured-mode CloudEvent) with the hook signature attributes added."""
    at = int(time.time()) if timestamp is None else timestamp
    body = _canonical(
        str(event["id"]), str(event["source"]), str(event.get("subject", "")), event.get("data")
    )
    delivery = delivery_id(str(event["source"]), str(event["id"]))
    return {**event, TIME_ATTR: str(at), SIGNATURE_ATTR: sign(secret, at, delivery, body)}


def _check_signature(secret: str, event: Any, delivery: str, tolerance_s: int) -> None:
    """Raise ``SignatureError`` unless the event carries the hook's signature over what matters."""
    extensions = getattr(event, "extension_attrs", None) or {}
    body = _canonical(str(event.id), str(event.source), str(event.subject or ""), event.get_json())
    headers = {
        TIMESTAMP_HEADER: str(extensions.get(TIME_ATTR, "")),
        SIGNATURE_HEADER: str(extensions.get(SIGNATURE_ATTR, "")),
        DELIVERY_HEADER: delivery,
    }
    verify(secret, headers, body, now=time.time(), tolerance_s=tolerance_s + _REDELIVERY_S)


async def hook_event(event: func.EventGridEvent, client: df.DurableOrchestrationClient) -> None:
    """Start a run (or raise an event) for the hook named in a signed CloudEvent's subject."""
    svc = service()
    found = _SUBJECT.match(str(getattr(event, "subject", None) or ""))
    hook = svc.webhooks.hook(found["hook"]) if found else None
    if found is None or hook is None:
        _log.warning("event grid: event %s names no hook; dropped", str(event.id)[:50])
        return
    if (hook.event is None) != (found["run"] is None):
        _log.warning("event grid: event %s does not fit hook %s; dropped", str(event.id)[:50], hook.id)
        return
    source = getattr(event, "source", None)
    if not source:  # an Event Grid schema event: it cannot carry the hook's signature
        _log.warning("event grid: event %s is not a CloudEvent; dropped", str(event.id)[:50])
        return
    delivery = delivery_id(str(source), str(event.id))
    try:
        _check_signature(
            svc.webhooks.hook_secret(hook).reveal(), event, delivery, svc.settings.webhook_tolerance_s
        )
    except SignatureError as exc:
        _log.warning(
            "event grid: event %s for hook %s refused (%s); dropped", str(event.id)[:50], hook.id, exc.code
        )
        return
    try:
        run_id, fresh = await deliver_to_hook(
            svc, client, hook, delivery, event.get_json(), run_id=found["run"] or ""
        )
    except AppError as exc:  # the request itself is wrong: retrying cannot help
        _log.warning("event grid: event %s refused (%s); dropped", str(event.id)[:50], exc.code)
        return
    _log.info("event grid: event %s -> run %s (%s)", str(event.id)[:50], run_id, "new" if fresh else "replay")
