"""Tenant-month budgets and the managed-key guard rails, with atomic reservations in SQLite.

Before a provider call the activity reserves an upper-bound estimate of its cost; after the
call it settles to the real cost from the ledger. A reservation is one ``BEGIN IMMEDIATE``
transaction that checks spent + reserved + estimate against the limit, so any number of
parallel activities, in any number of processes, can never together pass a limit.

Each (tenant, month, key mode) keeps a running total of spent plus still-reserved euros, moved
in the same transaction as the reservation or settlement that changes it, so a check reads one
row however many calls the month has seen (the ``spending`` rows stay, one per call, as the
record). One connection per store, guarded by a lock, serves all of a process's threads.

Managed keys (the platform's own key) are only for tenants that have them enabled, and only
under a monthly cap: at ``DOWNGRADE_AT`` of the cap the call is downgraded to a cheaper model of
the same family; at the cap it is throttled, unless the tenant consented to overage up to a
stated amount. Every downgrade, throttle and consent is recorded.
"""

from __future__ import annotations

import sqlite3
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Literal

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
    return moment.astimezone(UTC).strftime("%Y-%m")


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
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")  # WAL: a crash loses no committed reservation
        with self._write() as db:
            fresh = not db.execute("SELECT 1 FROM sqlite_master WHERE name = 'totals'").fetchone()
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    db.execute(statement)
            if fresh:
                _backfill_totals(db)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            yield self._db

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")  # one writer at a time: check-then-reserve cannot race
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    # -- configuration --------------------------------------------------------------------

    def set_budget(self, budget: TenantBudget) -> None:
        with self._write() as db:
            db.execute(
                "INSERT OR REPLACE INTO budgets VALUES (?, ?, ?, ?)",
                (
                    budget.tenant_id,
                    None if budget.monthly_eur is None else str(budget.monthly_eur),
                    int(budget.managed_enabled),
                    str(budget.managed_cap_eur),
                ),
            )

    def budget(self, tenant_id: str) -> TenantBudget:
        with self._connect() as db:
            return _budget(db, tenant_id)

    def consent(self, tenant_id: str, amount_eur: Decimal, *, now: datetime) -> None:
        """Record explicit consent to managed-key overage up to ``amount_eur`` this month."""
        if amount_eur < 0:
            raise ValueError("amount_eur must be >= 0")
        month = month_of(now)
        with self._write() as db:
            db.execute(
                "INSERT OR REPLACE INTO consents VALUES (?, ?, ?, ?)",
                (tenant_id, month, str(amount_eur), now.isoformat()),
            )
            _event(db, tenant_id, now, "consent", f"overage up to {amount_eur} EUR for {month}")

    # -- reservations ---------------------------------------------------------------------

    def reserve(self, tenant_id: str, key_mode: KeyMode, estimate_eur: Decimal, *, now: datetime) -> Decision:
        """Reserve ``estimate_eur`` against every applicable limit, atomically."""
        month = month_of(now)
        with self._write() as db:
            budget = _budget(db, tenant_id)
            used = _used(db, tenant_id, month, None)
            if budget.monthly_eur is not None and used + estimate_eur > budget.monthly_eur:
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
                    return Decision(
                        False, reason=f"budget_exhausted: managed-key cap of {cap} EUR for {month}"
                    )
                downgrade = managed >= budget.managed_cap_eur * DOWNGRADE_AT
            reservation = uuid.uuid4().hex
            db.execute(
                "INSERT INTO spending VALUES (?, ?, ?, ?, ?, NULL)",
                (reservation, tenant_id, month, key_mode, str(estimate_eur)),
            )
            _add(db, tenant_id, month, key_mode, estimate_eur)
            if downgrade:
                _event(db, tenant_id, now, "downgrade", f"managed-key use at >= {DOWNGRADE_AT:%} of the cap")
            return Decision(True, reservation, downgrade)

    def settle(self, reservation_id: str, spent_eur: Decimal) -> None:
        """Replace a reservation by what the call really cost (also for failed calls: 0)."""
        with self._write() as db:
            row = db.execute(
                "SELECT tenant_id, month, key_mode, reserved FROM spending WHERE id = ? AND spent IS NULL",
                (reservation_id,),
            ).fetchone()
            if row is None:  # unknown, or settled already (a redelivered activity): nothing moves
                return
            db.execute("UPDATE spending SET spent = ? WHERE id = ?", (str(spent_eur), reservation_id))
            _add(db, row[0], row[1], row[2], spent_eur - Decimal(row[3]))

    def spent(self, tenant_id: str, *, now: datetime, key_mode: KeyMode | None = None) -> Decimal:
        with self._connect() as db:
            return _used(db, tenant_id, month_of(now), key_mode)

    def events(self, tenant_id: str, *, limit: int = 50) -> list[dict[str, str]]:
        with self._connect() as db:
            rows = db.execute(
                "SELECT at, kind, detail FROM events WHERE tenant_id = ? ORDER BY at DESC LIMIT ?",
                (tenant_id, limit),
            ).fetchall()
        return [{"at": at, "kind": kind, "detail": detail} for at, kind, detail in rows]

    def consented(self, tenant_id: str, *, now: datetime) -> Decimal:
        with self._connect() as db:
            return _consented(db, tenant_id, month_of(now))


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
