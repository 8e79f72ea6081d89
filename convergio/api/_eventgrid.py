"""The Azure Event Grid trigger: a second inbound path to hooks, for CloudEvents.

An event names its hook in ``subject`` (``hooks/<hook_id>``, or ``hooks/<hook_id>/runs/<run_id>``
for a hook that raises an event into a waiting run); ``data`` becomes the run input (or the
event payload). Event Grid authenticates the publisher (topic access) and the delivery (the
Functions system key), so there is no HMAC here; the hook id is the capability. CloudEvents
``source`` + ``id`` identify an event uniquely, so they are the delivery id and the same
dedupe as signed HTTP deliveries applies: Event Grid's at-least-once redelivery starts nothing
new. An event that can never succeed (unknown hook, rejected input) is logged and dropped; any
other failure raises, and Event Grid retries.
"""

from __future__ import annotations

import hashlib
import logging
import re

import azure.durable_functions as df
import azure.functions as func

from convergio.errors import AppError

from ._hooks import deliver_to_hook
from ._http import blueprint
from ._service import service

__all__: list[str] = []

_log = logging.getLogger("convergio.api")
_SUBJECT = re.compile(r"^/?hooks/(?P<hook>[0-9a-f]{32})(?:/runs/(?P<run>[A-Za-z0-9_.:-]{1,200}))?$")


def delivery_id(source: str, event_id: str) -> str:
    """A bounded, stable delivery id for a CloudEvent (``source`` + ``id`` are unique together)."""
    return "eg-" + hashlib.sha256(f"{source}\n{event_id}".encode()).hexdigest()[:40]


@blueprint.event_grid_trigger(arg_name="event")
@blueprint.durable_client_input(client_name="client")
async def hook_event(event: func.EventGridEvent, client: df.DurableOrchestrationClient) -> None:
    """Start a run (or raise an event) for the hook named in the CloudEvent's subject."""
    svc = service()
    found = _SUBJECT.match(str(getattr(event, "subject", None) or ""))
    hook = svc.webhooks.hook(found["hook"]) if found else None
    if found is None or hook is None:
        _log.warning("event grid: event %s names no hook; dropped", str(event.id)[:50])
        return
    if (hook.event is None) != (found["run"] is None):
        _log.warning("event grid: event %s does not fit hook %s; dropped", str(event.id)[:50], hook.id)
        return
    source = str(getattr(event, "source", None) or getattr(event, "topic", None) or "")
    try:
        run_id, fresh = await deliver_to_hook(
            svc, client, hook, delivery_id(source, str(event.id)), event.get_json(), run_id=found["run"] or ""
        )
    except AppError as exc:  # the request itself is wrong: retrying cannot help
        _log.warning("event grid: event %s refused (%s); dropped", str(event.id)[:50], exc.code)
        return
    _log.info("event grid: event %s -> run %s (%s)", str(event.id)[:50], run_id, "new" if fresh else "replay")
