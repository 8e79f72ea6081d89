"""Tenant-month budgets and managed-key guard rails (downgrade at 80 %, throttle at 100 %, consent).

Unlike ``convergio.budget`` (a run's budget, pure, held by the orchestrator), these limits span
runs and processes, so they live in a store and are reserved atomically by the activity.
"""

from ._guard import Admission, SpendGuard, cheaper_model
from ._store import DOWNGRADE_AT, Decision, QuotaStore, TenantBudget, month_of

__all__ = [
    "DOWNGRADE_AT",
    "Admission",
    "Decision",
    "QuotaStore",
    "SpendGuard",
    "TenantBudget",
    "cheaper_model",
    "month_of",
]
