"""Tenant-month budgets and the managed-key guard rails, with atomic reservations in SQLite.

Before a provider call the activity reserves an upper-bound estimate of its cost; after the
call it settles to the real cost from the ledger. A reservation is checked inside a ``BEGIN
IMMEDIATE`` transaction (spent + reserved + estimate against the limit), so any number of
parallel activities, in any number of processes, can never together pass a limit. Concurrent
reservations and settlements of one process share their transaction (group commit, see
``convergio._sqlite``), still checked one after the other. A settlement does not wait for its
commit: it rides first in the store's next transaction, or one made for it within ``DEFER_S``
(ADR 0027). A reservation keyed by its call (``call``) is made once however often the call is
delivered, and settled once.

Far from its limits a process reserves a step of several calls at once, a budget lease
(``_lease``, ADR 0037), and admits the calls that fit it in memory: one quota transaction per
step instead of one per call. Near a limit calls reserve one by one.

Each (tenant, month, key mode) keeps a running total of spent plus still-reserved euros, moved
in the same transaction as the reservation or settlement that changes it, so a check reads one
number however many calls the month has seen (the ``spending`` rows stay, one per call, as the
record). One connection per store serves all of a process's threads; its checks read a cache
that follows other connections' commits (``_batch``). The read methods (``spent``, ``budget``...)
ask the file, so they see other processes' commits (and their leases, in full).

Managed keys (the platform's own key) are only for tenants that have them enabled, and only
under a monthly cap: at ``DOWNGRADE_AT`` of the cap the call is downgraded to a cheaper model of
the same family; at the cap it is throttled, unless the tenant consented to overage up to a
stated amount. Every downgrade, throttle and consent is recorded, and every call billed above
what it reserved (an overrun, counted in full: ADR 0051).
"""

from __future__ import annotations

import sqlite3
import time
from datetime import datetime
from decimal import Decimal
from pathlib import Path

from convergio._sqlite import Database, run_script

from ._batch import Cache, QuotaBatch, budget_of, load_month, reserve_per_call, settle_per_call
from ._lease import Leases
from ._quota import Decision, KeyMode, Room, TenantBudget, headroom, month_of, reservation_key

__all__ = ["SqliteQuotaStore"]

