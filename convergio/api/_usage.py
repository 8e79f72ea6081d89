"""``GET /api/v1/usage``: the calling tenant's billed usage, rolled up (numba kernel) by any keys."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, cast

import azure.durable_functions as df
import azure.functions as func

from convergio.errors import InvalidRequest
from convergio.metering import GROUP_BY, GroupBy, rollup, unpriced_tokens
from convergio.tenants import Permission

from ._http import answer, json_response, tenant_of
from ._service import service

__all__: list[str] = []

_DEFAULT_GROUPS = "day,model"


def _group_by(raw: str) -> list[GroupBy]:
    keys = [k.strip() for k in raw.split(",") if k.strip()]
    wrong = [k for k in keys if k not in GROUP_BY or k == "tenant"]
    if wrong or len(set(keys)) != len(keys):
        allowed = ", ".join(k for k in GROUP_BY if k != "tenant")
        raise InvalidRequest(f"group_by: use distinct keys among {allowed}", details=[_problem("group_by")])
    return cast(list[GroupBy], keys)


def _problem(path: str) -> dict[str, str]:
    return {"path": path, "message": "invalid value"}


@answer
async def usage(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    svc = service()
    tenant = tenant_of(req, svc, Permission.READ_USAGE)
    group_by = _group_by(req.params.get("group_by", _DEFAULT_GROUPS))
    start, end = req.params.get("from"), req.params.get("to")
    try:
        records = svc.ledger.query(tenant.id, start=start, end=end)
    except ValueError as exc:
        raise InvalidRequest(f"from/to: {exc}", details=[_problem("from"), _problem("to")]) from None
    rows = rollup(records, group_by)
    unpriced = unpriced_tokens(records, group_by)  # billed 0 because no price covers them: not free
    body: dict[str, Any] = {
        "group_by": group_by,
        "from": start,
        "to": end,
        "currency": "EUR",
        "rows": [{**row.to_json(group_by), "unpriced_tokens": unpriced.get(row.keys, 0)} for row in rows],
        "total_eur": str(sum((row.cost for row in rows), Decimal(0))),
        "unpriced_tokens": sum(unpriced.values()),
    }
    return json_response(body)
