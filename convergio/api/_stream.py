"""``GET /api/v1/runs/{id}/stream``: a run's progress as Server-Sent Events.

Events: ``node`` (a node's status or attempt count changed: a snapshot of that node), ``text``
(an agent's output as a provider streams it; ``id`` is its sequence number), ``run`` (the run
ended; the last event) and ``error``. Node changes come from the orchestration's custom status,
polled here; text comes from the run's event channel (``convergio.streams``), which the
``run_agent`` activity fills.

Where the host passes streamed responses through (the embedded host;
``CONVERGIO_HTTP_STREAMING``), the response is one live stream until the run ends. Elsewhere
(Azure without HTTP streams) it is a window: the events of a few seconds, then ``retry``, and
the client's ``EventSource`` reconnects with ``Last-Event-ID``; see ADR 0007.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import azure.durable_functions as df
import azure.functions as func
from starlette.responses import StreamingResponse

from convergio.errors import InvalidRequest
from convergio.streams import RunStream, sse
from convergio.tenants import Permission

from ._http import answer, blueprint, caller_of, owned_run
from ._service import service
from ._views import run_view

__all__ = ["run_events"]

_FINAL = frozenset({"Completed", "Failed", "Terminated"})
_POLL_S = 0.2
_LIVE_S = 900.0
_WINDOW_S = 10.0
_RETRY_MS = 1000
_WATCH_S = 30.0
_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


async def run_events(
    client: df.DurableOrchestrationClient, channel: RunStream, run_id: str, *, after: int, seconds: float
) -> AsyncIterator[str]:
    """The run's events as SSE messages, until it ends or ``seconds`` pass (then a ``retry``)."""
    deadline = time.monotonic() + seconds
    nodes: dict[str, tuple[str, int]] = {}
    yield f": run {run_id}\n\n"
    watched_until = 0.0
    while True:
        if time.monotonic() >= watched_until:  # agents stream their text only while watched
            await asyncio.to_thread(channel.watch, run_id, _WATCH_S)
            watched_until = time.monotonic() + _WATCH_S / 2
        status = await client.get_status(run_id)
        if status.runtime_status is None:
            # The run's events are in the shared store even when this instance's task hub has no
            # state for it (purged, or another hub): what is stored is never withheld.
            for event in await asyncio.to_thread(channel.read, run_id, after):
                after = event.seq
                yield sse(event.kind, event.data, event_id=event.seq)
            yield sse("error", {"code": "not_found", "message": "the run has no state here (purged?)"})
            return
        view = run_view(run_id, status)
        for node_id, node in view.nodes.items():
            if nodes.get(node_id) != (node.status, node.attempts):
                nodes[node_id] = (node.status, node.attempts)
                yield sse("node", {"node": node_id, **node.model_dump(exclude={"cost_eur"})})
        for event in await asyncio.to_thread(channel.read, run_id, after):
            after = event.seq
            yield sse(event.kind, event.data, event_id=event.seq)
        if view.status in _FINAL:
            yield sse(
                "run",
                {"id": run_id, "status": view.status, "error": view.error, "usage": view.usage.model_dump()},
            )
            return
        if time.monotonic() >= deadline:
            yield sse("pause", {"after": after}, event_id=after or None, retry_ms=_RETRY_MS)
            return
        await asyncio.sleep(_POLL_S)


def _after(req: func.HttpRequest) -> int:
    raw = req.headers.get("last-event-id") or req.params.get("after") or "0"
    try:
        value = int(raw)
    except ValueError:
        raise InvalidRequest("Last-Event-ID: must be an event id from this stream") from None
    if value < 0:
        raise InvalidRequest("Last-Event-ID: must be an event id from this stream")
    return value


@blueprint.route(route="v1/runs/{id}/stream", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
@blueprint.durable_client_input(client_name="client")
@answer
async def stream_run(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> Any:
    svc = service()
    run_id = owned_run(req, svc, caller_of(req, svc, Permission.READ_OWN_RUNS))
    after = _after(req)
    channel = svc.streams
    if svc.settings.http_streaming:
        events = run_events(client, channel, run_id, after=after, seconds=_LIVE_S)
        return StreamingResponse(events, media_type="text/event-stream", headers=_HEADERS)
    window = [m async for m in run_events(client, channel, run_id, after=after, seconds=_WINDOW_S)]
    return func.HttpResponse("".join(window), mimetype="text/event-stream", headers=_HEADERS)
