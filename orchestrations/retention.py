"""The retention orchestration: an eternal loop of sweep, durable timer, continue-as-new.

One instance per task hub (``convergio-retention``, started by ``ensure_retention``). Each
execution plans (the tenants, the interval and batch from the settings, read by an activity
so replays see the same values), sweeps each tenant in turn, runs the platform backstop, shows
what it did in its custom status, sleeps, and continues as new so its own history stays one
sweep long. A failed activity is counted and skipped: the loop itself must never end. When a
tenant had more work than one pass allows, the next sweep comes after ``CATCH_UP_S`` instead.

Deterministic: time from ``current_utc_datetime``, no I/O, no settings read here.
"""

from __future__ import annotations

from collections.abc import Generator
from datetime import timedelta
from typing import Any, Final

import azure.durable_functions as df

from convergio.retention import RETENTION_BACKSTOP, RETENTION_PLAN, RETENTION_SWEEP

__all__ = ["CATCH_UP_S", "sweep_forever"]

CATCH_UP_S: Final = 60
_FALLBACK_S: Final = 3600
"""How long to wait when even the plan failed (the settings are unknown then)."""


def sweep_forever(context: df.DurableOrchestrationContext) -> Generator[Any, Any, dict[str, Any]]:
    state = context.get_input() or {}
    now = context.current_utc_datetime
    at = now.isoformat()
    summary: dict[str, Any] = {"sweep": int(state.get("sweep", 0)) + 1, "at": at, "tenants": 0}
    summary |= {"runs_purged": 0, "events_dropped": 0, "failed": 0, "more": False}
    interval = int(state.get("interval_s", _FALLBACK_S))
    try:
        plan = yield context.call_activity(RETENTION_PLAN, {"at": at})
    except Exception:
        plan, summary["failed"] = None, 1
    if plan is not None:
        interval = int(plan["interval_s"])
        # The backstop keeps what the longest policy keeps, and never less than the defaults.
        longest = {key: int(value) for key, value in plan["defaults"].items()}
        for tenant in plan["tenants"]:
            try:
                done = yield context.call_activity(
                    RETENTION_SWEEP, {"tenant": tenant, "at": at, "batch": plan["batch"]}
                )
            except Exception:
                summary["failed"] += 1
                continue
            summary["tenants"] += 1
            summary["runs_purged"] += done["runs_purged"]
            summary["events_dropped"] += done["events_dropped"]
            summary["more"] = summary["more"] or bool(done["more"])
            for key in longest:
                longest[key] = max(longest[key], int(done["policy"][key]))
        if summary["failed"] == 0:  # the longest policy is known only when every tenant answered
            try:
                summary["backstop"] = yield context.call_activity(RETENTION_BACKSTOP, {"at": at, **longest})
            except Exception:
                summary["failed"] += 1
    delay = min(interval, CATCH_UP_S) if summary["more"] else interval
    next_at = now + timedelta(seconds=delay)
    context.set_custom_status({**summary, "next_at": next_at.isoformat()})
    yield context.create_timer(next_at)
    context.continue_as_new({"sweep": summary["sweep"], "interval_s": interval})
    return summary
