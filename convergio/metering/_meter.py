"""From one agent call's outcome to ledger records: the bridge the ``run_agent`` activity uses.

Sub-graph nodes run as child orchestrations whose run id is ``<root>/<node>``; their usage is
billed to the root run, under the node path (``<node>/<inner node>``), so a run's cost is one
query away.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, NotRequired, TypedDict, Unpack

from ._clock import now_text
from ._gathered import record_gathered
from ._ledger import Ledger
from ._prices import USAGE_UNITS, PriceTable, records_for
from ._record import UNITS, KeyMode, UsageRecord, usage_id

__all__ = ["Metered", "meter_call", "meter_kept", "meter_kept_async", "root_run"]

_SHOWN = ("prompt_tokens", "completion_tokens", "tool_calls")
"""The usage keys a run shows that the ledger bills (``total_tokens`` is their sum)."""


def root_run(run_id: str, node_id: str) -> tuple[str, str]:
    """``("R/sub", "x")`` → ``("R", "sub/x")``: the run billed and the node path in it."""
    root, _, path = run_id.partition("/")
    return root, f"{path}/{node_id}" if path else node_id


class _Call(TypedDict):
    """One agent call, as ``meter_call`` and ``meter_kept`` take it (keyword arguments).

    ``key_mode`` is ``byok`` and ``at`` is now when not given; ``model`` "" bills ``unknown``.
    """

    tenant_id: str
    run_id: str
    node_id: str
    step: int
    provider: str
    model: str
    usage: Mapping[str, Any]
    key_mode: NotRequired[KeyMode]
    at: NotRequired[datetime | None]


def _records(prices: PriceTable, call: _Call) -> tuple[str, str, list[UsageRecord]]:
    """The call's billed run and node path, and its usage records (none when it used nothing)."""
    run, node = root_run(call["run_id"], call["node_id"])
    usage = call["usage"]
    quantities = {k: v for k, v in usage.items() if k in USAGE_UNITS and v}
    if not quantities:
        return run, node, []
    made = records_for(
        call["tenant_id"],
        run,
        node,
        call["step"],
        call["provider"],
        call["model"] or "unknown",
        call.get("key_mode", "byok"),
        quantities,
        prices,
        call.get("at") or now_text(),
        estimated=usage.get("estimated") is True,
    )
    return run, node, made


def meter_call(ledger: Ledger, prices: PriceTable, **call: Unpack[_Call]) -> Decimal:
    """Record one call's usage, idempotent on (tenant, run, node, step, unit); returns its cost (EUR)."""
    _, _, records = _records(prices, call)
    if records:
        ledger.record(records)
    return sum((r.cost for r in records), Decimal(0))


@dataclass(frozen=True, slots=True)
class Metered:
    """One call as the ledger keeps it: the usage to show and the cost to settle."""

    usage: dict[str, int]
    cost: Decimal


def meter_kept(ledger: Ledger, prices: PriceTable, **call: Unpack[_Call]) -> Metered:
    """Record one call's usage, then answer with what the ledger kept for the call.

    The ledger keeps the first record of an id, so when a call is re-sent (a redelivered
    activity) the stored numbers are its first delivery's: those, not the re-sent call's, are
    what the run must show and the budget settle (one truth). All new (the usual case): the
    records just made, no read. Anything already stored, or nothing to record: one read of the
    call's ids (a call whose first delivery was recorded may fail or use nothing the second time).
    """
    run, node, made = _records(prices, call)
    return _kept(ledger, call, run, node, made, bool(made) and ledger.record(made) == len(made))


async def meter_kept_async(ledger: Ledger, prices: PriceTable, **call: Unpack[_Call]) -> Metered:
    """``meter_kept`` for a call on an event loop: its records written with the other calls of
    the loop's turn, in one ``record`` (``record_gathered``, ADR 0065)."""
    run, node, made = _records(prices, call)
    return _kept(ledger, call, run, node, made, bool(made) and await record_gathered(ledger, made))


def _kept(ledger: Ledger, call: _Call, run: str, node: str, made: list[UsageRecord], new: bool) -> Metered:
    """The call as the ledger keeps it: the records just made when they were all ``new``,
    else what one read of the call's ids finds."""
    kept: Sequence[UsageRecord] = made
    if not new:
        tenant, step = call["tenant_id"], call["step"]
        kept = ledger.get(tenant, [usage_id(tenant, run, node, step, unit) for unit in UNITS], run_id=run)
    return Metered(_usage_of(call["usage"], kept), sum((r.cost for r in kept), Decimal(0)))


def _usage_of(usage: Mapping[str, Any], kept: Sequence[UsageRecord]) -> dict[str, int]:
    """The call's usage with the billed counts replaced by the kept records' quantities."""
    billed = {USAGE_UNITS[key]: 0 for key in _SHOWN}
    for record in kept:
        if record.unit in billed:
            billed[record.unit] += int(record.quantity)
    shown: dict[str, int] = {k: v for k, v in usage.items() if isinstance(v, int) and k != "estimated"}
    shown.update({key: billed[USAGE_UNITS[key]] for key in _SHOWN})
    shown["total_tokens"] = shown["prompt_tokens"] + shown["completion_tokens"]
    if any(r.estimated for r in kept):
        shown["estimated"] = True
    return shown
