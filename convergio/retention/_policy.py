"""A tenant's retention policy and the record of its last sweep, kept in the tenant store.

Both live in the tenant store's ``retention`` records (``policy`` and ``sweep``), so they are
shared by every instance and need no store of their own. A tenant without a policy gets the
defaults; bounds are checked here, where the sweep reads them, and again by the API model.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Final

from convergio.tenants import TenantStore

__all__ = [
    "FINISHED_RUNS_DAYS",
    "KIND",
    "STREAM_EVENTS_DAYS",
    "RetentionPolicy",
    "last_sweep",
    "policy_of",
    "record_sweep",
    "set_policy",
]

KIND: Final = "retention"
FINISHED_RUNS_DAYS: Final = (1, 3650)
"""Bounds of ``finished_runs_days``: at least a day (a run is readable after it ends), at most ten years."""
STREAM_EVENTS_DAYS: Final = (1, 365)
"""Bounds of ``stream_events_days``: events are for watching a run, not for keeping it."""
_POLICY: Final = "policy"
_SWEEP: Final = "sweep"


@dataclass(frozen=True, slots=True)
class RetentionPolicy:
    """How long a tenant's finished runs (history, payloads, index entry) and stream events are kept.

    The usage ledger is not covered: billing records are kept as long as the law asks.

    Raises:
        ValueError: A value is out of bounds, or events would outlive their runs (names the field).
    """

    finished_runs_days: int = 90
    stream_events_days: int = 7

    def __post_init__(self) -> None:
        for field, (low, high) in (
            ("finished_runs_days", FINISHED_RUNS_DAYS),
            ("stream_events_days", STREAM_EVENTS_DAYS),
        ):
            value = getattr(self, field)
            if type(value) is not int or not low <= value <= high:
                raise ValueError(f"{field}: must be an integer from {low} to {high}")
        if self.stream_events_days > self.finished_runs_days:
            raise ValueError("stream_events_days: must not exceed finished_runs_days")

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


def policy_of(store: TenantStore, tenant_id: str) -> tuple[RetentionPolicy, bool]:
    """The tenant's policy, and whether it was set (False: the defaults)."""
    body = store.records(KIND).get(tenant_id, _POLICY)
    if body is None:
        return RetentionPolicy(), False
    return RetentionPolicy(
        **{k: body[k] for k in ("finished_runs_days", "stream_events_days") if k in body}
    ), True


def set_policy(store: TenantStore, tenant_id: str, policy: RetentionPolicy) -> None:
    """Store the tenant's policy; the next sweep applies it."""
    store.records(KIND).put(tenant_id, _POLICY, policy.as_dict())


def last_sweep(store: TenantStore, tenant_id: str) -> dict[str, Any] | None:
    """What the last sweep did for the tenant (time, counts, whether work is left), or None."""
    return store.records(KIND).get(tenant_id, _SWEEP)


def record_sweep(store: TenantStore, tenant_id: str, summary: dict[str, Any]) -> None:
    store.records(KIND).put(tenant_id, _SWEEP, summary)
