"""A budget lease's state and arithmetic (ADR 0037): what it holds, whether it may keep
admitting, and how big a new step is. :class:`~convergio.quotas._lease.Leases` keeps the leases
of a store, admits from them and writes them.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from decimal import ROUND_FLOOR, Decimal

from ._batch import Month
from ._quota import DOWNGRADE_AT, KeyMode

__all__ = ["LEASE_CALLS", "LEASE_MIN_CALLS", "LEASE_SHARE", "Lease", "fits", "step_size"]

LEASE_CALLS = 16
"""A step's free part: this many estimates of the call that takes it (one transaction per step)."""
LEASE_MIN_CALLS = 8
"""Under this many estimates in a step (near a limit: a headroom under ``LEASE_SHARE`` times as
many), calls reserve one by one instead, as they see each other's reservations at once."""
LEASE_SHARE = 8
"""A step takes at most this fraction of the headroom, so other processes keep room."""

_ZERO = Decimal(0)
_CENT = Decimal("1e-10")  # steps are cut to this, so running totals stay exact decimal sums


@dataclass(slots=True, eq=False)
class Lease:
    """One process's lease for a (tenant, month, key mode): its hold as written, and in memory
    what was drawn (``open``: call -> estimate) and settled but not written (``pending``)."""

    id: str
    tenant_id: str
    month: str
    key_mode: KeyMode
    hold: Decimal = _ZERO
    free: Decimal = _ZERO
    open: dict[str, Decimal] = field(default_factory=dict)
    # (reserved, spent, what was called: named in an overrun's event)
    pending: dict[str, tuple[Decimal, Decimal, str]] = field(default_factory=dict)
    live: bool = False  # calls may draw from it
    drawn_at: float = 0.0  # ``time.monotonic()`` of its last draw (an idle lease is given back)
    version: int | None = None  # the file's data_version when it was last checked
    seen: int | None = None  # and a connection's of its own (``DataVersion``) as of that check
    expires: float = 0.0  # as written in ``leases``

    def reserved(self, reservation: str) -> Decimal:
        found = self.open.get(reservation)
        return found if found is not None else self.pending[reservation][0]

    def returns(self) -> Decimal:
        """What the settlements not written yet give back (the file counts them at their estimate)."""
        return sum((reserved - spent for reserved, spent, _ in self.pending.values()), _ZERO)

    def state(self) -> Lease:
        """A copy to restore if a transaction is rolled back."""
        return replace(self, open=dict(self.open), pending=dict(self.pending))

    def restore(self, state: Lease) -> None:
        for name in ("hold", "free", "open", "pending", "live", "drawn_at", "version"):
            setattr(self, name, getattr(state, name))


def fits(lease: Lease, month: Month) -> bool:
    """Whether a lease may keep admitting in memory: the month's total, its hold included, is
    within the limits, and a managed lease's use is under the downgrade threshold (a call it
    admits is never one a reservation of its own would have downgraded or refused)."""
    budget = month.budget
    over = sum((spent - reserved for reserved, spent, _ in lease.pending.values() if spent > reserved), _ZERO)
    if budget.monthly_eur is not None and month.used(None) + over > budget.monthly_eur:
        return False
    if lease.key_mode != "managed":
        return True
    used = month.used("managed") + over
    cap = budget.managed_cap_eur
    return budget.managed_enabled and used <= cap + month.consent and used < cap * DOWNGRADE_AT


def step_size(month: Month, key_mode: KeyMode, estimate: Decimal) -> Decimal | None:
    """The free part of a new step, after a call of ``estimate`` is drawn; ``None``: near a
    limit or the managed downgrade threshold, reserve one by one."""
    size = estimate * LEASE_CALLS
    budget = month.budget
    rooms: list[Decimal] = []
    if budget.monthly_eur is not None:
        rooms.append(budget.monthly_eur - month.used(None) - estimate)
    if key_mode == "managed":
        used = month.used("managed") + estimate
        below = budget.managed_cap_eur * DOWNGRADE_AT - used
        if below <= 0:
            return None
        rooms += [budget.managed_cap_eur + month.consent - used, below]
    if rooms:
        size = min(size, min(rooms) / LEASE_SHARE)
    size = size.quantize(_CENT, rounding=ROUND_FLOOR) if size else size
    return None if size < 0 or size < estimate * LEASE_MIN_CALLS else size
