"""``GET /api/v1/runs/{id}/agents/{node}``: one agent of a run, call by call, and what was billed.

The polled run view says how a node ended and what it cost in total. A teacher checking a run
(or an admin checking a bill) needs each call: which provider and model answered, the tokens
and the cost the ledger kept, the error of a failed attempt, a supervisor's delegations, and,
on demand, the prompt the agent was given. This reads them from two records, asked for only
when someone opens an agent (never by the poll loop):

- the run's **history**: each call of the node is an activity whose input (the agent, the run
  input, its dependencies' outputs, a planner's task) and result (status, provider, model,
  usage, error) are there, with when the engine asked for it and when the answer came;
- the **ledger**: what was billed for each of the node's calls, by step (a call aborted by a
  cancel bills what ran although the run never saw its answer, ADR 0017).

The prompt is rendered from the attempt's own input, as the agent rendered it before its
guards ran. It and the run's input may carry students' data, so they are in the answer only with
``?prompt=true``, to callers who may read the run (a student: their own runs only).

The engine asks for an activity, which may wait for a free worker before it runs: ``asked_at``
is when it was asked for, ``started_at`` when it began (every ``run_agent`` result carries it;
results of older releases do not, and then it is empty).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any

import azure.durable_functions as df
import azure.functions as func

from convergio.errors import InvalidRequest, NotFound
from convergio.graph import TemplateError, render_prompt
from convergio.metering import UsageRecord
from convergio.tenants import Permission

from ._http import answer, json_response, off_loop, run_for
from ._views import status_history

__all__ = ["agent_calls", "agent_detail"]

_CALLS = frozenset({"run_agent", "route_request", "a2a_send", "a2a_poll"})
_DONE = "TaskCompleted"
_FAILED = "TaskFailed"
_SCHEDULED = "TaskScheduled"
_MAX_TEXT = 20_000
_TOKENS = frozenset({"input_tokens", "output_tokens"})


def _decoded(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _clip(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value)
    return text if len(text) <= _MAX_TEXT else text[:_MAX_TEXT] + " …"


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def agent_calls(history: Iterable[Any] | None, node: str) -> list[dict[str, Any]]:
    """The history events of ``node``'s calls (asked, answered or failed), oldest first."""
    found: list[dict[str, Any]] = []
    for event in history or []:
        if not isinstance(event, dict) or event.get("EventType") not in (_DONE, _FAILED, _SCHEDULED):
            continue
        name = event.get("FunctionName") or event.get("Name")
        if name not in _CALLS:
            continue
        call = _decoded(event.get("Input"))
        if isinstance(call, dict) and call.get("node_id") == node:
            found.append(event | {"Input": call, "FunctionName": name})
    return found


def _prompt(call: Mapping[str, Any]) -> dict[str, Any]:
    """What the call was given: the run's input, instructions, and the prompt rendered from them."""
    given = {"input": call.get("input")}
    return given | _rendered(call)


def _rendered(call: Mapping[str, Any]) -> dict[str, str | None]:
    agent = _dict(call.get("agent"))
    source = agent.get("prompt") if agent else call.get("prompt")
    context = {
        "input": call.get("input"),
        "outputs": call.get("outputs") or {},
        "event": call.get("event"),
        "task": call.get("task"),
    }
    if not isinstance(source, str):
        text = call.get("task")
        return {"instructions": _clip(agent.get("instructions")), "text": _clip(text), "error": None}
    try:
        text = render_prompt(source, context)
    except TemplateError as exc:
        return {"instructions": _clip(agent.get("instructions")), "text": None, "error": str(exc)}
    return {"instructions": _clip(agent.get("instructions")), "text": _clip(text), "error": None}


def _billed(records: Sequence[UsageRecord]) -> dict[str, Any]:
    cost = sum((r.cost for r in records), Decimal(0))
    tokens = sum(int(r.quantity) for r in records if r.unit in _TOKENS)
    unpriced = sum(int(r.quantity) for r in records if r.unit in _TOKENS and r.unpriced)
    return {
        "cost_eur": format(cost, "f"),
        "tokens": tokens,
        "unpriced_tokens": unpriced,
        "tool_calls": sum(int(r.quantity) for r in records if r.unit == "tool_calls"),
        "estimated": any(r.estimated for r in records),
        "provider": records[0].provider if records else None,
        "model": records[0].model if records else None,
        "key_mode": records[0].key_mode if records else None,
        "at": max((r.at for r in records), default=None),
    }


