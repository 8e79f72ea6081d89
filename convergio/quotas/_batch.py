"""One transaction of the SQLite quota store: its cache, its rows, and the per-call operations.

The checks read memory, not the file: budgets, consents, running totals and this process's
open reservations are cached while ``PRAGMA data_version``, read once per transaction under its
write lock, says no other connection committed since they were loaded (a change, or a rolled
back transaction, drops them all; the store's own writes update them). The reservations a
transaction's operations name are fetched with one ``IN (...)`` query, and its writes go out as
one multi-row statement per table just before ``COMMIT``: a handful of statements per batch,
however many calls it holds.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from convergio._sqlite import Batch

from ._quota import Decision, KeyMode, TenantBudget, check, month_of, overrun_event, readmit

__all__ = [
    "DATA_VERSION",
    "Cache",
    "Month",
    "QuotaBatch",
    "Spend",
    "budget_of",
    "load_month",
    "reserve_per_call",
    "settle_per_call",
]


@dataclass(slots=True)
class Spend:
    """A ``spending`` row: a reservation and, once settled, what its call cost."""

    tenant_id: str
    month: str
    key_mode: str
    reserved: Decimal
    spent: Decimal | None = None

    def counted(self) -> Decimal:
        """What the row adds to its month's total."""
        return self.reserved if self.spent is None else self.spent


@dataclass(slots=True)
class Month:
    """What a check reads for one tenant and month: limits, consent, running totals by key mode."""

    budget: TenantBudget
    consent: Decimal
    totals: dict[str, Decimal]

    def used(self, key_mode: str | None) -> Decimal:
        """Spent plus still-open reservations (a reservation counts until it is settled)."""
        if key_mode is None:
            return sum(self.totals.values(), Decimal(0))
        return self.totals.get(key_mode, Decimal(0))


class Cache:
    """The months and this process's open reservations, valid while ``data_version`` is
    ``version`` (no other connection has committed since they were read)."""

    def __init__(self) -> None:
        self.version: int | None = None
        self.months: dict[tuple[str, str], Month] = {}
        self.open: dict[str, Spend] = {}

    def clear(self) -> None:
        self.version = None
        self.months.clear()
        self.open.clear()

    def month(self, db: sqlite3.Connection, tenant_id: str, month: str) -> Month:
        """The month, from the file when it is not cached (the caller knows the cache is current)."""
        found = self.months.get((tenant_id, month))
        if found is None:
            found = self.months[tenant_id, month] = load_month(db, tenant_id, month)
        return found


