"""Tenant-month budgets and the managed-key guard rails, with atomic reservations in SQLite.

Before a provider call the activity reserves an upper-bound estimate of its cost; after the
call it settles to the real cost from the ledger. A reservation is checked inside a ``BEGIN
IMMEDIATE`` transaction (spent + reserved + estimate against the limit), so any number of
parallel activities, in any number of processes, can never together pass a limit. Concurrent
reservations and settlements of one process share their transaction (group commit, see
``convergio._sqlite``), still checked one after the other. A settlement does not wait for its
commit: it rides first in the store's next transaction, or one made for it within ``DEFER_S``
(ADR 0027), so a call costs one quota transaction, not two. A reservation keyed by its call
(``call``) is made once however often the call is delivered, and settled once.

Each (tenant, month, key mode) keeps a running total of spent plus still-reserved euros, moved
in the same transaction as the reservation or settlement that changes it, so a check reads one
number however many calls the month has seen (the ``spending`` rows stay, one per call, as the
record). One connection per store serves all of a process's threads.

The checks read memory, not the file: budgets, consents, running totals and this process's
open reservations are cached while ``PRAGMA data_version``, read once per transaction under its
write lock, says no other connection committed since they were loaded (a change, or a rolled
back transaction, drops them all; the store's own writes update them). The reservations a
transaction's operations name are fetched with one ``IN (...)`` query, and its writes go out as
one multi-row statement per table just before ``COMMIT``: a handful of statements per batch,
however many calls it holds. The read methods (``spent``, ``budget``...) ask the file, so they
see other processes' commits.

Managed keys (the platform's own key) are only for tenants that have them enabled, and only
under a monthly cap: at ``DOWNGRADE_AT`` of the cap the call is downgraded to a cheaper model of
the same family; at the cap it is throttled, unless the tenant consented to overage up to a
stated amount. Every downgrade, throttle and consent is recorded.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path

from convergio._sqlite import Batch, Database, run_script

from ._quota import Decision, KeyMode, Room, TenantBudget, check, headroom, month_of, readmit, reservation_key

__all__ = ["SqliteQuotaStore"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS budgets (
    tenant_id        TEXT PRIMARY KEY,
    monthly_eur      TEXT NULL,
    managed_enabled  INTEGER NOT NULL DEFAULT 0,
    managed_cap_eur  TEXT NOT NULL DEFAULT '0'
);
CREATE TABLE IF NOT EXISTS consents (
    tenant_id   TEXT NOT NULL,
    month       TEXT NOT NULL,
    amount_eur  TEXT NOT NULL,
    at          TEXT NOT NULL,
    PRIMARY KEY (tenant_id, month)
);
CREATE TABLE IF NOT EXISTS spending (
    id          TEXT PRIMARY KEY,
    tenant_id   TEXT NOT NULL,
    month       TEXT NOT NULL,
    key_mode    TEXT NOT NULL,
    reserved    TEXT NOT NULL,
    spent       TEXT NULL
);
CREATE INDEX IF NOT EXISTS spending_by_month ON spending (tenant_id, month, key_mode);
CREATE INDEX IF NOT EXISTS spending_open ON spending (tenant_id, month) WHERE spent IS NULL;
CREATE TABLE IF NOT EXISTS totals (
    tenant_id   TEXT NOT NULL,
    month       TEXT NOT NULL,
    key_mode    TEXT NOT NULL,
    amount_eur  TEXT NOT NULL,
    PRIMARY KEY (tenant_id, month, key_mode)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS events (
    tenant_id  TEXT NOT NULL,
    at         TEXT NOT NULL,
    kind       TEXT NOT NULL,
    detail     TEXT NOT NULL
);
"""


