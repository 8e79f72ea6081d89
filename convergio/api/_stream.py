"""``GET /api/v1/runs/{id}/stream``: a run's progress as Server-Sent Events.

Events: ``node`` (a node's status or attempt count changed: a snapshot of that node), ``text``
(an agent's output as a provider streams it; ``id`` is its sequence number), ``began`` (an
agent call got a worker: ``{node, attempt, step, at}``; a running node whose ``attempts``
equals no ``step`` that began is still queued),
``run`` (the run ended; the last event) and ``error``. Node changes come from the
orchestration's custom status, polled here; text and ``began`` come from the run's event
channel (``convergio.streams``), which the ``run_agent`` activity fills.

Where the host passes streamed responses through (the embedded host;
``CONVERGIO_HTTP_STREAMING``), the response is one live stream until the run ends. Elsewhere
(Azure without HTTP streams) it is a window: the events of a few seconds, then ``retry``, and
the client's ``EventSource`` reconnects with ``Last-Event-ID``; see ADR 0007.

How often the status is read follows the run's age (``poll_interval``): every 25 ms in its
first second, so a short run's end is seen within tens of milliseconds, backing off to 200 ms
by its fifth second (about 110 reads in 5 s, then 5 a second) and to one a second for runs of
minutes, so a long run (one waiting hours for a human) costs the durable backend one status
read a second per open stream. A read never waits less than four times what the last one
cost, so a large run's reads take at most a fifth of the host. Azure Functions has no
in-process engine to be woken by, so this works the same on both hosts; a status that did
not change is not turned into a view again.

A read's cost is its own work (the status, the view, the channel), measured before its events
go out, in one chunk: a wide run's read finds hundreds of node changes, and sending each alone
gave the loop away each time, counting the wait as cost. A changed status is turned into node
events at most once per two of its read's pauses (``view_due``); the reads in between cost the
status alone, pause as little, and see the run's end sooner (which is always turned into a view).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import azure.durable_functions as df
import azure.functions as func

from convergio.errors import InvalidRequest
from convergio.streams import RunStream, sse
from convergio.tenants import Permission

from ._http import answer, off_loop, run_for
from ._lifecycle import age_s
from ._service import service
from ._views import graph_agents, read_status, run_state, run_view

__all__ = ["poll_interval", "run_events"]

_FINAL = frozenset({"Completed", "Failed", "Terminated"})
_FAST_S = 0.025
"""The interval in a run's first second (``_QUICK_S``): a short run's end is seen this late at most."""
_QUICK_S = 1.0
_POLL_S = 0.2
"""The interval from a run's ``_SETTLED_S``-th second (the only interval before issue 22)."""
_SETTLED_S = 5.0
_LONG_S = 60.0
_SLOW_S = 1.0
"""The interval of runs of ``_LONG_S * _SLOW_S / _POLL_S`` seconds (5 minutes) and more."""
_COST_SHARE = 4.0
_LIVE_S = 900.0
_WINDOW_S = 10.0
_RETRY_MS = 1000
_WATCH_S = 30.0
_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


def poll_interval(age: float) -> float:
    """Seconds between two status reads of a run ``age`` seconds old (see the module doc)."""
    if age < _QUICK_S:
        return _FAST_S
    if age < _SETTLED_S:  # geometric: as many reads per second fewer at each step
        return float(_FAST_S * (_POLL_S / _FAST_S) ** ((age - _QUICK_S) / (_SETTLED_S - _QUICK_S)))
    return min(_SLOW_S, max(_POLL_S, _POLL_S * age / _LONG_S))


