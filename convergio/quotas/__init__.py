"""Tenant-month budgets and managed-key guard rails (downgrade at 80 %, throttle at 100 %, consent).

Unlike ``convergio.budget`` (a run's budget, pure, held by the orchestrator), these limits span
runs, processes and app instances, so they live in a store and are reserved atomically by the
activity: :class:`QuotaStore` is the protocol, :class:`SqliteQuotaStore` (one host) and
:class:`CosmosQuotaStore` (the shared control plane) its adapters, :func:`open_quota_store`
picks one. Far from the limits, the SQLite adapter admits most calls in memory from a budget
lease of its process (ADR 0037).
"""

from ._allowance import MIN_OUTPUT_TOKENS, QUOTA_WAIT_S, MonthlyAllowance, UnpricedPolicy, unpriced_refusal
from ._cosmos import CosmosQuotaStore
from ._guard import Admission, SpendGuard, cheaper_model
from ._open import open_quota_store
from ._quota import DOWNGRADE_AT, Decision, KeyMode, QuotaStore, Room, TenantBudget, month_of
from ._store import SqliteQuotaStore

__all__ = [
    "DOWNGRADE_AT",
    "MIN_OUTPUT_TOKENS",
    "QUOTA_WAIT_S",
    "Admission",
    "CosmosQuotaStore",
    "Decision",
    "KeyMode",
    "MonthlyAllowance",
    "QuotaStore",
    "Room",
    "SpendGuard",
    "SqliteQuotaStore",
    "TenantBudget",
    "UnpricedPolicy",
    "cheaper_model",
    "month_of",
    "open_quota_store",
    "unpriced_refusal",
]
