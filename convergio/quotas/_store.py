"""Tenant-month budgets and the managed-key guard rails, with atomic reservations in SQLite.

Before a provider call the activity reserves an upper-bound estimate of its cost; after the
call it settles to the real cost from the ledger. A reservation is one ``BEGIN IMMEDIATE``
transaction that checks spent + reserved + estimate against the limit, so any number of
parallel activities, in any number of processes, can never together pass a limit. Concurrent
reservations and settlements of one process share their transaction (group commit, see
``convergio._sqlite``), still checked one after the other. A reservation keyed by its call
(``call``) is made once however often the call is delivered, and settled once.

Each (tenant, month, key mode) keeps a running total of spent plus still-reserved euros, moved
in the same transaction as the reservation or settlement that changes it, so a check reads one
row however many calls the month has seen (the ``spending`` rows stay, one per call, as the
record). One connection per store serves all of a process's threads.

Managed keys (the platform's own key) are only for tenants that have them enabled, and only
under a monthly cap: at ``DOWNGRADE_AT`` of the cap the call is downgraded to a cheaper model of
the same family; at the cap it is throttled, unless the tenant consented to overage up to a
stated amount. Every downgrade, throttle and consent is recorded.
"""

from __future__ import annotations

import hashlib
import sqlite3
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Literal

from convergio._sqlite import Database, run_script

__all__ = ["DOWNGRADE_AT", "Decision", "QuotaStore", "TenantBudget", "month_of"]

DOWNGRADE_AT = Decimal("0.8")
KeyMode = Literal["byok", "managed"]

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


def month_of(moment: datetime) -> str:
    utc = moment.astimezone(UTC)
    return f"{utc.year:04d}-{utc.month:02d}"  # strftime costs more, once per reservation


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


