"""Retention: how long finished runs and stream events are kept, and the sweep that enforces it.

RetentionPolicy          a tenant's ``finished_runs_days`` / ``stream_events_days`` (defaults 90 / 7)
policy_of / set_policy   in the tenant store's ``retention`` records, with the last sweep's summary
sweep_tenant             one bounded pass over a tenant's run index (history, events, index entry)
backstop                 what no tenant keeps: instances and events past the longest policy
ensure_retention         start the eternal ``retention`` orchestration once per task hub

The usage ledger is out of scope on purpose: costs are kept as long as the law asks (ADR 0018).
"""

from convergio.retention._durable import (
    RETENTION,
    RETENTION_BACKSTOP,
    RETENTION_INSTANCE,
    RETENTION_PLAN,
    RETENTION_SWEEP,
    DurableInstances,
    ensure_once,
    ensure_retention,
)
from convergio.retention._policy import (
    FINISHED_RUNS_DAYS,
    STREAM_EVENTS_DAYS,
    RetentionPolicy,
    last_sweep,
    policy_of,
    set_policy,
)
from convergio.retention._sweep import TERMINAL, Instances, backstop, stamp, sweep_tenant

__all__ = [
    "FINISHED_RUNS_DAYS",
    "RETENTION",
    "RETENTION_BACKSTOP",
    "RETENTION_INSTANCE",
    "RETENTION_PLAN",
    "RETENTION_SWEEP",
    "STREAM_EVENTS_DAYS",
    "TERMINAL",
    "DurableInstances",
    "Instances",
    "RetentionPolicy",
    "backstop",
    "ensure_once",
    "ensure_retention",
    "last_sweep",
    "policy_of",
    "set_policy",
    "stamp",
    "sweep_tenant",
]