async def run_events(
    client: df.DurableOrchestrationClient,
    channel: RunStream,
    run_id: str,
    *,
    after: int,
    seconds: float,
    run_age: float = 0.0,
) -> AsyncIterator[str]:
    """The run's events as SSE messages, until it ends or ``seconds`` pass (then a ``retry``).

    ``run_age``: how old the run is now (seconds since it was recorded), which sets how often
    its status is read (``poll_interval``).
    """
    began = time.monotonic()
    deadline = began + seconds
    nodes: dict[str, tuple[str, int]] = {}
    yield f": run {run_id}\n\n"
    watched_until = 0.0
    seen: tuple[Any, ...] | None = None
    view_due = 0.0  # a changed status waits for this before it is turned into a view (unless final)
    agents: list[str] | None = None  # the graph's, from the first read (the input never changes)
    while True:
        read_at = time.monotonic()
        if read_at >= watched_until:  # agents stream their text only while watched
            await off_loop(channel.watch, run_id, _WATCH_S)
            watched_until = time.monotonic() + _WATCH_S / 2
        # The first read has the input (the SDK's plain read does): the agents. Later ones leave it out.
        status = await (
            client.get_status(run_id) if agents is None else read_status(client, run_id, show_input=False)
        )
        if status.runtime_status is None:
            # The run's events are in the shared store even when this instance's task hub has no
            # state for it (purged, or another hub): what is stored is never withheld.
            for event in await off_loop(channel.read, run_id, after):
                after = event.seq
                yield sse(event.kind, event.data, event_id=event.seq)
            yield sse("error", {"code": "not_found", "message": "the run has no state here (purged?)"})
            return
        # One message per read, however many events it holds: a wide run's read found hundreds of
        # node changes, and yielding each alone gave the loop away hundreds of times per read; the
        # time waiting for it back counted as the read's cost and stretched the next pause.
        out: list[str] = []
        now = (status.runtime_status, status.custom_status, status.output)
        ended = run_state(status) in _FINAL
        # An unchanged status is the same view: no node moved, the run goes on. A changed one is
        # turned into node events at most every other pause (``view_due``): the reads in between
        # cost only the status, so their pauses are short and the run's end is seen sooner.
        built = now != seen and (ended or read_at >= view_due)
        if built:
            seen = now
            agents = graph_agents(status) if agents is None else agents
            view = run_view(run_id, status, agents=agents)
            for node_id, node in view.nodes.items():
                if nodes.get(node_id) != (node.status, node.attempts):
                    nodes[node_id] = (node.status, node.attempts)
                    out.append(sse("node", {"node": node_id, **node.model_dump(exclude={"cost_eur"})}))
        for event in await off_loop(channel.read, run_id, after):
            after = event.seq
            out.append(sse(event.kind, event.data, event_id=event.seq))
        if ended:
            usage = view.usage.model_dump()
            out.append(sse("run", {"id": run_id, "status": view.status, "error": view.error, "usage": usage}))
            yield "".join(out)
            return
        spent = time.monotonic() - read_at  # the read's own cost: before the client takes its events
        if built:
            view_due = read_at + 2 * _COST_SHARE * spent
        if out:
            yield "".join(out)
        if time.monotonic() >= deadline:
            yield sse("pause", {"after": after}, event_id=after or None, retry_ms=_RETRY_MS)
            return
        await asyncio.sleep(max(poll_interval(run_age + read_at - began), _COST_SHARE * spent))


def _after(req: func.HttpRequest) -> int:
    raw = req.headers.get("last-event-id") or req.params.get("after") or "0"
    try:
        value = int(raw)
    except ValueError:
        raise InvalidRequest("Last-Event-ID: must be an event id from this stream") from None
    if value < 0:
        raise InvalidRequest("Last-Event-ID: must be an event id from this stream")
    return value


@answer
async def stream_run(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> Any:
    svc = service()
    record = await off_loop(run_for, req, svc, Permission.READ_OWN_RUNS)
    after = _after(req)
    age = age_s(record.created_at)
    live = svc.settings.http_streaming
    events = run_events(
        client, svc.streams, record.run_id, after=after, seconds=_LIVE_S if live else _WINDOW_S, run_age=age
    )
    if live:
        from starlette.responses import StreamingResponse  # with anyio: only a live stream needs it

        return StreamingResponse(events, media_type="text/event-stream", headers=_HEADERS)
    window = [m async for m in events]
    return func.HttpResponse("".join(window), mimetype="text/event-stream", headers=_HEADERS)
