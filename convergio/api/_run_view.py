"""``GET /api/v1/runs/{id}`` at O(what changed): a per-process memo of run views, and strong ETags.

Clients poll a run's view (the console and the CLI about ten times a second). Rebuilding it on
every poll read the whole durable status (the history too, for a large run), every usage
record of the run, validated them, and encoded the whole document: O(run) per poll, most of
the HTTP side's time in the front-door benchmark (issue 22). Here:

- **A finished run never changes**: its encoded view is kept (``ViewMemo``, bounded LRU) and a
  poll costs the index read that checks ownership, with no durable call. A cancelled run is
  kept once ``SETTLE_S`` passed after its end (calls aborted by the cancel still bill late,
  ADR 0017). An entry is tied to the run's index entry (``created_at``), so a purged and
  re-created id never answers from an old one.
- **A running run** is re-read with one plain status call and one ledger aggregate; the view
  is rebuilt only when one of them moved (runtime status, last update, ``rev``, ``records``,
  billed total). A rebuild reuses the graph's agents and the progress records already read;
  the history is read again only when the status says more records were sealed (``records``;
  one not yet ``confirmed`` is read from its scheduling event's input, the tail may not hold
  it all), so between records a rebuild costs the fold of the status' tail. The ledger's costs go into
  the node entries before they are validated, and only the entries that changed since the last
  rebuild are validated again (``NodeViews``).
- Every answer carries a strong ``ETag`` (a digest of the body); ``If-None-Match`` with it is a
  304 without a body.

The memo is per process and holds no state a second instance needs: another instance builds
its own, from the same durable state, to the same bytes.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

import azure.durable_functions as df
import azure.functions as func

from convergio.tenants import RunRecord

from . import _models as m
from ._http import off_loop
from ._lifecycle import age_s, stateless_view, usage_from_ledger
from ._service import Service
from ._status_reads import history_records, read_status
from ._times import ended_at
from ._views import RUN_AGENTS, NodeViews, billed_costs, graph_agents, run_state, run_view

__all__ = ["MEMO", "SETTLE_S", "Memo", "ViewMemo", "current_view", "view_response"]

SETTLE_S: Final = 10.0
"""A cancelled run's view is final this long after its end (aborted calls report within ~1 s)."""
MAX_CHARS: Final = 32_000_000
"""The memo's bound on kept view text, per process (a 500-agent view is about 200,000)."""


@dataclass
class Memo:
    """One run's last view, what it answers for, and what a rebuild can reuse."""

    tenant_id: str
    created_at: str
    key: str
    body: str
    etag: str
    final: bool
    state: str = ""
    finished_at: str | None = None
    usage: dict[str, int] = field(default_factory=dict)
    agents: list[str] | None = None
    records: dict[int, dict[str, Any]] = field(default_factory=dict)
    nodes: NodeViews = field(default_factory=NodeViews)


class ViewMemo:
    """A bounded LRU of :class:`Memo` by run id (by total body size), safe across threads."""

    def __init__(self, max_chars: int = MAX_CHARS) -> None:
        self._max = max_chars
        self._items: OrderedDict[str, Memo] = OrderedDict()
        self._chars = 0
        self._lock = threading.Lock()

    def get(self, run_id: str) -> Memo | None:
        with self._lock:
            memo = self._items.get(run_id)
            if memo is not None:
                self._items.move_to_end(run_id)
            return memo

    def put(self, run_id: str, memo: Memo) -> None:
        with self._lock:
            old = self._items.pop(run_id, None)
            self._chars -= 0 if old is None else len(old.body)
            if len(memo.body) > self._max:
                return
            self._items[run_id] = memo
            self._chars += len(memo.body)
            while self._chars > self._max:
                _, evicted = self._items.popitem(last=False)
                self._chars -= len(evicted.body)

    def forget(self, run_id: str) -> None:
        with self._lock:
            old = self._items.pop(run_id, None)
            self._chars -= 0 if old is None else len(old.body)

    def __len__(self) -> int:
        return len(self._items)


MEMO = ViewMemo()


def _etag(body: str) -> str:
    return '"' + hashlib.blake2b(body.encode(), digest_size=16).hexdigest() + '"'


def _memo_of(record: RunRecord, view: m.RunView, *, key: str = "", final: bool = False) -> Memo:
    if record.cancelled_by or record.cancel_reason:  # the index knows who cancelled, and why
        note = {"cancelled_by": record.cancelled_by or None, "cancel_reason": record.cancel_reason or None}
        view = view.model_copy(update=note)
    body = view.model_dump_json()
    return Memo(record.tenant_id, record.created_at, key, body, _etag(body), final)


def _time(value: Any) -> str:
    return value.isoformat() if hasattr(value, "isoformat") else str(value or "")


