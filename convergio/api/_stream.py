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

How often the status is read follows the run's age and its own predicted end
(``_stream_pace``, ADR 0044); a host in this process that ends the run cuts the pause before
the next read short (``_stream_wake``, ADR 0049). A read's cost is the CPU its work took on
the event loop's thread (the status, the events; on the embedded host the loop serves the
status request too), measured before its events go out, in one chunk: a wide run's read finds
hundreds of node changes, and sending each alone gave the loop away each time. A read never
waits less than four times what the last one cost. A changed status is turned into node events
at most once per two of its read's pauses (``view_due``); the reads in between cost the status
alone, pause as little, and see the run's end sooner (which is always turned into a view).

The nodes are kept in a ``NodeTable``, folded read by read from the status' tail: a node keeps
what it last showed until a newer version of it comes, and a read costs the items of its tail,
not a model per node of the graph. The tail holds only the newest items (ADR 0014); the items
sealed into progress records leave it, and folding each tail alone over the graph's agents,
as the stream did, showed such a node ``waiting`` again after it had run. While the run goes
on, a node whose change left the tail between two reads would keep showing what it showed
before (``running`` after it completed) until the run ended: the records sealed since the
stream last looked are folded in too, at most every ``RECORDS_EVERY_S`` (the whole history is
read for them), at once by a stream that joins an older run (a reload mid-run). A run that
ends without its whole table in its output (failed, cancelled) is folded once more with its
records.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Mapping
from typing import Any

import azure.durable_functions as df
import azure.functions as func

from convergio.errors import InvalidRequest
from convergio.graph import fold
from convergio.streams import RunStream, StreamEvent, sse, sse_text
from convergio.tenants import Permission

from ._http import answer, off_loop, run_for
from ._lifecycle import age_s
from ._service import service
from ._status_reads import history_records, read_status
from ._stream_nodes import NodeTable
from ._stream_pace import AHEAD, COST_SHARE, ENDING_FOR_S, ENDING_S, next_read, poll_interval, time_left
from ._stream_wake import Wake, host_ends
from ._views import RUN_AGENTS, complete_table, graph_agents, run_outcome, run_state

__all__ = [
    "next_read",
    "poll_interval",
    "run_events",
    "time_left",
]

_FINAL = frozenset({"Completed", "Failed", "Terminated"})
RECORDS_EVERY_S = 1.0
"""How often at most a running run's stream reads its history for the progress records sealed
since it last did (their items may have left the tail between two reads): the live table is
that far behind at most. Never more often than ``_RECORDS_COST_SHARE`` times what the last
such read took (a large run's history is read whole)."""
_RECORDS_COST_SHARE = 10.0
_LIVE_S = 900.0
_WINDOW_S = 10.0
_RETRY_MS = 1000
_WATCH_S = 30.0
_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


async def _final_nodes(
    client: df.DurableOrchestrationClient, run_id: str, status: Any, agents: list[str]
) -> Mapping[str, Any] | None:
    """A finished run's whole table, or None when its tail already holds every change.

    A completed run's output has it; otherwise (failed, cancelled) a run that sealed progress
    records is folded with them, read from its history once.
    """
    if complete_table(status):
        nodes: Mapping[str, Any] = status.output["nodes"]
        return nodes
    custom = status.custom_status if isinstance(status.custom_status, dict) else {}
    if not custom.get("records"):
        return None
    full, found = await history_records(client, run_id, _sealed(status))
    full_custom = full.custom_status if isinstance(full.custom_status, dict) else custom
    folded: Mapping[str, Any] = fold(agents, found, full_custom)["nodes"]
    return folded