class QuotaBatch(Batch):
    """One transaction of the quota store: the cache made current, the reservations its
    operations name fetched at once, its rows written as one statement per table."""

    def __init__(self, db: sqlite3.Connection, cache: Cache) -> None:
        super().__init__(db)
        self.cache = cache
        self.touched: set[int] = set()  # the leases this transaction changed (ids of objects)
        self._undo: list[Callable[[], None]] = []
        self._keys: Sequence[str] | None = None  # named by the operations, until fetched
        self._known: dict[str, Spend] = {}  # fetched, or written by this transaction
        self._spending = self.rows(
            "INSERT INTO spending",
            " ON CONFLICT (id) DO UPDATE SET reserved = excluded.reserved, spent = excluded.spent",
        )
        self._totals = self.rows("INSERT OR REPLACE INTO totals")
        self._events = self.rows("INSERT INTO events")
        self.leases = self.rows("INSERT OR REPLACE INTO leases")

    def begin(self, keys: Sequence[str]) -> None:
        self._keys = keys  # fetched at the first look at the cache: not by the schema's creation

    def on_rollback(self, undo: Callable[[], None]) -> None:
        """Run ``undo`` if this transaction is rolled back (memory it changed, beyond the cache)."""
        self._undo.append(undo)

    def rollback(self) -> None:
        self.cache.clear()  # the operations moved it by writes that are gone
        for undo in reversed(self._undo):
            undo()

    def month(self, tenant_id: str, month: str) -> Month:
        return self._current().month(self.db, tenant_id, month)

    def version(self) -> int | None:
        """The file's ``data_version`` as of this transaction (the cache made current)."""
        return self._current().version

    def spending(self, reservation: str) -> Spend | None:
        known = self._current().open.get(reservation)
        return self._known.get(reservation, known)

    def fetch(self, reservations: Sequence[str]) -> dict[str, Spend]:
        """The rows of ``reservations`` that exist (this transaction's writes, this process's open
        reservations, the file): one statement."""
        found = {key: spend for key in reservations if (spend := self.spending(key)) is not None}
        missing = [key for key in reservations if key not in found]
        for key, tenant_id, month, key_mode, reserved, spent in (
            self.select_in(_ROWS_IN, missing) if missing else ()
        ):
            found[key] = Spend(
                tenant_id, month, key_mode, Decimal(reserved), None if spent is None else Decimal(spent)
            )
        return found

    def reserve(self, reservation: str, spend: Spend) -> None:
        self._current().open[reservation] = spend
        self.write(reservation, spend, spend.reserved)

    def settle(self, reservation: str, spend: Spend, spent_eur: Decimal) -> None:
        moved = spent_eur - spend.reserved
        spend.spent = spent_eur
        self._current().open.pop(reservation, None)
        self.write(reservation, spend, moved)

    def event(self, tenant_id: str, now: datetime, kind: str, detail: str) -> None:
        self._events.add((tenant_id, now.isoformat(), kind, detail))

    def set_budget(self, row: tuple[str, str | None, int, str]) -> None:
        self.db.execute("INSERT OR REPLACE INTO budgets VALUES (?, ?, ?, ?)", row)
        for (tenant_id, _), month in self._current().months.items():
            if tenant_id == row[0]:
                month.budget = budget_of(row)

    def consent(self, tenant_id: str, amount_eur: Decimal, now: datetime) -> None:
        month = month_of(now)
        self.db.execute(
            "INSERT OR REPLACE INTO consents VALUES (?, ?, ?, ?)",
            (tenant_id, month, str(amount_eur), now.isoformat()),
        )
        if (cached := self._current().months.get((tenant_id, month))) is not None:
            cached.consent = amount_eur
        self.event(tenant_id, now, "consent", f"overage up to {amount_eur} EUR for {month}")

    def write(self, reservation: str, spend: Spend, moved: Decimal) -> None:
        """The row as it now is, and its month's total moved by ``moved`` (decimal text: SQLite
        would add floats)."""
        self._known[reservation] = spend
        spent = None if spend.spent is None else str(spend.spent)
        self._spending.add(
            (reservation, spend.tenant_id, spend.month, spend.key_mode, str(spend.reserved), spent),
            reservation,
        )
        if moved:
            month = self.month(spend.tenant_id, spend.month)
            total = month.totals[spend.key_mode] = month.used(spend.key_mode) + moved
            key = (spend.tenant_id, spend.month, spend.key_mode)
            self._totals.add((*key, str(total)), key)

    def _current(self) -> Cache:
        """The cache, made current on the first call: one statement reads ``data_version`` and
        the reservations the operations named that this process has no open copy of."""
        if self._keys is None:
            return self.cache
        keys, self._keys, cache = self._keys, None, self.cache
        cached = [key for key in keys if key in cache.open]
        missing = [key for key in keys if key not in cache.open]
        # Nothing to fetch (settlements of this process's reservations): the version alone, not
        # ``IN ()``, which SQLite answers by scanning every row of the LEFT JOIN's table.
        rows = self.select_in(_SPENDING_IN, missing) if missing else self.db.execute(_VERSION).fetchall()
        if rows[0][0] != cache.version:  # another connection committed: what we knew may be stale
            cache.clear()
            cache.version = rows[0][0]
            if cached:  # their reservations were in what was just dropped
                rows += self.select_in(_SPENDING_IN, cached)
        for _, key, tenant_id, month, key_mode, reserved, spent in rows:
            if key is not None:
                self._known[key] = Spend(
                    tenant_id, month, key_mode, Decimal(reserved), None if spent is None else Decimal(spent)
                )
        return cache


