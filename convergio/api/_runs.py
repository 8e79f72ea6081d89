"""Run routes: start, list, read, cancel, purge, and human input for a waiting agent.

A tenant only ever sees its own runs: a foreign run id is a 404, exactly like an unknown one.
Creation honours ``Idempotency-Key``; cancel stops the agents too; a run that never started
still reads, cancels and deletes (ADR 0017, ``_lifecycle`` and ``_idempotency``).
"""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import azure.durable_functions as df
import azure.functions as func

from convergio.errors import Conflict, InvalidGraph, NotFound
from convergio.graph import AGENT_GRAPH, GraphMemo, validate_input
from convergio.tenants import Caller, Permission

from . import _models as m
from ._http import (
    answer,
    base_url,
    caller_of,
    json_response,
    off_loop,
    owned_run,
    read_body,
    run_for,
)
from ._idempotency import claim_key, key_of
from ._lifecycle import CANCELLED_BEFORE_START, cancel_graph_run, stateless_view, usage_from_ledger
from ._run_list import run_list
from ._run_view import MEMO, view_response
from ._service import Service, service
from ._sharing import check_may_start
from ._status_reads import load_status
from ._views import RUN_AGENTS, agents_of, billed_costs, run_view, status_input

if TYPE_CHECKING:
    from convergio.graph import Validated

__all__: list[str] = []

_log = logging.getLogger("convergio.api")
GRAPHS = GraphMemo()
"""Graphs validated for a start, by tenant, content and catalog: a graph posted again is not
validated (nor dumped to JSON) again (``convergio.graph._memo``)."""