async def _fold_records(
    client: df.DurableOrchestrationClient,
    run_id: str,
    status: Any,
    table: NodeTable,
    folded: set[int],
) -> None:
    """Fold into ``table`` the progress records not in ``folded`` (which it extends), read from
    the run's history (``history_records``)."""
    _, found = await history_records(client, run_id, _sealed(status), folded)
    for record in found:
        seq = int(record.get("seq") or 0)
        if seq not in folded:
            folded.add(seq)
            table.fold(record.get("nodes") or {})


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
    its status is read (``poll_interval``). A host in this process that ends the run cuts the
    pause before the next read short (``_stream_wake``, ADR 0049).
    """
    wake = Wake(run_id, host_ends())
    try:
        async for message in _events(client, channel, run_id, wake, after, seconds, run_age):
            yield message
    finally:
        wake.close()


async def _events(
    client: df.DurableOrchestrationClient,
    channel: RunStream,
    run_id: str,
    wake: Wake,
    after: int,
    seconds: float,
    run_age: float,
) -> AsyncIterator[str]:
    began = time.monotonic()
    deadline = began + seconds
    yield f": run {run_id}\n\n"
    watched_until = 0.0
    seen: tuple[Any, ...] | None = None
    view_due = 0.0  # a changed status waits for this before it is turned into events (unless final)
    ending_at: float | None = None  # when a read first found the run's end due (every node finished, or soon)
    # The graph's agents: known if this process started the run, else from the first read (which
    # then has the input: the SDK's plain read does). The input never changes: later reads leave it out.
    agents = RUN_AGENTS.get(run_id)
    table = None if agents is None else NodeTable(agents)
    told = False  # the host said the run ended (``_stream_wake``)
    folded: set[int] = set()  # the progress records folded into the table, by seq
    # A stream that joins a run older than RECORDS_EVERY_S (a reload, a late watcher, the next
    # window) folds its records at its first read; one watching a run from its start, only once
    # the run is that old, so a short run's stream reads no history before its end.
    records_due = began + max(0.0, RECORDS_EVERY_S - run_age)
    while True:
        read_at, cpu_at = time.monotonic(), time.thread_time()
        if read_at >= watched_until:  # agents stream their text only while watched
            await off_loop(channel.watch, run_id, _WATCH_S)
            watched_until = time.monotonic() + _WATCH_S / 2
        wake.arm()  # an end committed from now on ends the next pause at once
        # Told of the end, which was committed after every event of the run was stored (ADR
        # 0040): the channel is read while the status is, its thread hop no longer after it.
        early = asyncio.ensure_future(off_loop(channel.read, run_id, after)) if told else None
        try:
            status = await (
                client.get_status(run_id) if table is None else read_status(client, run_id, show_input=False)
            )
        except BaseException:
            if early is not None:
                early.cancel()
            raise
        if status.runtime_status is None:
            # The run's events are in the shared store even when this instance's task hub has no
            # state for it (purged, or another hub): what is stored is never withheld.
            for event in await (early or off_loop(channel.read, run_id, after)):
                after = event.seq
                yield _event_message(event)
            yield sse("error", {"code": "not_found", "message": "the run has no state here (purged?)"})
            return
        # One message per read, however many events it holds: a wide run's read found hundreds of
        # node changes, and yielding each alone gave the loop away hundreds of times per read; the
        # time waiting for it back counted as the read's cost and stretched the next pause.
        out: list[str] = []
        now = (status.runtime_status, status.custom_status, status.output)
        state = run_state(status)
        ended = state in _FINAL
        # An unchanged status is the same table: no node moved, the run goes on. A changed one is
        # turned into node events at most every other pause (``view_due``): the reads in between
        # cost only the status, so their pauses are short and the run's end is seen sooner.
        built = now != seen and (ended or read_at >= view_due)
        if built:
            seen = now
            if table is None or agents is None:
                agents = graph_agents(status)
                table = NodeTable(agents)
            custom = status.custom_status if isinstance(status.custom_status, dict) else {}
            table.fold(custom.get("nodes") or {})
            if ended:  # every node once more: its last version, cancelled if it had not finished
                table.replace(await _final_nodes(client, run_id, status, agents) or {})
        sealed = _sealed(status)  # even when the status did not change: a waiting run stays so
        if not ended and table is not None and sealed > len(folded) and read_at >= records_due:
            took = time.monotonic()
            await _fold_records(client, run_id, status, table, folded)
            took = time.monotonic() - took
            records_due = time.monotonic() + max(RECORDS_EVERY_S, _RECORDS_COST_SHARE * took)
        if table is not None:  # the nodes that changed since the last read, once
            out += table.events(cancelled=state == "Terminated")
        for event in await (early or off_loop(channel.read, run_id, after)):
            after = event.seq
            out.append(_event_message(event))
        if ended:
            out.append(sse("run", run_outcome(run_id, status)))
            yield "".join(out)
            return
        spent = time.thread_time() - cpu_at  # the read's own cost: before the client takes its events
        if built:
            view_due = read_at + 2 * COST_SHARE * spent
        if out:
            yield "".join(out)
        if time.monotonic() >= deadline:
            yield sse("pause", {"after": after}, event_id=after or None, retry_ms=_RETRY_MS)
            return
        age, counts = run_age + read_at - began, _counts(status)
        pace, left = next_read(age, counts), time_left(age, counts)
        if left is None or AHEAD * left >= pace:  # its end is not due before the next read
            ending_at = None
        elif ending_at is None:
            ending_at = read_at
        if ending_at is not None and read_at - ending_at < ENDING_FOR_S:
            pace = max(ENDING_S, AHEAD * (left or 0.0))
        told = await wake.pause(max(pace, COST_SHARE * spent))


def _event_message(event: StreamEvent) -> str:
    """``sse(event.kind, event.data, event_id=event.seq)``, from the text the channel stored, if any."""
    if event.text is None:
        return sse(event.kind, event.data, event_id=event.seq)
    return sse_text(event.kind, event.text, event_id=event.seq)


def _sealed(status: Any) -> int:
    """How many progress records the run has sealed, as its custom status says."""
    custom = status.custom_status if isinstance(status.custom_status, dict) else {}
    records = custom.get("records")
    return records if type(records) is int else 0


def _counts(status: Any) -> Mapping[str, int] | None:
    """The run's nodes by state, as its custom status counts them (None: it does not)."""
    custom = status.custom_status if isinstance(status.custom_status, dict) else {}
    counts = custom.get("counts")
    return counts if isinstance(counts, dict) else None


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