_reserve, _settle = reserve_per_call, settle_per_call  # their names before ``_batch``

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
CREATE TABLE IF NOT EXISTS leases (
    id          TEXT PRIMARY KEY,
    tenant_id   TEXT NOT NULL,
    month       TEXT NOT NULL,
    key_mode    TEXT NOT NULL,
    holder      TEXT NOT NULL,
    expires     REAL NOT NULL
) WITHOUT ROWID;
"""
_HELD = """
SELECT reserved FROM spending AS s WHERE tenant_id = ? AND month = ? AND spent IS NULL
AND NOT EXISTS (SELECT 1 FROM leases AS l WHERE l.id = s.id AND l.expires < ?)
"""
"""Open reservations that may yet come back: a lease whose holder stopped renewing it will not."""


class SqliteQuotaStore:
    """Budgets, consents, reservations and guard-rail events in one SQLite file (a :class:`QuotaStore`).

    Args:
        path: The file (created if missing; older files get the ``leases`` table).
        leases: Admit calls far from the limits from budget leases (ADR 0037); ``False``: every
            call reserves on its own.
    """

    def __init__(self, path: Path, *, leases: bool = True) -> None:
        self.path = path
        cache = Cache()
        # WAL with synchronous=NORMAL: a crash of the process loses no committed reservation.
        self._db = Database(path, timeout=30, synchronous="NORMAL", batch=lambda db: QuotaBatch(db, cache))
        self._db.write(_create)
        self._leases = Leases(self._db, cache) if leases else None

    def close(self) -> None:
        """Give the leases back, store the deferred settlements, close the file."""
        if self._leases is not None:
            self._leases.close()
        self._db.close()

    # -- configuration --------------------------------------------------------------------

    def set_budget(self, budget: TenantBudget) -> None:
        row = (
            budget.tenant_id,
            None if budget.monthly_eur is None else str(budget.monthly_eur),
            int(budget.managed_enabled),
            str(budget.managed_cap_eur),
        )
        self._db.batch_write(lambda batch: self._changed(batch, budget.tenant_id).set_budget(row))

    def budget(self, tenant_id: str) -> TenantBudget:
        with self._db.read() as db:
            row = db.execute("SELECT * FROM budgets WHERE tenant_id = ?", (tenant_id,)).fetchone()
        return TenantBudget(tenant_id) if row is None else budget_of(row)

    def consent(self, tenant_id: str, amount_eur: Decimal, *, now: datetime) -> None:
        """Record explicit consent to managed-key overage up to ``amount_eur`` this month."""
        if amount_eur < 0:
            raise ValueError("amount_eur must be >= 0")
        self._db.batch_write(
            lambda batch: self._changed(batch, tenant_id).consent(tenant_id, amount_eur, now)
        )

    def _changed(self, batch: QuotaBatch, tenant_id: str) -> QuotaBatch:
        """The tenant's limits change in ``batch``: its leases are checked again before a draw."""
        if self._leases is not None:
            self._leases.stale(tenant_id)
        return batch

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
        leases = self._leases
        if leases is None:
            return self._db.batch_write(
                lambda batch: reserve_per_call(
                    batch, reservation, tenant_id, key_mode, estimate_eur, now=now
                ),
                keys,
            )
        admitted = leases.admit(reservation, tenant_id, key_mode, estimate_eur, month_of(now))
        if admitted is not None:
            return admitted
        return self._db.batch_write(
            lambda batch: leases.reserve(batch, reservation, tenant_id, key_mode, estimate_eur, now), keys
        )

    def settle(self, reservation_id: str, spent_eur: Decimal, *, called: str = "") -> None:
        """Replace a reservation by what the call really cost (also for failed calls: 0; above
        the reservation: in full, recorded as an overrun naming ``called``, ADR 0051).

        Deferred (ADR 0027): the settlement rides in the store's next transaction (the next
        reservation, usually) or one made for it within ``DEFER_S``; this store's reads commit
        it first. Until then the reservation counts in full, and a crash before then leaves it
        so: the budget may count more than was spent, never less. A call drawn from a lease is
        settled in the lease, written the same way.
        """
        if self._leases is not None and self._leases.settle(reservation_id, spent_eur, called):
            return
        self._db.defer(
            lambda batch: settle_per_call(batch, reservation_id, spent_eur, called), (reservation_id,)
        )

    def spent(self, tenant_id: str, *, now: datetime, key_mode: KeyMode | None = None) -> Decimal:
        """As the file counts it, less what this store's leases hold undrawn or settled unwritten
        (other processes' leases count in full)."""
        month = month_of(now)
        self._flush()  # this process's settlements first
        with self._db.read() as db:
            used = load_month(db, tenant_id, month).used(key_mode)
            free, returns, _ = self._own(tenant_id, month, key_mode)
        return used - free - returns

    def room(self, tenant_id: str, key_mode: KeyMode, *, now: datetime) -> Room:
        """As a reservation would see it: this store's lease of ``key_mode`` given back first."""
        month = month_of(now)
        self._flush()
        with self._db.read() as db:
            loaded = load_month(db, tenant_id, month)
            held = db.execute(_HELD, (tenant_id, month, time.time())).fetchall()
            free, returns, settled = self._own(tenant_id, month, key_mode)

        def used(mode: str | None) -> Decimal:
            return loaded.used(mode) - (free + returns if mode in (None, key_mode) else 0)

        room = headroom(loaded.budget, loaded.consent, used, key_mode)
        return Room(room, sum((Decimal(value) for (value,) in held), Decimal(0)) - free - settled)

    def _flush(self) -> None:
        """Store this process's settlements, its leases' too: its reads see them, and stored."""
        if self._leases is not None and self._leases.unwritten():
            self._leases.write()
        self._db.flush()

    def _own(self, tenant_id: str, month: str, key_mode: str | None) -> tuple[Decimal, Decimal, Decimal]:
        if self._leases is None:
            return Decimal(0), Decimal(0), Decimal(0)
        return self._leases.own(tenant_id, month, key_mode)

    def events(self, tenant_id: str, *, limit: int = 50) -> list[dict[str, str]]:
        with self._db.read() as db:
            rows = db.execute(
                "SELECT at, kind, detail FROM events WHERE tenant_id = ? ORDER BY at DESC LIMIT ?",
                (tenant_id, limit),
            ).fetchall()
        return [{"at": at, "kind": kind, "detail": detail} for at, kind, detail in rows]

    def consented(self, tenant_id: str, *, now: datetime) -> Decimal:
        with self._db.read() as db:
            return load_month(db, tenant_id, month_of(now)).consent


def _create(db: sqlite3.Connection) -> None:
    fresh = not db.execute("SELECT 1 FROM sqlite_master WHERE name = 'totals'").fetchone()
    run_script(db, _SCHEMA)
    if fresh:
        _backfill_totals(db)


def _backfill_totals(db: sqlite3.Connection) -> None:
    """Totals for a store written before they existed, from its spending rows (once)."""
    totals: dict[tuple[str, str, str], Decimal] = {}
    for tenant_id, month, key_mode, value in db.execute(
        "SELECT tenant_id, month, key_mode, COALESCE(spent, reserved) FROM spending"
    ):
        key = (tenant_id, month, key_mode)
        totals[key] = totals.get(key, Decimal(0)) + Decimal(value)
    db.executemany("INSERT INTO totals VALUES (?, ?, ?, ?)", [(*k, str(v)) for k, v in totals.items()])