async def current_view(
    svc: Service, client: df.DurableOrchestrationClient, record: RunRecord, memo: ViewMemo = MEMO
) -> Memo:
    """The run's view as it is now, from the memo when nothing changed (see the module doc).

    ``record`` is the run's index entry, already checked to be the caller's.
    """
    run_id = record.run_id
    kept = memo.get(run_id)
    if kept is not None and (kept.tenant_id, kept.created_at) != (record.tenant_id, record.created_at):
        kept = None  # another run under a re-used id
    if kept is not None and kept.final:
        await _repair(svc, record, kept)
        return kept
    status = await read_status(client, run_id, show_input=False)  # agents come from the memo or below
    if status.runtime_status is None:  # starting, or never started (ADR 0017): nothing to keep
        cancelled = await off_loop(svc.streams.cancelled, run_id)
        return _memo_of(record, stateless_view(record, cancelled=cancelled))
    custom: Mapping[str, Any] = status.custom_status if isinstance(status.custom_status, dict) else {}
    state = run_state(status)
    billed_total = (await off_loop(svc.ledger.run_costs, record.tenant_id, [run_id])).get(run_id)
    sealed = int(custom.get("records") or 0)
    # Records in the history: a run's status says how many (ADR 0014's journal); one of an older
    # release does not, so every sealed record counts, and a view missing one is rebuilt.
    confirmed = int(custom.get("confirmed", sealed) or 0)
    if state == "Failed":  # a failed run waited for every record before it ended (its last status did not)
        confirmed = sealed
    stamp = _time(status.last_updated_time)  # whole seconds: not enough alone
    note = [record.cancelled_by, record.cancel_reason]  # written just after the terminate
    key = json.dumps([state, stamp, custom.get("rev"), sealed, confirmed, str(billed_total), note])
    if kept is not None and kept.key == key and len(kept.records) >= sealed:
        return kept
    agents = kept.agents if kept is not None else RUN_AGENTS.get(run_id)  # known if started here
    records = dict(kept.records) if kept is not None else {}
    output = status.output if isinstance(status.output, dict) else {}
    billed = await off_loop(svc.ledger.query, record.tenant_id, run_id=run_id)
    costs, known = billed_costs(billed), kept.nodes if kept is not None else NodeViews()
    if state == "Completed" and output.get("nodes"):
        view = run_view(run_id, status, costs=costs, known=known)  # the output has the whole table
    else:
        agents = await _read_records(client, run_id, agents, records, sealed)
        view = run_view(
            run_id, status, agents=agents, records=list(records.values()), costs=costs, known=known
        )
    view = usage_from_ledger(view, billed)
    ended = ended_at(stamp, record.created_at) if stamp else stamp
    if record.created_at:  # the index's start, to the microsecond, as the run list shows it
        view = view.model_copy(update={"created_at": record.created_at, "last_updated_at": ended or None})
    final = state in ("Completed", "Failed") or (state == "Terminated" and age_s(ended) >= SETTLE_S)
    # Every record folded (a cancel may lose one in flight for good, ADR 0014: then that is all).
    final = final and (bool(output.get("nodes")) or len(records) >= confirmed or state == "Terminated")
    fresh = _memo_of(record, view, key=key, final=final)
    fresh.state, fresh.finished_at, fresh.usage = state, ended or None, view.usage.model_dump()
    fresh.agents, fresh.records = agents, records
    if not final:  # a final view is never rebuilt: its node models need not stay
        fresh.nodes = known
    memo.put(run_id, fresh)
    await _repair(svc, record, fresh)
    return fresh


async def _read_records(
    client: df.DurableOrchestrationClient,
    run_id: str,
    agents: list[str] | None,
    records: dict[int, dict[str, Any]],
    sealed: int,
) -> list[str]:
    """The graph's agents (read with the input when not known) and, into ``records`` by seq,
    the progress records the status counts (``sealed``) that it lacks (``history_records``)."""
    if sealed <= len(records):
        if agents is None:
            agents = graph_agents(await read_status(client, run_id, show_input=True))
        return agents
    full, found = await history_records(client, run_id, sealed, records, show_input=agents is None)
    for record in found:
        records[int(record.get("seq") or 0)] = record
    return graph_agents(full) if agents is None else agents


async def _repair(svc: Service, record: RunRecord, view: Memo) -> None:
    """A finished run whose index entry says otherwise (its end was never written, e.g. the run
    failed outside its own code): write what the view shows, so the list agrees."""
    if view.final and record.status != view.state:
        ended, usage = view.finished_at, view.usage
        await off_loop(svc.store.update_run, record.run_id, status=view.state, finished_at=ended, usage=usage)


def _matches(if_none_match: str, etag: str) -> bool:
    """RFC 9110 If-None-Match: ``*`` or a list of tags, compared weakly (``W/`` ignored)."""
    tags = [t.strip() for t in if_none_match.split(",")]
    return "*" in tags or any(t.removeprefix("W/") == etag for t in tags)


async def view_response(
    svc: Service, client: df.DurableOrchestrationClient, record: RunRecord, req: func.HttpRequest
) -> func.HttpResponse:
    """The run's view for ``GET /runs/{id}``: 200 with its ETag, or 304 when ``If-None-Match`` has it.

    ``record`` is the run's index entry, already checked to be the caller's (``owned_record``):
    read once per request, not again here (on Cosmos DB each read is a round trip).
    """
    view = await current_view(svc, client, record)
    headers = {"ETag": view.etag, "Cache-Control": "no-cache"}
    condition = req.headers.get("if-none-match")
    if condition and _matches(condition, view.etag):
        return func.HttpResponse(status_code=304, headers=headers)
    return func.HttpResponse(view.body, status_code=200, mimetype="application/json", headers=headers)