@answer
async def start_run(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    svc = service()
    caller, request, key, ready = await off_loop(_admit, req, svc)
    run_id = await start_graph_run(
        svc, client, caller.tenant.id, request, idempotency_key=key, started_by=caller.subject, ready=ready
    )
    return json_response(
        run_created(req, run_id), 202, headers={"Location": f"{base_url(req)}/runs/{run_id}"}
    )


def _admit(req: func.HttpRequest, svc: Service) -> tuple[Caller, m.RunRequest, str | None, _Ready]:
    """Who starts what, validated, and claimed in the index unless an ``Idempotency-Key`` claims it.

    All of a start's blocking work before the durable start (a key lookup, a sharing check, the
    catalog, the index write) in one trip off the event loop: each trip waits for a worker
    thread and then for the loop, and under load each wait can be a GIL switch interval (5 ms).
    """
    caller = caller_of(req, svc, Permission.START_RUNS)
    request: m.RunRequest = read_body(req, m.RunRequest)
    check_may_start(svc, caller, request)  # a student: only graphs shared with students
    key = key_of(req.headers)
    run_id = "" if key is not None else uuid.uuid4().hex  # a key's run is claimed under the key
    return caller, request, key, _ready(svc, request, caller.tenant.id, run_id, caller.subject)


@dataclass(frozen=True, slots=True)
class _Ready:
    """A start's graph, validated; and its index entry when ``callbacks`` is not ``None``."""

    graph: Validated
    run_id: str = ""
    callbacks: bool | None = None


def _ready(svc: Service, request: m.RunRequest, tenant_id: str, run_id: str, started_by: str) -> _Ready:
    """The request's graph validated, then (with a ``run_id``) the run's index entry written."""
    graph = _checked_graph(svc, request, tenant_id)
    if not run_id:
        return _Ready(graph)
    return _Ready(graph, run_id, _index(svc, tenant_id, run_id, graph, started_by))


def _index(svc: Service, tenant_id: str, run_id: str, graph: Validated, started_by: str) -> bool:
    """Write the run's index entry; whether the tenant has callbacks (the run's input says so).

    The index first: a run is never running unlisted (ADR 0017: a crash here leaves a listed run
    with no state, which reads as "never started" and can be deleted). This is the start's one
    index write: the entry stays Pending, and whoever next lists the run and finds it started
    writes Running (``_run_list``), or the run writes its own end (ADR 0025). The run's agents
    are kept here too, off the loop (watching it needs no read of its input; a failed start
    forgets them).
    """
    svc.store.record_run(tenant_id, run_id, graph.spec.name, started_by=started_by)
    RUN_AGENTS.put(run_id, agents_of(graph.document))
    return svc.webhooks.has_callbacks(tenant_id)


class _Input(dict[str, Any]):
    """An orchestration input and its JSON text, made from the graph's text encoded once per graph.

    The Durable SDK's client encodes its input with ``df_dumps``: ``json.dumps`` with a hook that
    plain JSON values never reach, so ``json.dumps`` of the same dict gives the same text, and
    the graph's part of it is ``Validated.text`` (about 5 ms of the event loop for 500 agents,
    every start, before ADR 0053). A client that does not take the text (``_sdk_encoding``)
    encodes the dict itself, as before.
    """

    __slots__ = ("text",)

    def __init__(self, values: dict[str, Any], text: str) -> None:
        super().__init__(values)
        self.text = text


def _input(graph: Validated, others: dict[str, Any]) -> dict[str, Any]:
    """``{"graph": graph.document, **others}``, with its text when ``others`` is plain JSON."""
    values = {"graph": graph.document, **others}
    if "graph" in others:  # never: no caller passes it; the dict then says what is meant
        return values
    try:
        rest = json.dumps(others)
    except (TypeError, ValueError):  # not plain JSON: the SDK's own encoding (its hook) decides
        return values
    return _Input(values, f'{{"graph": {graph.text}, {rest[1:]}') if others else values


_SDK_INPUT = inspect.getattr_static(df.DurableOrchestrationClient, "_get_json_input", None)


def _sdk_encoding(client: df.DurableOrchestrationClient) -> df.DurableOrchestrationClient:
    """``client``, sending an ``_Input`` as its text and any other input as the SDK encodes it.

    ``start_new`` gets the request body from its ``_get_json_input`` (a static method); the
    client is this request's own, so the change ends with it. An SDK without that method (or a
    test double) gets the dict, and encodes it itself (``tests/api/test_run_start_input.py``).
    """
    if isinstance(_SDK_INPUT, staticmethod) and isinstance(client, df.DurableOrchestrationClient):
        sdk = _SDK_INPUT.__func__

        def encode(value: object) -> str | None:
            return value.text if isinstance(value, _Input) else sdk(value)

        setattr(client, "_get_json_input", encode)  # noqa: B010 - an instance attribute, on purpose
    return client


_CHECKS: set[asyncio.Task[None]] = set()


def _stop_if_cancelled(svc: Service, client: df.DurableOrchestrationClient, run_id: str) -> None:
    """Terminate the run if it was cancelled while it started: after the answer, not before it.

    The cancel marks the run, then looks for its orchestration again (``_lifecycle``); this look
    comes after the orchestration exists, so in every order one of the two finds the other
    (ADR 0017, 0025). It is a store call (a thread hop) that, with the run's first step now
    holding the interpreter, cost a POST up to 17 ms of waiting (ADR 0053); the answer does not
    depend on it. Its failure is logged: the run then goes on, as when the POST failed here.
    """
    task = asyncio.get_running_loop().create_task(_check_cancelled(svc, client, run_id))
    _CHECKS.add(task)
    task.add_done_callback(_CHECKS.discard)


async def _check_cancelled(svc: Service, client: df.DurableOrchestrationClient, run_id: str) -> None:
    try:
        if await off_loop(svc.streams.cancelled, run_id):
            await client.terminate(run_id, CANCELLED_BEFORE_START)
    except Exception:
        _log.warning("run %s: the look for a cancel made during its start failed", run_id, exc_info=True)


async def start_graph_run(
    svc: Service,
    client: df.DurableOrchestrationClient,
    tenant_id: str,
    request: m.RunRequest,
    run_id: str = "",
    *,
    extra: dict[str, Any] | None = None,
    idempotency_key: str | None = None,
    same_request: Any = None,
    started_by: str = "",
    ready: _Ready | None = None,
) -> str:
    """Validate and start a run for ``tenant_id`` (the API, inbound hooks and A2A start runs here).

    ``extra`` goes into the orchestration input beside the run's own keys (A2A keeps its context id
    there); the run itself ignores it. With ``idempotency_key`` the key's run is started once and
    returned again; ``same_request`` (default: the request) is what a repeat must match.
    ``started_by`` (the caller's subject) goes into the run index, for lists of one's own runs.
    ``ready``: the request already validated (and indexed) by the caller, in its own trip off the loop.
    """
    if ready is None:
        fresh = "" if idempotency_key is not None else run_id or uuid.uuid4().hex
        ready = await off_loop(_ready, svc, request, tenant_id, fresh, started_by)
    graph = ready.graph

    async def start(run_id: str, *, maybe_started: bool = False, callbacks: bool | None = None) -> None:
        if callbacks is None:
            callbacks = await off_loop(_index, svc, tenant_id, run_id, graph, started_by)
        if maybe_started and (await client.get_status(run_id)).runtime_status is not None:
            return  # never start an existing instance again: Durable would restart a finished one
        own = {"input": request.input, "run_id": run_id, "tenant": tenant_id, "callbacks": callbacks}
        try:
            await _sdk_encoding(client).start_new(
                AGENT_GRAPH, instance_id=run_id, client_input=_input(graph, {**own, **(extra or {})})
            )
        except Exception:
            if maybe_started and (await client.get_status(run_id)).runtime_status is not None:
                return  # a concurrent request with the same key started it first
            RUN_AGENTS.forget(run_id)
            await off_loop(svc.store.forget_run, run_id)
            raise
        _stop_if_cancelled(svc, client, run_id)

    if idempotency_key is None:
        run_id = ready.run_id or run_id or uuid.uuid4().hex
        await start(run_id, callbacks=ready.callbacks if ready.run_id == run_id else None)
        return run_id
    body = request.model_dump(mode="json") if same_request is None else same_request
    records = svc.store.records("idempotency")
    claim = await claim_key(records, tenant_id, idempotency_key, body, lambda r: start(r, maybe_started=True))
    return claim.run_id


def run_created(req: func.HttpRequest, run_id: str) -> m.RunCreated:
    url = f"{base_url(req)}/runs/{run_id}"
    return m.RunCreated(
        id=run_id,
        statusQueryGetUri=url,
        sendEventPostUri=f"{url}/events/{{eventName}}",
        terminatePostUri=f"{url}/cancel",
        purgeHistoryDeleteUri=url,
    )


def _checked_graph(svc: Service, request: m.RunRequest, tenant_id: str) -> Validated:
    """The request's graph, parsed against the tenant's catalog, with its input checked."""
    graph = _graph(svc, request, tenant_id)
    validate_input(graph.spec, request.input)
    return graph


def _graph(svc: Service, request: m.RunRequest, tenant_id: str) -> Validated:
    if request.graph_ref is not None:
        raw = svc.library().get(request.graph_ref)
        if raw is None:
            raise InvalidGraph.from_problems(
                [{"path": "graph_ref", "message": f"unknown graph {request.graph_ref!r}"}]
            )
        prefix = f"graph_ref({request.graph_ref})"
    else:
        raw, prefix = request.graph, "graph"
    try:
        return GRAPHS.parse(tenant_id, raw, svc.catalog(tenant_id))
    except InvalidGraph as exc:
        raise InvalidGraph.from_problems(
            [{"path": f"{prefix}.{p['path']}", "message": p["message"]} for p in exc.details]
        ) from None


@answer
async def list_runs(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    svc = service()
    caller = await off_loop(caller_of, req, svc, Permission.READ_OWN_RUNS)
    own = None if caller.may(Permission.READ_RUNS) else caller.subject  # a student: their own runs
    return json_response(await run_list(svc, client, caller.tenant.id, req, started_by=own))


@answer
async def get_run(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    svc = service()
    record = await off_loop(run_for, req, svc, Permission.READ_OWN_RUNS)
    return await view_response(svc, client, record, req)


async def read_run(
    svc: Service, client: df.DurableOrchestrationClient, tenant_id: str, run_id: str
) -> m.RunView:
    """A run's view with its costs (the API and the MCP server both read runs here).

    Raises:
        NotFound: the run is not ``tenant_id``'s, or has no state left.
    """
    record = await off_loop(svc.store.run, run_id)
    if record is None or record.tenant_id != tenant_id:
        raise NotFound(f"no run {run_id!r}")
    status = await load_status(client, run_id)
    if status.runtime_status is None:  # starting, or never started (ADR 0017)
        return stateless_view(record, cancelled=await off_loop(svc.streams.cancelled, run_id))
    billed = await off_loop(svc.ledger.query, tenant_id, run_id=run_id)
    return usage_from_ledger(run_view(run_id, status, costs=billed_costs(billed)), billed)


@answer
async def purge_run(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    svc = service()
    run_id = (await off_loop(run_for, req, svc, Permission.ADMIN)).run_id
    status = await client.get_status(run_id)
    if status.runtime_status is None:  # no state: starting, never started, or cancelled before it
        record = await off_loop(svc.store.run, run_id)
        if record is not None:
            view = stateless_view(record, cancelled=await off_loop(svc.streams.cancelled, run_id))
            if view.status == "Pending":
                raise Conflict("the run is starting; cancel it first")
    elif run_view(run_id, status).status in ("Pending", "Running"):
        raise Conflict("the run is still going; cancel it first")
    else:
        await client.purge_instance_history(run_id)
    await off_loop(svc.store.forget_run, run_id)
    MEMO.forget(run_id)
    RUN_AGENTS.forget(run_id)
    return json_response({"id": run_id, "purged": True})


@answer
async def cancel_run(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    svc = service()
    caller = await off_loop(caller_of, req, svc, Permission.CANCEL)
    run_id = await off_loop(owned_run, req, svc, caller)
    # The reason is kept in the runs list (caller text: bounded, shown as text; ``cancel_note``).
    body: m.CancelIn = read_body(req, m.CancelIn) if isinstance(read_body(req), dict) else m.CancelIn()
    by = caller.member or caller.role.value
    state = await cancel_graph_run(svc, client, run_id, body.reason or "", by=by)
    return json_response({"id": run_id, "status": state}, 202)


@answer
async def send_event(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    svc = service()
    caller = await off_loop(caller_of, req, svc, Permission.RESPOND)
    run_id = await off_loop(owned_run, req, svc, caller)
    name = req.route_params.get("name", "")
    payload = read_body(req)
    if isinstance(payload, dict):  # who answered, for the run to say ("rejected by ada: ...")
        payload = {**payload, "by": caller.member or caller.role.value}
    await raise_run_event(client, run_id, name, payload)
    return json_response({"id": run_id, "event": name, "accepted": True}, 202)


async def _note_answer(run_id: str, name: str) -> None:
    """The run index counts the event: the run no longer waits for it (``_runs.answered_waits``).

    Best effort: the event is raised whatever the index says; the run's end settles the entry.
    """
    try:
        await off_loop(service().store.note_answer, run_id, name)
    except Exception:  # a store outage must not turn a delivered answer into an error
        _log.warning("run index: the answer %r to %s not counted", name, run_id, exc_info=True)


async def raise_run_event(
    client: df.DurableOrchestrationClient, run_id: str, name: str, payload: Any
) -> None:
    """Human input for a run that awaits ``name`` (the API and inbound hooks both raise it here).

    A second message to a run that is busy with the first (every node awaiting ``name`` already
    got its input) is refused with 409, not queued: ADR 0017's double-texting policy. An event
    sent before its node reaches the wait is kept by Durable and delivered there.
    """
    status = await load_status(client, run_id, show_input=True)
    view = run_view(run_id, status)
    if view.status not in ("Pending", "Running"):
        raise Conflict(f"the run is {view.status}; it takes no more events")
    agents = status_input(status).get("graph", {}).get("agents", [])
    awaiting = [a.get("id") for a in agents if (a.get("await_event") or {}).get("name") == name]
    if not awaiting:
        raise NotFound(f"this run awaits no event named {name!r}")
    states = [view.nodes[n].status for n in awaiting if n in view.nodes]
    if states and all(state not in ("waiting", "awaiting_input") for state in states):
        raise Conflict(f"the run is busy: {name!r} was already received; send again when it waits for input")
    await client.raise_event(run_id, name, payload)
    await _note_answer(run_id, name)