class SqliteQuotaStore:
    """Budgets, consents, reservations and guard-rail events in one SQLite file (a :class:`QuotaStore`)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        cache = _Cache()
        # WAL with synchronous=NORMAL: a crash of the process loses no committed reservation.
        self._db = Database(path, timeout=30, synchronous="NORMAL", batch=lambda db: _QuotaBatch(db, cache))
        self._db.write(_create)

    def close(self) -> None:
        self._db.close()

    # -- configuration --------------------------------------------------------------------

    def set_budget(self, budget: TenantBudget) -> None:
        row = (
            budget.tenant_id,
            None if budget.monthly_eur is None else str(budget.monthly_eur),
            int(budget.managed_enabled),
            str(budget.managed_cap_eur),
        )
        self._db.batch_write(lambda batch: batch.set_budget(row))

    def budget(self, tenant_id: str) -> TenantBudget:
        with self._db.read() as db:
            row = db.execute("SELECT * FROM budgets WHERE tenant_id = ?", (tenant_id,)).fetchone()
        return TenantBudget(tenant_id) if row is None else _budget(row)

    def consent(self, tenant_id: str, amount_eur: Decimal, *, now: datetime) -> None:
        """Record explicit consent to managed-key overage up to ``amount_eur`` this month."""
        if amount_eur < 0:
            raise ValueError("amount_eur must be >= 0")
        self._db.batch_write(lambda batch: batch.consent(tenant_id, amount_eur, now))

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
        reservation = reservation_key(tenant_id, call)
        keys = () if call is None else (reservation,)  # a fresh id: nothing to look up
        return self._db.batch_write(
            lambda batch: _reserve(batch, reservation, tenant_id, key_mode, estimate_eur, now=now), keys
        )

    def settle(self, reservation_id: str, spent_eur: Decimal) -> None:
        """Replace a reservation by what the call really cost (also for failed calls: 0).

        Deferred (ADR 0027): the settlement rides in the store's next transaction (the next
        reservation, usually) or one made for it within ``DEFER_S``; this store's reads commit
        it first. Until then the reservation counts in full, and a crash before then leaves it
        so: the budget may count more than was spent, never less.
        """
        self._db.defer(lambda batch: _settle(batch, reservation_id, spent_eur), (reservation_id,))

    def spent(self, tenant_id: str, *, now: datetime, key_mode: KeyMode | None = None) -> Decimal:
        self._db.flush()  # this process's settlements first
        with self._db.read() as db:
            return _load(db, tenant_id, month_of(now)).used(key_mode)

    def room(self, tenant_id: str, key_mode: KeyMode, *, now: datetime) -> Room:
        month = month_of(now)
        self._db.flush()
        with self._db.read() as db:
            loaded = _load(db, tenant_id, month)
            held = db.execute(
                "SELECT reserved FROM spending WHERE tenant_id = ? AND month = ? AND spent IS NULL",
                (tenant_id, month),
            ).fetchall()
        free = headroom(loaded.budget, loaded.consent, loaded.used, key_mode)
        return Room(free, sum((Decimal(value) for (value,) in held), Decimal(0)))

    def events(self, tenant_id: str, *, limit: int = 50) -> list[dict[str, str]]:
        with self._db.read() as db:
            rows = db.execute(
                "SELECT at, kind, detail FROM events WHERE tenant_id = ? ORDER BY at DESC LIMIT ?",
                (tenant_id, limit),
            ).fetchall()
        return [{"at": at, "kind": kind, "detail": detail} for at, kind, detail in rows]

    def consented(self, tenant_id: str, *, now: datetime) -> Decimal:
        with self._db.read() as db:
            return _load(db, tenant_id, month_of(now)).consent


@dataclass(slots=True)
class _Spend:
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
class _Month:
    """What a check reads for one tenant and month: limits, consent, running totals by key mode."""

    budget: TenantBudget
    consent: Decimal
    totals: dict[str, Decimal]

    def used(self, key_mode: str | None) -> Decimal:
        """Spent plus still-open reservations (a reservation counts until it is settled)."""
        if key_mode is None:
            return sum(self.totals.values(), Decimal(0))
        return self.totals.get(key_mode, Decimal(0))


class _Cache:
    """The months and this process's open reservations, valid while ``data_version`` is
    ``version`` (no other connection has committed since they were read)."""

    def __init__(self) -> None:
        self.version: int | None = None
        self.months: dict[tuple[str, str], _Month] = {}
        self.open: dict[str, _Spend] = {}

    def clear(self) -> None:
        self.version = None
        self.months.clear()
        self.open.clear()


class _QuotaBatch(Batch):
    """One transaction of the quota store: the cache made current, the reservations its
    operations name fetched at once, its rows written as one statement per table."""

    def __init__(self, db: sqlite3.Connection, cache: _Cache) -> None:
        super().__init__(db)
        self._cache = cache
        self._keys: Sequence[str] | None = None  # named by the operations, until fetched
        self._known: dict[str, _Spend] = {}  # fetched, or written by this transaction
        self._spending = self.rows(
            "INSERT INTO spending", " ON CONFLICT (id) DO UPDATE SET spent = excluded.spent"
        )
        self._totals = self.rows("INSERT OR REPLACE INTO totals")
        self._events = self.rows("INSERT INTO events")

    def begin(self, keys: Sequence[str]) -> None:
        self._keys = keys  # fetched at the first look at the cache: not by the schema's creation

    def rollback(self) -> None:
        self._cache.clear()  # the operations moved it by writes that are gone

    def month(self, tenant_id: str, month: str) -> _Month:
        months = self._current().months
        found = months.get((tenant_id, month))
        if found is None:
            found = months[tenant_id, month] = _load(self.db, tenant_id, month)
        return found

    def spending(self, reservation: str) -> _Spend | None:
        known = self._current().open.get(reservation)
        return self._known.get(reservation, known)

    def reserve(self, reservation: str, spend: _Spend) -> None:
        self._current().open[reservation] = spend
        self._write(reservation, spend, spend.reserved)

    def settle(self, reservation: str, spend: _Spend, spent_eur: Decimal) -> None:
        moved = spent_eur - spend.reserved
        spend.spent = spent_eur
        self._current().open.pop(reservation, None)
        self._write(reservation, spend, moved)

    def event(self, tenant_id: str, now: datetime, kind: str, detail: str) -> None:
        self._events.add((tenant_id, now.isoformat(), kind, detail))

    def set_budget(self, row: tuple[str, str | None, int, str]) -> None:
        self.db.execute("INSERT OR REPLACE INTO budgets VALUES (?, ?, ?, ?)", row)
        for (tenant_id, _), month in self._current().months.items():
            if tenant_id == row[0]:
                month.budget = _budget(row)

    def consent(self, tenant_id: str, amount_eur: Decimal, now: datetime) -> None:
        month = month_of(now)
        self.db.execute(
            "INSERT OR REPLACE INTO consents VALUES (?, ?, ?, ?)",
            (tenant_id, month, str(amount_eur), now.isoformat()),
        )
        if (cached := self._current().months.get((tenant_id, month))) is not None:
            cached.consent = amount_eur
        self.event(tenant_id, now, "consent", f"overage up to {amount_eur} EUR for {month}")

    def _current(self) -> _Cache:
        """The cache, made current on the first call: one statement reads ``data_version`` and
        the reservations the operations named that this process has no open copy of."""
        if self._keys is None:
            return self._cache
        keys, self._keys, cache = self._keys, None, self._cache
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
                self._known[key] = _Spend(
                    tenant_id, month, key_mode, Decimal(reserved), None if spent is None else Decimal(spent)
                )
        return cache

    def _write(self, reservation: str, spend: _Spend, moved: Decimal) -> None:
        """The row as it now is, and its month's total moved by ``moved`` (decimal text: SQLite
        would add floats)."""
        self._known[reservation] = spend
        spent = None if spend.spent is None else str(spend.spent)
        self._spending.add(
            (reservation, spend.tenant_id, spend.month, spend.key_mode, str(spend.reserved), spent),
            reservation,
        )
        month = self.month(spend.tenant_id, spend.month)
        total = month.totals[spend.key_mode] = month.used(spend.key_mode) + moved
        key = (spend.tenant_id, spend.month, spend.key_mode)
        self._totals.add((*key, str(total)), key)


_SPENDING_IN = """
SELECT v.data_version, s.id, s.tenant_id, s.month, s.key_mode, s.reserved, s.spent
FROM pragma_data_version() AS v LEFT JOIN spending AS s ON s.id IN ({})
"""
"""The file's ``data_version`` (in every row, so asked for in the same statement), and the
reservations with these ids (a row of NULLs when there is none)."""
_VERSION = "SELECT data_version, NULL, NULL, NULL, NULL, NULL, NULL FROM pragma_data_version()"
"""The file's ``data_version`` in the shape of ``_SPENDING_IN``'s rows, when no id is asked for."""
_MONTH = """
SELECT 'budget', monthly_eur, managed_enabled, managed_cap_eur FROM budgets WHERE tenant_id = ?1
UNION ALL SELECT 'consent', amount_eur, NULL, NULL FROM consents WHERE tenant_id = ?1 AND month = ?2
UNION ALL SELECT 'total', key_mode, amount_eur, NULL FROM totals WHERE tenant_id = ?1 AND month = ?2
"""


def _create(db: sqlite3.Connection) -> None:
    fresh = not db.execute("SELECT 1 FROM sqlite_master WHERE name = 'totals'").fetchone()
    run_script(db, _SCHEMA)
    if fresh:
        _backfill_totals(db)


def _reserve(
    batch: _QuotaBatch,
    reservation: str,
    tenant_id: str,
    key_mode: KeyMode,
    estimate_eur: Decimal,
    *,
    now: datetime,
) -> Decision:
    month = month_of(now)
    used = batch.month(tenant_id, month)
    known = batch.spending(reservation)
    if known is not None:  # a redelivered call: admitted once already, and counted since
        downgrade = readmit(used.budget, used.used("managed"), known.counted(), key_mode)
        return Decision(True, reservation, downgrade, reserved=known.reserved)
    verdict = check(used.budget, used.consent, used.used, key_mode, estimate_eur, month)
    if verdict.allowed:
        batch.reserve(reservation, _Spend(tenant_id, month, key_mode, estimate_eur))
    if verdict.event is not None:
        batch.event(tenant_id, now, *verdict.event)
    if not verdict.allowed:
        return Decision(False, reason=verdict.reason)
    return Decision(True, reservation, verdict.downgrade, reserved=estimate_eur)


def _settle(batch: _QuotaBatch, reservation_id: str, spent_eur: Decimal) -> None:
    spend = batch.spending(reservation_id)
    if spend is None or spend.spent is not None:  # unknown, or settled already (a redelivery)
        return
    batch.settle(reservation_id, spend, spent_eur)


def _budget(row: Sequence[str | int | None]) -> TenantBudget:
    """A budget as stored: (tenant, monthly limit or NULL, managed enabled, managed cap)."""
    tenant_id, monthly, enabled, cap = row
    return TenantBudget(
        str(tenant_id), None if monthly is None else Decimal(str(monthly)), bool(enabled), Decimal(str(cap))
    )


def _load(db: sqlite3.Connection, tenant_id: str, month: str) -> _Month:
    """A tenant's month from the file: one statement."""
    loaded = _Month(TenantBudget(tenant_id), Decimal(0), {})
    for kind, first, second, third in db.execute(_MONTH, (tenant_id, month)):
        if kind == "budget":
            loaded.budget = _budget((tenant_id, first, second, third))
        elif kind == "consent":
            loaded.consent = Decimal(first)
        else:
            loaded.totals[first] = Decimal(second)
    return loaded


def _backfill_totals(db: sqlite3.Connection) -> None:
    """Totals for a store written before they existed, from its spending rows (once)."""
    totals: dict[tuple[str, str, str], Decimal] = {}
    for tenant_id, month, key_mode, value in db.execute(
        "SELECT tenant_id, month, key_mode, COALESCE(spent, reserved) FROM spending"
    ):
        key = (tenant_id, month, key_mode)
        totals[key] = totals.get(key, Decimal(0)) + Decimal(value)
    db.executemany("INSERT INTO totals VALUES (?, ?, ?, ?)", [(*k, str(v)) for k, v in totals.items()])
