"""The quota store's protocol and the rules both adapters apply (SQLite embedded, Cosmos DB on Azure).

The rules are pure functions of what a reservation reads (the tenant's budget, the month's
consent and what is already used), so the two adapters cannot drift apart on who is admitted,
downgraded or throttled; each adapter only makes its read-check-write atomic in its own way.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Literal, Protocol, runtime_checkable

__all__ = [
    "DOWNGRADE_AT",
    "Decision",
    "KeyMode",
    "QuotaStore",
    "Room",
    "TenantBudget",
    "Verdict",
    "check",
    "month_of",
    "headroom",
    "overrun_event",
    "readmit",
    "reservation_key",
]

DOWNGRADE_AT = Decimal("0.8")
KeyMode = Literal["byok", "managed"]


def month_of(moment: datetime) -> str:
    utc = moment.astimezone(UTC)
    return f"{utc.year:04d}-{utc.month:02d}"  # strftime costs more, once per reservation


def reservation_key(tenant_id: str, call: str | None) -> str:
    """32 hex digits: the same for every delivery of ``call`` (per tenant), a fresh one without it."""
    if call is None:
        return uuid.uuid4().hex
    return hashlib.blake2b(f"{tenant_id}\x1f{call}".encode(), digest_size=16).hexdigest()


@dataclass(frozen=True, slots=True)
class TenantBudget:
    """A tenant's monthly limits; ``None`` means no limit on BYOK spending."""

    tenant_id: str
    monthly_eur: Decimal | None = None
    managed_enabled: bool = False
    managed_cap_eur: Decimal = Decimal(0)


@dataclass(frozen=True, slots=True)
class Decision:
    """The answer to a reservation: go (maybe downgraded) or refuse, with the reason."""

    allowed: bool
    reservation_id: str | None = None
    downgrade: bool = False
    reason: str = ""
    reserved: Decimal = Decimal(0)
    """What the reservation holds: the estimate (a redelivered call: what its first delivery
    reserved), so the call can be bounded to it."""


@dataclass(frozen=True, slots=True)
class Room:
    """What a new reservation could still take (``free``, ``None``: no limit applies) and how
    much of the used amount is open reservations (``held``) that may yet come back."""

    free: Decimal | None
    held: Decimal


@dataclass(frozen=True, slots=True)
class Verdict:
    """What :func:`check` decided, and the guard-rail event to record with it (kind, detail)."""

    allowed: bool
    downgrade: bool = False
    reason: str = ""
    event: tuple[str, str] | None = None


def check(
    budget: TenantBudget,
    consent: Decimal,
    used: Callable[[str | None], Decimal],
    key_mode: KeyMode,
    estimate_eur: Decimal,
    month: str,
) -> Verdict:
    """May a new reservation of ``estimate_eur`` go? ``used(mode)`` is spent plus still-open
    reservations of that key mode this month (``None``: every mode)."""
    if budget.monthly_eur is not None and used(None) + estimate_eur > budget.monthly_eur:
        return Verdict(
            False,
            reason=f"budget_exhausted: monthly budget of {budget.monthly_eur} EUR",
            event=("throttle", f"monthly budget {budget.monthly_eur} EUR reached"),
        )
    if key_mode != "managed":
        return Verdict(True)
    if not budget.managed_enabled:
        return Verdict(False, reason="managed keys are not enabled for this tenant (BYOK only)")
    managed = used("managed")
    cap = budget.managed_cap_eur + consent
    if managed + estimate_eur > cap:
        return Verdict(
            False,
            reason=f"budget_exhausted: managed-key cap of {cap} EUR for {month}",
            event=("throttle", f"managed-key cap {cap} EUR reached"),
        )
    if managed >= budget.managed_cap_eur * DOWNGRADE_AT:
        return Verdict(True, True, event=("downgrade", f"managed-key use at >= {DOWNGRADE_AT:%} of the cap"))
    return Verdict(True)


