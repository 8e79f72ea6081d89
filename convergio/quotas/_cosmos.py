"""Tenant-month budgets and reservations in Cosmos DB, shared by every app instance.

Container ``quotas``, partitioned by ``/tenant_id``; a tenant's documents:

- ``budget``: its limits (replaced whole, as the SQLite store's row is).
- ``month:<YYYY-MM>``: the month's consent, ``spent`` (settled euros per key mode), ``open``
  (reservation key -> [key mode, reserved euros]) and ``settled`` (the latest
  :data:`SETTLED_KEPT` settled reservations, oldest first: [key, key mode, spent euros,
  reserved euros]; entries written before the reserved amount was kept have three items).
- ``event:<uuid>``: one guard-rail event each (throttle, downgrade, consent, overrun).

Why parallel reservations can never overspend, from any number of instances: a reservation
reads the month document, checks spent + open + estimate against the limit, and adds itself to
``open`` in a replace conditioned on the ETag it read (:func:`cas_update`); a concurrent writer
makes that replace fail with 412 and the check run again on the fresh document. What is checked
is exactly what is written over, so no two admissions can both count on the same headroom.

Why a settlement counts once: it moves a reservation out of ``open`` into ``spent`` in one such
conditioned replace, so a second settlement (a redelivery) finds nothing open and changes
nothing, however late it comes. A reservation id names its month and tenant, so a call settled
after the month turned still settles the month it was reserved in.

Why the bounded ``settled`` record is safe: it serves only a *reserve* delivered again after its
call settled (a crash between the call's end and its result being recorded); such a redelivery
is admitted under its settled reservation and not counted again. It is kept for the latest
:data:`SETTLED_KEPT` settlements of the tenant-month (about 80 KB, so every write stays cheap);
a redelivery later than that is counted as a new reservation, which errs towards counting too
much, never too little: a limit can be reached early, never passed. (A retried attempt is a
different call anyway; only an identical redelivery meets this.)

Known difference from SQLite: a redelivery in the month after its first delivery is a new
reservation of the new month (the old one stays open in its month, counted there).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Final

from convergio.controlplane import cas_update, read_doc, unavailable

from ._quota import (
    Decision,
    KeyMode,
    Room,
    TenantBudget,
    Verdict,
    check,
    headroom,
    month_of,
    overrun_event,
    readmit,
    reservation_key,
)

__all__ = ["SETTLED_KEPT", "CosmosQuotaStore"]

SETTLED_KEPT: Final = 1000
_STORE: Final = "quotas"
_BUDGET: Final = "budget"
_RESERVATION: Final = re.compile(r"(\d{4}-\d{2}):([0-9a-f]{32}):(.+)", re.DOTALL)


def _month_id(month: str) -> str:
    return f"month:{month}"


class _Month:
    """A month document, parsed: what a check reads and a reservation or settlement changes."""

    def __init__(self, doc: dict[str, Any] | None, month: str) -> None:
        doc = doc or {}
        self.month = month
        self.consent = Decimal(doc.get("consent", "0"))
        self.consent_at: str | None = doc.get("consent_at")
        self.spent = {mode: Decimal(value) for mode, value in doc.get("spent", {}).items()}
        self.open: dict[str, list[str]] = dict(doc.get("open", {}))
        self.settled: list[list[str]] = list(doc.get("settled", []))

    def used(self, key_mode: str | None) -> Decimal:
        """Spent plus still-open reservations (a reservation counts until it is settled)."""
        total = sum((v for mode, v in self.spent.items() if key_mode in (None, mode)), Decimal(0))
        return total + sum(
            (Decimal(v) for mode, v in self.open.values() if key_mode in (None, mode)), Decimal(0)
        )

    def counted(self, key: str) -> tuple[Decimal, Decimal] | None:
        """What reservation ``key`` adds to the month (open: reserved, settled: spent) and what
        it reserved, or None."""
        if (entry := self.open.get(key)) is not None:
            return Decimal(entry[1]), Decimal(entry[1])
        for settled_key, _, spent, *reserved in reversed(self.settled):
            if settled_key == key:
                return Decimal(spent), Decimal(reserved[0] if reserved else spent)
        return None

    def held(self) -> Decimal:
        """What the open reservations hold, every key mode."""
        return sum((Decimal(value) for _, value in self.open.values()), Decimal(0))

    def doc(self) -> dict[str, Any]:
        return {
            "doc": "month",
            "month": self.month,
            "consent": str(self.consent),
            "consent_at": self.consent_at,
            "spent": {mode: str(value) for mode, value in self.spent.items()},
            "open": self.open,
            "settled": self.settled[-SETTLED_KEPT:],
        }


class CosmosQuotaStore:
    """Budgets, consents, reservations and guard-rail events in Cosmos DB (a :class:`QuotaStore`).

    Stateless: every call reads the container, so any number of instances share one truth.

    Args:
        container: The control plane's ``quotas`` ``ContainerProxy`` (partition key ``/tenant_id``).
    """

    def __init__(self, container: Any) -> None:
        self.container = container

    def close(self) -> None:
        """Nothing to release: the client belongs to the control plane."""

    # -- configuration --------------------------------------------------------------------

    def set_budget(self, budget: TenantBudget) -> None:
        body = {
            "id": _BUDGET,
            "tenant_id": budget.tenant_id,
            "doc": "budget",
            "monthly_eur": None if budget.monthly_eur is None else str(budget.monthly_eur),
            "managed_enabled": budget.managed_enabled,
            "managed_cap_eur": str(budget.managed_cap_eur),
        }
        with unavailable(_STORE):
            self.container.upsert_item(body)

    def budget(self, tenant_id: str) -> TenantBudget:
        with unavailable(_STORE):
            doc = read_doc(self.container, _BUDGET, tenant_id)
        if doc is None:
            return TenantBudget(tenant_id)
        monthly = doc.get("monthly_eur")
        return TenantBudget(
            tenant_id,
            None if monthly is None else Decimal(monthly),
            bool(doc.get("managed_enabled")),
            Decimal(doc.get("managed_cap_eur", "0")),
        )

    def consent(self, tenant_id: str, amount_eur: Decimal, *, now: datetime) -> None:
        """Record explicit consent to managed-key overage up to ``amount_eur`` this month."""
        if amount_eur < 0:
            raise ValueError("amount_eur must be >= 0")
        month = month_of(now)

        def change(doc: dict[str, Any] | None) -> dict[str, Any]:
            current = _Month(doc, month)
            current.consent, current.consent_at = amount_eur, now.isoformat()
            return current.doc()

        self._update(tenant_id, month, change)
        self._event(tenant_id, now, "consent", f"overage up to {amount_eur} EUR for {month}")

    # -- reservations ---------------------------------------------------------------------

    def reserve(
        self,
        tenant_id: str,
        key_mode: KeyMode,
        estimate_eur: Decimal,
        *,
        now: datetime,
        call: str | None = None,
    ) -> Decision:
        """Reserve ``estimate_eur`` against every applicable limit, atomically (see :class:`QuotaStore`)."""
        month = month_of(now)
        key = reservation_key(tenant_id, call)
        reservation = f"{month}:{key}:{tenant_id}"
        budget = self.budget(tenant_id)  # limits are configuration: read once, not under the CAS
        outcome: list[Decision | Verdict] = []

        def change(doc: dict[str, Any] | None) -> dict[str, Any] | None:
            outcome.clear()  # a lost race runs this again: only the winning run's outcome counts
            current = _Month(doc, month)
            counted = current.counted(key)
            if counted is not None:  # a redelivered call: admitted once already, and counted since
                downgrade = readmit(budget, current.used("managed"), counted[0], key_mode)
                outcome.append(Decision(True, reservation, downgrade, reserved=counted[1]))
                return None
            verdict = check(budget, current.consent, current.used, key_mode, estimate_eur, month)
            outcome.append(verdict)
            if not verdict.allowed:
                return None
            current.open[key] = [key_mode, str(estimate_eur)]
            return current.doc()

        self._update(tenant_id, month, change)
        (result,) = outcome
        if isinstance(result, Decision):
            return result
        if result.event is not None:
            self._event(tenant_id, now, *result.event)
        if not result.allowed:
            return Decision(False, reason=result.reason)
        return Decision(True, reservation, result.downgrade, reserved=estimate_eur)

    def settle(self, reservation_id: str, spent_eur: Decimal, *, called: str = "") -> None:
        """Replace a reservation by what the call really cost (also for failed calls: 0; above
        the reservation: in full, then an overrun event naming ``called``, ADR 0051), once."""
        parsed = _parse(reservation_id)
        if parsed is None:  # not one of ours: unknown, as in the SQLite store
            return
        month, key, tenant_id = parsed
        reserved: list[Decimal] = []  # what the winning run settled, if it settled anything

        def change(doc: dict[str, Any] | None) -> dict[str, Any] | None:
            reserved.clear()  # a lost race runs this again
            current = _Month(doc, month)
            entry = current.open.pop(key, None)
            if entry is None:  # unknown, or settled already (a redelivery)
                return None
            key_mode = entry[0]
            current.spent[key_mode] = current.spent.get(key_mode, Decimal(0)) + spent_eur
            current.settled.append([key, key_mode, str(spent_eur), entry[1]])
            reserved.append(Decimal(entry[1]))
            return current.doc()

        self._update(tenant_id, month, change)
        if reserved and spent_eur > reserved[0]:
            self._event(tenant_id, datetime.now(UTC), *overrun_event(called, reserved[0], spent_eur))

    def spent(self, tenant_id: str, *, now: datetime, key_mode: KeyMode | None = None) -> Decimal:
        return self._month(tenant_id, month_of(now)).used(key_mode)

    def room(self, tenant_id: str, key_mode: KeyMode, *, now: datetime) -> Room:
        month = month_of(now)
        current = self._month(tenant_id, month)
        free = headroom(self.budget(tenant_id), current.consent, current.used, key_mode)
        return Room(free, current.held())

    def events(self, tenant_id: str, *, limit: int = 50) -> list[dict[str, str]]:
        with unavailable(_STORE):
            items = self.container.query_items(
                query="SELECT TOP @n c.at, c.kind, c.detail FROM c"
                " WHERE c.tenant_id = @pk AND c.doc = 'event' ORDER BY c.at DESC",
                parameters=[{"name": "@pk", "value": tenant_id}, {"name": "@n", "value": limit}],
                partition_key=tenant_id,
            )
            return [{"at": item["at"], "kind": item["kind"], "detail": item["detail"]} for item in items]

    def consented(self, tenant_id: str, *, now: datetime) -> Decimal:
        return self._month(tenant_id, month_of(now)).consent

    # -- documents ------------------------------------------------------------------------

    def _month(self, tenant_id: str, month: str) -> _Month:
        with unavailable(_STORE):
            return _Month(read_doc(self.container, _month_id(month), tenant_id), month)

    def _update(
        self, tenant_id: str, month: str, change: Callable[[dict[str, Any] | None], dict[str, Any] | None]
    ) -> None:
        with unavailable(_STORE):
            cas_update(self.container, _month_id(month), tenant_id, change)

    def _event(self, tenant_id: str, now: datetime, kind: str, detail: str) -> None:
        body = {
            "id": f"event:{uuid.uuid4().hex}",
            "tenant_id": tenant_id,
            "doc": "event",
            "at": now.isoformat(),
            "kind": kind,
            "detail": detail,
        }
        with unavailable(_STORE):
            self.container.create_item(body)


def _parse(reservation_id: str) -> tuple[str, str, str] | None:
    """(month, key, tenant) of a reservation id ``<YYYY-MM>:<32 hex>:<tenant>``, or None."""
    found = _RESERVATION.fullmatch(reservation_id)
    return None if found is None else (found[1], found[2], found[3])
