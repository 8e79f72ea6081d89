"""``GET /api/v1/usage/graphs``: the calling tenant's billed usage by graph (issue 23.8).

The ledger knows runs and agents, not graphs: ``GET /usage?group_by=agent`` merges two agents
of the same id in different graphs. Here the records are rolled up by run (and agent), and each
run's graph is read from the run index, once per run in the period. A run the index no longer
lists (purged by retention; its ledger records stay) counts under ``graph: null``.

``group_by``: ``graph`` (default), ``graph,agent`` or ``graph,run``. The answer has the shape
of ``GET /usage``: ``rows`` (each with its keys, ``quantity``, ``cost``, ``count`` and
``unpriced_tokens``), ``total_eur`` and ``unpriced_tokens``; rows with ``run`` also carry the
run's ``created_at``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import azure.durable_functions as df
import azure.functions as func

from convergio.errors import InvalidRequest
from convergio.metering import rollup, unpriced_tokens
from convergio.metering._canonical import decimal_text
from convergio.tenants import Permission, RunRecord

from ._http import answer, json_response, tenant_of
from ._service import service

__all__ = ["GRAPH_GROUPS", "by_graph", "openapi_paths"]

GRAPH_GROUPS: tuple[tuple[str, ...], ...] = (("graph",), ("graph", "agent"), ("graph", "run"))
"""The groupings this endpoint answers."""


@dataclass
class _Sum:
    quantity: dict[str, int | Decimal] = field(default_factory=dict)
    cost: Decimal = Decimal(0)
    count: int = 0
    unpriced_tokens: int = 0


def _parse(raw: str) -> tuple[str, ...]:
    keys = tuple(k.strip() for k in raw.split(",") if k.strip())
    if keys not in GRAPH_GROUPS:
        allowed = "; ".join(",".join(g) for g in GRAPH_GROUPS)
        message = f"use one of {allowed}"
        raise InvalidRequest(f"group_by: {message}", details=[{"path": "group_by", "message": message}])
    return keys


def by_graph(
    records: Sequence[Any],
    group_by: Sequence[str],
    run_of: Callable[[str], RunRecord | None],
) -> list[dict[str, Any]]:
    """Rows of ``records`` (usage records) grouped by graph and then agent or run.

    Args:
        records: The tenant's usage records of the period.
        group_by: One of :data:`GRAPH_GROUPS`.
        run_of: A run's index entry (or None when the index no longer lists it).

    Returns:
        One JSON-safe row per group, sorted by cost (highest first), then keys.
    """
    inner = ["run", "agent"] if "agent" in group_by else ["run"]
    rows = rollup(records, inner)  # type: ignore[arg-type]
    unpriced = unpriced_tokens(records, inner)  # type: ignore[arg-type]
    runs: dict[str, RunRecord | None] = {}
    sums: dict[tuple[str | None, ...], _Sum] = {}
    for row in rows:
        run_id = row.keys[0]
        if run_id not in runs:
            runs[run_id] = run_of(run_id)
        record = runs[run_id]
        graph = record.graph_name if record is not None else None
        key: tuple[str | None, ...] = (graph,)
        if "agent" in group_by:
            key = (graph, row.keys[1])
        elif "run" in group_by:
            key = (graph, run_id)
        total = sums.setdefault(key, _Sum())
        for unit, value in row.quantity.items():
            total.quantity[unit] = total.quantity.get(unit, 0) + value
        total.cost += row.cost
        total.count += row.count
        total.unpriced_tokens += unpriced.get(row.keys, 0)
    out = []
    for key, total in sums.items():
        body: dict[str, Any] = dict(zip(group_by, key, strict=True))
        if "run" in group_by:
            record = runs.get(str(key[1]))
            body["created_at"] = record.created_at if record is not None else None
        body["quantity"] = _quantity(total.quantity)
        body["cost"] = decimal_text(total.cost)
        body["count"] = total.count
        body["unpriced_tokens"] = total.unpriced_tokens
        out.append(body)
    out.sort(key=lambda r: (-Decimal(r["cost"]), -_tokens(r["quantity"]), [str(r[k]) for k in group_by]))
    return out


def _quantity(quantity: Mapping[str, int | Decimal]) -> dict[str, int | str]:
    return {unit: v if isinstance(v, int) else decimal_text(v) for unit, v in quantity.items()}


def _tokens(quantity: Mapping[str, int | str]) -> int:
    return sum(int(Decimal(str(v))) for unit, v in quantity.items() if unit.endswith("tokens"))


@answer
async def usage_by_graph(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    svc = service()
    tenant = tenant_of(req, svc, Permission.READ_USAGE)
    group_by = _parse(req.params.get("group_by", "graph"))
    start, end = req.params.get("from"), req.params.get("to")
    try:
        records = svc.ledger.query(tenant.id, start=start, end=end)
    except ValueError as exc:
        problems = [{"path": p, "message": "invalid value"} for p in ("from", "to")]
        raise InvalidRequest(f"from/to: {exc}", details=problems) from None

    def run_of(run_id: str) -> RunRecord | None:
        record = svc.store.run(run_id)
        return record if record is not None and record.tenant_id == tenant.id else None

    rows = by_graph(records, group_by, run_of)
    body = {
        "group_by": list(group_by),
        "from": start,
        "to": end,
        "currency": "EUR",
        "rows": rows,
        "total_eur": decimal_text(sum((Decimal(r["cost"]) for r in rows), Decimal(0))),
        "unpriced_tokens": sum(r["unpriced_tokens"] for r in rows),
    }
    return json_response(body)


def openapi_paths(
    body: Callable[[str], dict[str, Any]], errors: Callable[..., dict[str, Any]]
) -> dict[str, Any]:
    """This endpoint's entry of the OpenAPI document (``_openapi.py`` merges it into ``paths``)."""

    def query(name: str, description: str) -> dict[str, Any]:
        return {
            "name": name,
            "in": "query",
            "required": False,
            "schema": {"type": "string"},
            "description": description,
        }

    return {
        "/api/v1/usage/graphs": {
            "get": {
                "summary": "Billed usage by graph, then by agent or run (agents of two graphs kept apart)",
                "parameters": [
                    query("from", "ISO date or time, inclusive"),
                    query("to", "ISO date or time, exclusive"),
                    query("group_by", "graph (default), graph,agent or graph,run"),
                ],
                "responses": {
                    "200": {"description": "rows (graph: null for runs no longer listed) and total (EUR)"}
                }
                | errors(400, 401, 403),
            }
        }
    }