class QuotaStore:
    """Budgets, consents, reservations and guard-rail events in one SQLite file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        # WAL with synchronous=NORMAL: a crash of the process loses no committed reservation.
        self._db = Database(path, timeout=30, synchronous="NORMAL")
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
        self._db.write(lambda db: db.execute("INSERT OR REPLACE INTO budgets VALUES (?, ?, ?, ?)", row))

    def budget(self, tenant_id: str) -> TenantBudget:
        with self._db.read() as db:
            return _budget(db, tenant_id)

    def consent(self, tenant_id: str, amount_eur: Decimal, *, now: datetime) -> None:
        """Record explicit consent to managed-key overage up to ``amount_eur`` this month."""
        if amount_eur < 0:
            raise ValueError("amount_eur must be >= 0")
        month = month_of(now)

        def write(db: sqlite3.Connection) -> None:
            db.execute(
                "INSERT OR REPLACE INTO consents VALUES (?, ?, ?, ?)",
                (tenant_id, month, str(amount_eur), now.isoformat()),
            )
            _event(db, tenant_id, now, "consent", f"overage up to {amount_eur} EUR for {month}")

        self._db.write(write)

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
        """Reserve ``estimate_eur`` against every applicable limit, atomically.

        ``call`` names the provider call the reservation is for, the same on every delivery
        of the call: a call already reserved is admitted again under its first reservation
        (no second one, which would stay open and count forever). Without it, a new one.
        """
        if call is None:
            reservation = uuid.uuid4().hex
        else:
            reservation = hashlib.blake2b(f"{tenant_id}\x1f{call}".encode(), digest_size=16).hexdigest()
        return self._db.write(
            lambda db: _reserve(db, reservation, tenant_id, key_mode, estimate_eur, now=now)
        )

    def settle(self, reservation_id: str, spent_eur: Decimal) -> None:
        """Replace a reservation by what the call really cost (also for failed calls: 0)."""
        self._db.write(lambda db: _settle(db, reservation_id, spent_eur))

    def spent(self, tenant_id: str, *, now: datetime, key_mode: KeyMode | None = None) -> Decimal:
        with self._db.read() as db:
            return _used(db, tenant_id, month_of(now), key_mode)

    def events(self, tenant_id: str, *, limit: int = 50) -> list[dict[str, str]]:
        with self._db.read() as db:
            rows = db.execute(
                "SELECT at, kind, detail FROM events WHERE tenant_id = ? ORDER BY at DESC LIMIT ?",
                (tenant_id, limit),
            ).fetchall()
        return [{"at": at, "kind": kind, "detail": detail} for at, kind, detail in rows]

    def consented(self, tenant_id: str, *, now: datetime) -> Decimal:
        with self._db.read() as db:
            return _consented(db, tenant_id, month_of(now))


def _create(db: sqlite3.Connection) -> None:
    fresh = not db.execute("SELECT 1 FROM sqlite_master WHERE name = 'totals'").fetchone()
    run_script(db, _SCHEMA)
    if fresh:
        _backfill_totals(db)


def _reserve(
    db: sqlite3.Connection,
    reservation: str,
    tenant_id: str,
    key_mode: KeyMode,
    estimate_eur: Decimal,
    *,
    now: datetime,
) -> Decision:
    budget = _budget(db, tenant_id)
    month = month_of(now)
    known = db.execute(
        "SELECT COALESCE(spent, reserved) FROM spending WHERE id = ?", (reservation,)
    ).fetchone()
    if known is not None:  # a redelivered call: admitted once already, and counted since
        if key_mode != "managed":
            return Decision(True, reservation)
        others = _used(db, tenant_id, month, "managed") - Decimal(known[0])
        return Decision(True, reservation, others >= budget.managed_cap_eur * DOWNGRADE_AT)
    if (
        budget.monthly_eur is not None
        and _used(db, tenant_id, month, None) + estimate_eur > budget.monthly_eur
    ):
        _event(db, tenant_id, now, "throttle", f"monthly budget {budget.monthly_eur} EUR reached")
        return Decision(False, reason=f"budget_exhausted: monthly budget of {budget.monthly_eur} EUR")
    downgrade = False
    if key_mode == "managed":
        if not budget.managed_enabled:
            return Decision(False, reason="managed keys are not enabled for this tenant (BYOK only)")
        managed = _used(db, tenant_id, month, "managed")
        cap = budget.managed_cap_eur + _consented(db, tenant_id, month)
        if managed + estimate_eur > cap:
            _event(db, tenant_id, now, "throttle", f"managed-key cap {cap} EUR reached")
            return Decision(False, reason=f"budget_exhausted: managed-key cap of {cap} EUR for {month}")
        downgrade = managed >= budget.managed_cap_eur * DOWNGRADE_AT
    db.execute(
        "INSERT INTO spending VALUES (?, ?, ?, ?, ?, NULL)",
        (reservation, tenant_id, month, key_mode, str(estimate_eur)),
    )
    _add(db, tenant_id, month, key_mode, estimate_eur)
    if downgrade:
        _event(db, tenant_id, now, "downgrade", f"managed-key use at >= {DOWNGRADE_AT:%} of the cap")
    return Decision(True, reservation, downgrade)


def _settle(db: sqlite3.Connection, reservation_id: str, spent_eur: Decimal) -> None:
    row = db.execute(
        "SELECT tenant_id, month, key_mode, reserved FROM spending WHERE id = ? AND spent IS NULL",
        (reservation_id,),
    ).fetchone()
    if row is None:  # unknown, or settled already (a redelivered activity): nothing moves
        return
    db.execute("UPDATE spending SET spent = ? WHERE id = ?", (str(spent_eur), reservation_id))
    _add(db, row[0], row[1], row[2], spent_eur - Decimal(row[3]))


def _budget(db: sqlite3.Connection, tenant_id: str) -> TenantBudget:
    row = db.execute("SELECT * FROM budgets WHERE tenant_id = ?", (tenant_id,)).fetchone()
    if row is None:
        return TenantBudget(tenant_id)  # BYOK, no limit: the default for every new tenant
    return TenantBudget(row[0], None if row[1] is None else Decimal(row[1]), bool(row[2]), Decimal(row[3]))


def _used(db: sqlite3.Connection, tenant_id: str, month: str, key_mode: str | None) -> Decimal:
    """Spent plus still-open reservations (a reservation counts until it is settled)."""
    query = "SELECT amount_eur FROM totals WHERE tenant_id = ? AND month = ?"
    args: tuple[str, ...] = (tenant_id, month)
    if key_mode is not None:
        query += " AND key_mode = ?"
        args += (key_mode,)
    return sum((Decimal(value) for (value,) in db.execute(query, args)), Decimal(0))


def _add(db: sqlite3.Connection, tenant_id: str, month: str, key_mode: str, amount: Decimal) -> None:
    """Move a running total by ``amount`` (decimal text: SQLite would add floats)."""
    row = db.execute(
        "SELECT amount_eur FROM totals WHERE tenant_id = ? AND month = ? AND key_mode = ?",
        (tenant_id, month, key_mode),
    ).fetchone()
    total = (Decimal(row[0]) if row else Decimal(0)) + amount
    db.execute("INSERT OR REPLACE INTO totals VALUES (?, ?, ?, ?)", (tenant_id, month, key_mode, str(total)))


def _backfill_totals(db: sqlite3.Connection) -> None:
    """Totals for a store written before they existed, from its spending rows (once)."""
    totals: dict[tuple[str, str, str], Decimal] = {}
    for tenant_id, month, key_mode, value in db.execute(
        "SELECT tenant_id, month, key_mode, COALESCE(spent, reserved) FROM spending"
    ):
        key = (tenant_id, month, key_mode)
        totals[key] = totals.get(key, Decimal(0)) + Decimal(value)
    db.executemany("INSERT INTO totals VALUES (?, ?, ?, ?)", [(*k, str(v)) for k, v in totals.items()])


def _consented(db: sqlite3.Connection, tenant_id: str, month: str) -> Decimal:
    row = db.execute(
        "SELECT amount_eur FROM consents WHERE tenant_id = ? AND month = ?", (tenant_id, month)
    ).fetchone()
    return Decimal(row[0]) if row else Decimal(0)


def _event(db: sqlite3.Connection, tenant_id: str, now: datetime, kind: str, detail: str) -> None:
    db.execute("INSERT INTO events VALUES (?, ?, ?, ?)", (tenant_id, now.isoformat(), kind, detail))