def _attempt(event: dict[str, Any], records: Sequence[UsageRecord], with_prompt: bool) -> dict[str, Any]:
    call: dict[str, Any] = event["Input"]
    kind = event["EventType"]
    result = _dict(_decoded(event.get("Result"))) if kind == _DONE else {}
    agent = _dict(call.get("agent"))
    billed = _billed(records) if records else None
    if kind == _DONE:
        status = str(result.get("status") or "completed")
    elif kind == _FAILED:
        status = "failed"
    else:
        status = "asked"  # no answer yet: waiting for a worker, or running
    usage = result.get("usage") if isinstance(result.get("usage"), dict) else None
    entry: dict[str, Any] = {
        "step": _int(call.get("step")),
        "attempt": _int(call.get("attempt")),
        "call": event["FunctionName"],
        "status": status,
        "asked_at": event.get("ScheduledTime") if kind != _SCHEDULED else event.get("Timestamp"),
        "answered_at": event.get("Timestamp") if kind != _SCHEDULED else None,
        "started_at": result.get("started_at") if isinstance(result.get("started_at"), str) else None,
        "connection": agent.get("provider"),
        "provider": result.get("provider") or (billed or {}).get("provider") or None,
        "model": result.get("model") or (billed or {}).get("model") or agent.get("model") or None,
        "usage": {k: _int(v) for k, v in usage.items()} if usage else None,
        "error": _clip(result.get("error") if kind == _DONE else event.get("Reason")),
        "tools": _tools(result),
        "delegated": [
            {"worker": str(c.get("worker", "")), "task": _clip(c.get("task")) or ""}
            for c in result.get("calls") or []
            if isinstance(c, dict)
        ],
        "billed": billed,
    }
    if event["FunctionName"] == "route_request":
        entry["provider"], entry["model"] = "router", "trigram similarity (no model)"
        entry["scores"] = result.get("scores") if isinstance(result.get("scores"), dict) else None
        entry["chosen"] = result.get("chosen") if isinstance(result.get("chosen"), list) else None
    if with_prompt:
        entry["prompt"] = _prompt(call)
    return entry


def _tools(result: Mapping[str, Any]) -> list[dict[str, Any]] | None:
    """The call's tool calls with their results, when its outcome records them (else None)."""
    tools = result.get("tools")
    if not isinstance(tools, list):
        return None
    return [
        {
            "name": str(t.get("name", "")),
            "arguments": t.get("arguments"),
            "result": _clip(t.get("result")),
        }
        for t in tools
        if isinstance(t, dict)
    ]


def agent_detail(
    history: Iterable[Any] | None,
    node: str,
    records: Sequence[UsageRecord],
    *,
    with_prompt: bool = False,
) -> dict[str, Any]:
    """``node``'s calls from a run's history (input shown) and the run's ledger records.

    Each call is matched to what the ledger billed for its step; a billed step with no call in
    the history (one aborted by a cancel after the run stopped waiting) is listed too, as such.
    """
    mine = [r for r in records if r.node_id == node or r.node_id.startswith(f"{node}/")]
    by_step: dict[int, list[UsageRecord]] = {}
    for record in mine:
        if record.node_id == node:
            by_step.setdefault(record.attempt, []).append(record)
    attempts = []
    seen: set[int] = set()
    for event in agent_calls(history, node):
        step = _int(event["Input"].get("step"))
        attempts.append(_attempt(event, by_step.get(step, []) if step not in seen else [], with_prompt))
        seen.add(step)
    for step in sorted(set(by_step) - seen):
        billed = _billed(by_step[step])
        attempts.append(
            {
                "step": step,
                "attempt": None,
                "call": "run_agent",
                "status": "unanswered",  # billed, but the run stopped waiting before its answer came
                "asked_at": None,
                "answered_at": None,
                "started_at": None,
                "connection": None,
                "provider": billed["provider"],
                "model": billed["model"],
                "usage": None,
                "error": None,
                "tools": None,
                "delegated": [],
                "billed": billed,
            }
        )
    attempts.sort(key=lambda a: (a["step"], a["asked_at"] or ""))
    return {"node": node, "attempts": attempts, "billed": _billed(mine)}


@answer
async def get_run_agent(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    from ._service import service

    svc = service()
    record = await off_loop(run_for, req, svc, Permission.READ_OWN_RUNS)
    run_id = record.run_id
    node = str(req.route_params.get("node", ""))
    raw = (req.params.get("prompt") or "false").lower()
    if raw not in ("true", "false", "1", "0"):
        problem = {"path": "prompt", "message": "true or false"}
        raise InvalidRequest("prompt: true or false", details=[problem])
    status = await client.get_status(run_id, show_history=True, show_history_output=True, show_input=True)
    if status.runtime_status is None:
        raise NotFound(f"run {run_id!r} has no state (it never started, or was purged)")
    records = await off_loop(svc.ledger.query, record.tenant_id, run_id=run_id)
    body = agent_detail(status_history(status), node, records, with_prompt=raw in ("true", "1"))
    if not body["attempts"] and node not in _graph_agents(status.input_):  # a re-plan's new agent has calls
        raise NotFound(f"run {run_id!r} has no agent {node!r}")
    return json_response({"run_id": run_id, **body}, headers={"Cache-Control": "private, no-store"})


def _graph_agents(run_input: Any) -> set[str]:
    """The agents of the graph the run started with (their workers too)."""
    decoded = _decoded(run_input)
    graph = decoded.get("graph") if isinstance(decoded, dict) else None
    agents = graph.get("agents") if isinstance(graph, dict) else None
    ids = {a["id"] for a in agents or [] if isinstance(a, dict) and isinstance(a.get("id"), str)}
    for agent in agents or []:
        if isinstance(agent, dict):
            ids.update(w for w in agent.get("workers") or [] if isinstance(w, str))
    return ids
