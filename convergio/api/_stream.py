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

How often the status is read follows the run's age (``poll_interval``): every 10 ms in its
first tenth of a second and every 25 ms in the rest of its first second, so a short run's end
is seen within milliseconds, backing off to 200 ms by its fifth second (about 115 reads in 5 s,
then 5 a second) and to one a second for runs of minutes, so a long run (one waiting hours for
a human) costs the durable backend one status read a second per open stream.
While a young run's end is still far off, as its own progress predicts it (the status counts its
nodes: at the rate they have finished so far, the rest take ``age * unfinished / finished``), the
next read comes after half that time, and at most 0.1 s later (``next_read``, ADR 0044): each
read is an HTTP request the host serves to itself (1.2 to 1.6 ms of the event loop's CPU), and
a chain of 100 agents was read a dozen times before its last nodes ran. Once a read finds
every node finished, the run's own last steps (its index entry, its callbacks) take a few
milliseconds, and once the predicted end is due before the next read would come, it is near
too: the status is read every 5 ms then (or at the predicted end, if later), for at most a
quarter of a second (a last node slower than the others, or a re-plan, ends that). A read
never waits less than four times what the last one cost, so a large run's reads take at most a
fifth of the host. Azure Functions has no in-process engine to be woken by, so this works the
same on both hosts; a status that did not change is not turned into a view again.

A read's cost is the CPU its work took on the event loop's thread (the status, the events;
on the embedded host the loop serves the status request too), measured before its events go
out, in one chunk: a wide run's read finds hundreds of node changes, and sending each alone gave
the loop away each time. It was the read's wall time, which counted the waits for the
interpreter while the run's own threads held it: the first read of a 50-agent run took 5 to
10 ms for about 1 ms of CPU, bought a 40 ms pause, and the run's end was seen 20 ms late.
A changed status is turned into node events at most once per two of its read's pauses
(``view_due``); the reads in between cost the status alone, pause as little, and see the run's
end sooner (which is always turned into a view).

The nodes are kept in a ``NodeTable``, folded read by read from the status' tail: a node keeps
what it last showed until a newer version of it comes, and a read costs the items of its tail,
not a model per node of the graph. The tail holds only the newest items (ADR 0014); the items
sealed into progress records leave it, and folding each tail alone over the graph's agents,
as the stream did, showed such a node ``waiting`` again after it had run. A run that ends
without its whole table in its output (failed, cancelled) is folded once more with its records.
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import AsyncIterator, Iterable, Mapping
from typing import Any

import azure.durable_functions as df
import azure.functions as func

from convergio.errors import InvalidRequest
from convergio.graph import TERMINAL, fold, records_of
from convergio.streams import RunStream, compact, sse, sse_text
from convergio.tenants import Permission

from . import _models as m
from ._http import answer, off_loop, run_for
from ._lifecycle import age_s
from ._service import service
from ._views import (
    RUN_AGENTS,
    complete_table,
    graph_agents,
    read_status,
    run_outcome,
    run_state,
    status_history,
)

__all__ = [
    "NodeTable",
    "next_read",
    "node_message",
    "node_payload",
    "poll_interval",
    "run_events",
    "time_left",
]

_FINAL = frozenset({"Completed", "Failed", "Terminated"})
_INSTANT_S = 0.01
"""The interval in a run's first tenth of a second (``_FIRST_S``): a small run of quick agents ends there."""
_FIRST_S = 0.1
_FAST_S = 0.025
"""The interval in the rest of a run's first second (``_QUICK_S``)."""
_QUICK_S = 1.0
_POLL_S = 0.2
"""The interval from a run's ``_SETTLED_S``-th second (the only interval before issue 22)."""
_SETTLED_S = 5.0
_LONG_S = 60.0
_SLOW_S = 1.0
"""The interval of runs of ``_LONG_S * _SLOW_S / _POLL_S`` seconds (5 minutes) and more."""
_COST_SHARE = 4.0
_ENDING_S = 0.005
"""The interval once every node has finished (the run ends within milliseconds: its last steps),
or its predicted end (``time_left``) is due before the next read would come."""
_ENDING_FOR_S = 0.25
"""How long a run may look that way and still be read that often (a re-plan may follow, or its
last node be slower than the others)."""
_AHEAD = 0.5
"""The share of a young run's predicted time left that the stream waits before reading it again."""
_FAR_S = 0.1
"""The longest pause that prediction buys: a running run's nodes still move ten times a second."""
_PREDICT_S = 0.15
"""A run younger than this with several nodes under way predicts nothing: a fan-out's agents
finish in bursts (a pool's worth at a time), so its first finished nodes say little of when the
rest will. A run with one node under way at a time (a chain) finishes them at a steady pace."""
_LIVE_S = 900.0
_WINDOW_S = 10.0
_RETRY_MS = 1000
_WATCH_S = 30.0
_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


def poll_interval(age: float) -> float:
    """Seconds between two status reads of a run ``age`` seconds old (see the module doc)."""
    if age < _FIRST_S:
        return _INSTANT_S
    if age < _QUICK_S:
        return _FAST_S
    if age < _SETTLED_S:  # geometric: as many reads per second fewer at each step
        return float(_FAST_S * (_POLL_S / _FAST_S) ** ((age - _QUICK_S) / (_SETTLED_S - _QUICK_S)))
    return min(_SLOW_S, max(_POLL_S, _POLL_S * age / _LONG_S))


def time_left(age: float, counts: Mapping[str, int] | None) -> float | None:
    """How long a run ``age`` seconds old whose nodes are ``counts`` should still take, or None.

    At the rate its nodes have finished so far, the unfinished ones take ``age * unfinished /
    finished``; 0 once every node finished (its own last steps remain). A run with no node
    finished predicts nothing, nor does one younger than ``_PREDICT_S`` with several nodes under
    way (a 50-wide fan-out's first node to finish, alone, predicted its siblings' end 0.5 s off
    when they all finished within milliseconds); one running a node at a time (a chain) does,
    from its first finished node.
    """
    finished, total = _progress(counts)
    if not 0 < finished <= total:
        return None
    if finished == total:
        return 0.0
    under_way = total - finished - (counts or {}).get("waiting", 0)  # running, retrying, awaiting input
    if age < _PREDICT_S and under_way > 1:
        return None
    return age * (total - finished) / finished


def next_read(age: float, counts: Mapping[str, int] | None) -> float:
    """Seconds until the next status read of a run ``age`` seconds old whose nodes are ``counts``.

    ``poll_interval(age)``, or longer (at most ``_FAR_S``) while the run's predicted time left
    (``time_left``) is further off: then the next read comes after ``_AHEAD`` of it. (A predicted
    end nearer than this makes ``run_events`` read sooner, for a while.)
    """
    pace = poll_interval(age)
    left = time_left(age, counts)
    return pace if left is None else max(pace, min(_FAR_S, _AHEAD * left))


def _progress(counts: Mapping[str, int] | None) -> tuple[int, int]:
    """How many of the run's nodes have finished, and how many it has (its status' ``counts``)."""
    if not isinstance(counts, Mapping):
        return 0, 0
    finished = total = 0
    for state, count in counts.items():
        if type(count) is not int or count < 0:
            return 0, 0
        total += count
        finished += count if state in TERMINAL else 0
    return finished, total


class NodeTable:
    """The nodes a stream shows: the graph's agents, then each newer version of a node as it comes.

    A version is newer when its ``rev`` is at least the known one's (as ``convergio.graph.fold``
    decides); a node absent from a tail keeps what it last showed. ``events`` sends only the nodes
    whose status or attempt count changed since they were last sent.
    """

    def __init__(self, agents: Iterable[str]) -> None:
        self._items: dict[str, tuple[int, Mapping[str, Any]]] = {a: (0, _WAITING) for a in agents}
        self._changed: dict[str, None] = dict.fromkeys(self._items)  # an ordered set: spec order first
        self._sent: dict[str, tuple[Any, Any]] = {}

    def fold(self, nodes: Mapping[str, Any]) -> None:
        """Take the newer versions among ``nodes`` (a status tail's or a record's)."""
        for node_id, value in nodes.items():
            if not isinstance(value, Mapping):
                continue
            rev = value.get("rev", 0)
            known = self._items.get(node_id)
            if known is None or (rev >= known[0] and value != known[1]):
                self._items[node_id] = (rev, value)
                self._changed[node_id] = None

    def replace(self, nodes: Mapping[str, Any]) -> None:
        """The run ended: ``nodes`` (its whole table, when known) replace what was folded, and
        every node is looked at again by the next ``events``."""
        for node_id, value in nodes.items():
            if isinstance(value, Mapping):
                self._items[node_id] = (value.get("rev", 0), value)
        self._changed = dict.fromkeys(self._items)

    def events(self, *, cancelled: bool = False) -> list[str]:
        """``node`` messages for the changed nodes; ``cancelled``: those not finished show cancelled."""
        out: list[str] = []
        for node_id in self._changed:
            entry = self._items[node_id][1]
            if cancelled and entry.get("status") not in TERMINAL:
                entry = {**entry, "status": "cancelled"}
            shown = (entry.get("status"), entry.get("attempts", 0))
            if self._sent.get(node_id) != shown:
                self._sent[node_id] = shown
                out.append(node_message(node_id, entry))
        self._changed = {}
        return out


_WAITING: Mapping[str, Any] = {"status": "waiting"}


def node_message(node_id: str, entry: Mapping[str, Any]) -> str:
    """``sse("node", {"node": node_id, **node_payload(entry)})``, the payload encoded on its own.

    Byte for byte that message: the node's id is spliced in front of the payload's own JSON (a
    wide run sends a thousand such messages, and the merged dict was encoded again each time),
    and the graph's baseline (every node of a new stream's first read) is encoded once.
    """
    body = _waiting_body() if entry is _WAITING else compact(node_payload(entry))
    if body == "{}":  # nothing to splice after (a payload always has the view's fields)
        return sse("node", {"node": node_id})
    return sse_text("node", f'{{"node":{compact(node_id)},{body[1:]}')


@functools.cache
def _waiting_body() -> str:
    return compact(node_payload(_WAITING))


def node_payload(entry: Mapping[str, Any]) -> dict[str, Any]:
    """What the run view shows of a node (``NodeView``, its cost aside) from its status entry.

    An entry of the types the view declares is copied over the view's defaults: a wide run's
    stream sends a thousand node events, and validating then dumping a model for each took
    three times as long. Anything else goes through the model, which decides (coerces, refuses).
    """
    defaults, usage_defaults = _node_defaults()
    out: dict[str, Any] = {}
    for key, default in defaults.items():
        value = entry.get(key, default)
        if key == "usage":
            value = _usage_payload(value, usage_defaults)
            if value is None:
                break
        elif type(value) is not type(default) and not (default is None and type(value) is str):
            break
        out[key] = value
    else:
        if type(entry.get("status")) is str:
            return out
    return m.NodeView.model_validate(entry).model_dump(exclude={"cost_eur"})


def _usage_payload(value: Any, defaults: dict[str, int]) -> dict[str, int] | None:
    if not isinstance(value, dict) or any(type(value.get(k, 0)) is not int for k in defaults):
        return None
    return {k: value.get(k, v) for k, v in defaults.items()}


@functools.cache
def _node_defaults() -> tuple[dict[str, Any], dict[str, int]]:
    """``NodeView``'s fields with their defaults (``status``: a str), in its order; its usage's."""
    defaults = m.NodeView(status="").model_dump(exclude={"cost_eur"})
    return defaults, defaults["usage"]


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
    full = await read_status(client, run_id, show_input=False, show_history=True, show_history_output=True)
    full_custom = full.custom_status if isinstance(full.custom_status, dict) else custom
    folded: Mapping[str, Any] = fold(agents, records_of(status_history(full)), full_custom)["nodes"]
    return folded


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
    yield f": run {run_id}\n\n"
    watched_until = 0.0
    seen: tuple[Any, ...] | None = None
    view_due = 0.0  # a changed status waits for this before it is turned into events (unless final)
    ending_at: float | None = None  # when a read first found the run's end due (every node finished, or soon)
    # The graph's agents: known if this process started the run, else from the first read (which
    # then has the input: the SDK's plain read does). The input never changes: later reads leave it out.
    agents = RUN_AGENTS.get(run_id)
    table = None if agents is None else NodeTable(agents)
    while True:
        read_at, cpu_at = time.monotonic(), time.thread_time()
        if read_at >= watched_until:  # agents stream their text only while watched
            await off_loop(channel.watch, run_id, _WATCH_S)
            watched_until = time.monotonic() + _WATCH_S / 2
        status = await (
            client.get_status(run_id) if table is None else read_status(client, run_id, show_input=False)
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
            out += table.events(cancelled=state == "Terminated")
        for event in await off_loop(channel.read, run_id, after):
            after = event.seq
            out.append(sse(event.kind, event.data, event_id=event.seq))
        if ended:
            out.append(sse("run", run_outcome(run_id, status)))
            yield "".join(out)
            return
        spent = time.thread_time() - cpu_at  # the read's own cost: before the client takes its events
        if built:
            view_due = read_at + 2 * _COST_SHARE * spent
        if out:
            yield "".join(out)
        if time.monotonic() >= deadline:
            yield sse("pause", {"after": after}, event_id=after or None, retry_ms=_RETRY_MS)
            return
        age, counts = run_age + read_at - began, _counts(status)
        pace, left = next_read(age, counts), time_left(age, counts)
        if left is None or _AHEAD * left >= pace:  # its end is not due before the next read
            ending_at = None
        elif ending_at is None:
            ending_at = read_at
        if ending_at is not None and read_at - ending_at < _ENDING_FOR_S:
            pace = max(_ENDING_S, _AHEAD * (left or 0.0))
        await asyncio.sleep(max(pace, _COST_SHARE * spent))


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