def headroom(
    budget: TenantBudget, consent: Decimal, used: Callable[[str | None], Decimal], key_mode: KeyMode
) -> Decimal | None:
    """The largest estimate :func:`check` would admit now (``None``: no limit; 0: none)."""
    rooms: list[Decimal] = []
    if budget.monthly_eur is not None:
        rooms.append(budget.monthly_eur - used(None))
    if key_mode == "managed":
        cap = budget.managed_cap_eur + consent if budget.managed_enabled else Decimal(0)
        rooms.append(cap - used("managed"))
    return max(min(rooms), Decimal(0)) if rooms else None


def readmit(budget: TenantBudget, used_managed: Decimal, counted: Decimal, key_mode: KeyMode) -> bool:
    """Whether a redelivered call (admitted already, ``counted`` euros of the month's total) is
    downgraded: judged by what the other calls used, as its first delivery was."""
    if key_mode != "managed":
        return False
    return used_managed - counted >= budget.managed_cap_eur * DOWNGRADE_AT


def overrun_event(called: str, reserved: Decimal, spent: Decimal) -> tuple[str, str]:
    """The event recorded with a settlement above its reservation (ADR 0051): what was called
    (``called``: connection, provider, model; no prompt text), what it reserved and was billed."""
    return "overrun", f"{called or 'a call'} billed {spent} EUR, over the {reserved} EUR it reserved"


@runtime_checkable
class QuotaStore(Protocol):
    """Budgets, consents, atomic reservations and guard-rail events of every tenant.

    Any number of parallel reservations, from any number of processes or instances, can never
    together pass a limit; a reservation keyed by its call is made once however often the call
    is delivered, and settled once.
    """

    def close(self) -> None: ...

    def set_budget(self, budget: TenantBudget) -> None:
        """Replace the tenant's limits (they apply to this month's spending so far too)."""
        ...

    def budget(self, tenant_id: str) -> TenantBudget:
        """The tenant's limits; a tenant never configured is BYOK without limit."""
        ...

    def consent(self, tenant_id: str, amount_eur: Decimal, *, now: datetime) -> None:
        """Record explicit consent to managed-key overage up to ``amount_eur`` this month."""
        ...

    def reserve(
        self,
        tenant_id: str,
        key_mode: KeyMode,
        estimate_eur: Decimal,
        *,
        now: datetime,
        call: str | None = None,
    ) -> Decision:
        """Reserve ``estimate_eur`` against every applicable limit, atomically.

        ``call`` names the provider call the reservation is for, the same on every delivery
        of the call: a call already reserved is admitted again under its first reservation
        (no second one, which would stay open and count forever). Without it, a new one.
        """
        ...

    def settle(self, reservation_id: str, spent_eur: Decimal, *, called: str = "") -> None:
        """Replace a reservation by what the call really cost (also for failed calls: 0), once.

        A cost above the reservation (a provider that billed past ``max_tokens``) counts in full,
        so the next reservation sees it (ADR 0051), and is recorded as an ``overrun`` event
        naming ``called`` (:func:`overrun_event`), with the settlement that wins.

        An adapter may store it after returning (SQLite defers it to its next transaction,
        ADR 0027): the same store's reads see it at once, other instances see the reservation
        counted in full until it is stored, and one lost (a crash) leaves it so.
        """
        ...

    def spent(self, tenant_id: str, *, now: datetime, key_mode: KeyMode | None = None) -> Decimal:
        """Spent plus still-open reservations this month (a reservation counts until settled)."""
        ...

    def room(self, tenant_id: str, key_mode: KeyMode, *, now: datetime) -> Room:
        """What a reservation of ``key_mode`` could take now, and what open reservations hold:
        a call refused while others are open may wait for them, or ask for less."""
        ...

    def events(self, tenant_id: str, *, limit: int = 50) -> list[dict[str, str]]:
        """The latest downgrades, throttles, consents and overruns, newest first: ``at``, ``kind``,
        ``detail``."""
        ...

    def consented(self, tenant_id: str, *, now: datetime) -> Decimal:
        """The overage the tenant consented to this month (0 when none)."""
        ...