DATA_VERSION = "PRAGMA data_version"
_SPENDING_IN = """
SELECT v.data_version, s.id, s.tenant_id, s.month, s.key_mode, s.reserved, s.spent
FROM pragma_data_version() AS v LEFT JOIN spending AS s ON s.id IN ({})
"""
"""The file's ``data_version`` (in every row, so asked for in the same statement), and the
reservations with these ids (a row of NULLs when there is none)."""
_VERSION = "SELECT data_version, NULL, NULL, NULL, NULL, NULL, NULL FROM pragma_data_version()"
"""The file's ``data_version`` in the shape of ``_SPENDING_IN``'s rows, when no id is asked for."""
_ROWS_IN = "SELECT id, tenant_id, month, key_mode, reserved, spent FROM spending WHERE id IN ({})"
_MONTH = """
SELECT 'budget', monthly_eur, managed_enabled, managed_cap_eur FROM budgets WHERE tenant_id = ?1
UNION ALL SELECT 'consent', amount_eur, NULL, NULL FROM consents WHERE tenant_id = ?1 AND month = ?2
UNION ALL SELECT 'total', key_mode, amount_eur, NULL FROM totals WHERE tenant_id = ?1 AND month = ?2
"""


def reserve_per_call(
    batch: QuotaBatch,
    reservation: str,
    tenant_id: str,
    key_mode: KeyMode,
    estimate_eur: Decimal,
    *,
    now: datetime,
) -> Decision:
    """A reservation of its own ``spending`` row, checked against the month as the file has it."""
    month = month_of(now)
    used = batch.month(tenant_id, month)
    known = batch.spending(reservation)
    if known is not None:  # a redelivered call: admitted once already, and counted since
        downgrade = readmit(used.budget, used.used("managed"), known.counted(), key_mode)
        return Decision(True, reservation, downgrade, reserved=known.reserved)
    verdict = check(used.budget, used.consent, used.used, key_mode, estimate_eur, month)
    if verdict.allowed:
        batch.reserve(reservation, Spend(tenant_id, month, key_mode, estimate_eur))
    if verdict.event is not None:
        batch.event(tenant_id, now, *verdict.event)
    if not verdict.allowed:
        return Decision(False, reason=verdict.reason)
    return Decision(True, reservation, verdict.downgrade, reserved=estimate_eur)


def settle_per_call(batch: QuotaBatch, reservation_id: str, spent_eur: Decimal, called: str = "") -> None:
    """Settle a reservation of its own at what the call cost, above its reservation too (an
    overrun, recorded as an event: ADR 0051); once."""
    spend = batch.spending(reservation_id)
    if spend is None or spend.spent is not None:  # unknown, or settled already (a redelivery)
        return
    batch.settle(reservation_id, spend, spent_eur)
    if spent_eur > spend.reserved:
        batch.event(spend.tenant_id, datetime.now(UTC), *overrun_event(called, spend.reserved, spent_eur))


def budget_of(row: Sequence[str | int | None]) -> TenantBudget:
    """A budget as stored: (tenant, monthly limit or NULL, managed enabled, managed cap)."""
    tenant_id, monthly, enabled, cap = row
    return TenantBudget(
        str(tenant_id), None if monthly is None else Decimal(str(monthly)), bool(enabled), Decimal(str(cap))
    )


def load_month(db: sqlite3.Connection, tenant_id: str, month: str) -> Month:
    """A tenant's month from the file: one statement."""
    loaded = Month(TenantBudget(tenant_id), Decimal(0), {})
    for kind, first, second, third in db.execute(_MONTH, (tenant_id, month)):
        if kind == "budget":
            loaded.budget = budget_of((tenant_id, first, second, third))
        elif kind == "consent":
            loaded.consent = Decimal(first)
        else:
            loaded.totals[first] = Decimal(second)
    return loaded
