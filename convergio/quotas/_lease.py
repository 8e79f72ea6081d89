"""Budget leases (ADR 0037): a process admits most calls in memory, a quota transaction per step.

A lease's state and the arithmetic of its steps (``LEASE_CALLS``, ``LEASE_SHARE``, ``fits``,
``step_size``) are in ``_lease_step``; here a store's leases admit, settle and are written.

A lease is one ``spending`` row of one process for a (tenant, month, key mode), whose
``reserved`` is its hold: the estimates of the calls drawn from it whose settlements are not
written yet, plus an undrawn part (``free``) of at most :data:`LEASE_CALLS` estimates and
1/:data:`LEASE_SHARE` of the headroom. The hold moves the month's running total like any open
reservation, so other processes count it in full and processes never together pass a limit.

A call whose estimate fits the free part is admitted under the connection's lock, after one
``PRAGMA data_version``: when another connection has committed since the lease was last
checked, the month is read again and the lease must still fit (its whole hold within the
limits, and a managed key's use below the downgrade threshold), so a lowered limit binds the
next admission, as it binds the next reservation of its own. That question is first asked
without letting go of the GIL (ADR 0063), on a read-only connection of its own
(:class:`~convergio._data_version.DataVersion`, whose version any commit moves, this process's
too): while it has not moved since the lease was last checked, nothing was committed since,
and the writer's statement is not needed; else, or without an answer, it is asked as before.
Any other call takes a transaction: the lease's settlements are written, its free part given
back, the call checked exactly as a reservation of its own, and a new step granted when the
headroom allows; near a limit (a step would be under :data:`LEASE_MIN_CALLS` estimates) or
past 80 % of a managed cap, calls reserve one by one, as before.

A settlement is kept in memory and written by the store's lease writer, a thread that looks every
:data:`LEASE_WRITE_S` while a lease is live or has settlements, and makes a transaction when it
has settlements to write, an idle lease to give back or an expiry to renew (a step's
transaction writes settlements too): one ``spending`` row per call, keyed by the call, unless another
delivery's row is there already (then the first settlement wins and this draw just goes back to
the lease). Until then the hold counts the call at its estimate; a settlement above it (an
overrun, ADR 0051) is taken in at once and counts in full, in memory and as written. A lease
that drew nothing for :data:`LEASE_IDLE_S` is given back; so is every lease at the store's close and
at the process's normal exit. A killed process's leases stay counted at their hold (what its
unwritten calls may have spent, and its free part: at most one step more than was spent); the
``leases`` table's expiry, renewed by the writes, only tells other processes not to wait for
them to come back (``room().held``).
"""

from __future__ import annotations

import atexit
import itertools
import logging
import os
import socket
import threading
import time
import uuid
import weakref
from collections import deque
from datetime import UTC, datetime
from decimal import Decimal

from convergio._data_version import DataVersion
from convergio._sqlite import Database

from ._batch import DATA_VERSION, Cache, QuotaBatch, Spend, reserve_per_call
from ._lease_step import Lease, fits, step_size
from ._quota import Decision, KeyMode, check, month_of, overrun_event, readmit

__all__ = ["LEASE_IDLE_S", "LEASE_S", "LEASE_WRITE_S", "Leases"]

LEASE_S = 30.0
"""How long a lease row says its holder is alive; renewed by the holder's writes."""
LEASE_WRITE_S = 0.1
"""How often a store's leases are written: settlements stored, idle leases given back, expiries
renewed. Until then the hold counts a settled call at its estimate (more, never less)."""
LEASE_IDLE_S = 2.0
"""A live lease that drew nothing for this long is given back (its free part returns to the
headroom). Not sooner: work comes in bursts, and a lease given back between two runs cost the
next run's first call a transaction (ADR 0064). Its hold counts meanwhile, as any lease's does."""

_ZERO = Decimal(0)
_log = logging.getLogger("convergio.quotas")


class Leases:
    """A store's leases. In-memory state changes under the connection's lock (``Database.read``,
    or inside a transaction, which holds it), so a transaction and an admission never interleave."""

    def __init__(self, db: Database[QuotaBatch], cache: Cache) -> None:
        self._db = db
        self._cache = cache
        self._seen = DataVersion(db.path)  # any commit moves it: a check's shortcut (ADR 0063)
        self._prefix = f"lease:{uuid.uuid4().hex}"
        self._holder = f"{socket.gethostname()}:{os.getpid()}"
        self._by_month: dict[tuple[str, str, str], Lease] = {}  # kept for the store's life: rows reused
        self._ids = itertools.count()
        self._index: dict[str, Lease] = {}  # every call open or pending in a lease
        self._settled: deque[tuple[str, Decimal, str]] = deque()  # settlements not taken in yet
        self._writer: threading.Thread | None = None  # runs while a lease has anything to write
        self._stop = threading.Event()
        self._closed = False
        _open.add(self)

    # -- in memory ------------------------------------------------------------------------

    def admit(
        self, reservation: str, tenant_id: str, key_mode: KeyMode, estimate: Decimal, month: str
    ) -> Decision | None:
        """Admit from a lease without a transaction, or ``None`` (the caller takes one)."""
        seen = self._seen()  # before the lock: what was committed before this call began
        with self._db.read() as db:
            holder = self._index.get(reservation)
            lease = holder or self._by_month.get((tenant_id, month, key_mode))
            if lease is None or (holder is None and not (lease.live and estimate <= lease.free)):
                return None
            if seen is None or seen != lease.seen or lease.version is None:  # else: nothing committed since
                version = db.execute(DATA_VERSION).fetchone()[0]
                if version != lease.version or version != self._cache.version:
                    if version != self._cache.version:  # as a transaction would: what we knew may be stale
                        self._cache.clear()
                        self._cache.version = version
                    if not fits(lease, self._cache.month(db, lease.tenant_id, lease.month)):
                        return None
                    lease.version = version
                lease.seen = seen  # checked as of then, at least
            if holder is not None:  # a redelivered call this process holds: admitted once
                return Decision(True, reservation, reserved=holder.reserved(reservation))
            if reservation in self._cache.open:  # reserved on its own: the transaction readmits it
                return None
            self._draw(lease, reservation, estimate)
        return Decision(True, reservation, reserved=estimate)

    def settle(self, reservation: str, spent_eur: Decimal, called: str = "") -> bool:
        """Settle a call drawn from a lease (written later); ``False``: not a lease's call.
        ``called`` names what was called in the overrun event of a settlement above its estimate.

        No lock: the settlement is queued (a call stays open in its lease until the queue is
        taken in, under the lock, by the writer or a read), so a call takes the connection's
        lock once, to be admitted. The writer runs while any lease has an open call."""
        lease = self._index.get(reservation)
        if lease is None:
            return False
        reserved = lease.open.get(reservation)
        self._settled.append((reservation, spent_eur, called))
        if reserved is not None and spent_eur > reserved:  # it raises the total: in before a draw
            with self._db.read():
                self._take_in()
        return True

    def _take_in(self, batch: QuotaBatch | None = None) -> None:
        """Move the queued settlements into their leases (under the lock; in a transaction, put
        back in the queue if it is rolled back, as its leases are restored)."""
        settled, taken = self._settled, []
        while settled:
            item = settled.popleft()
            lease = self._index.get(item[0])
            if lease is not None and item[0] in lease.open:  # else settled already: a redelivery
                if batch is not None:
                    self._touch(batch, lease)
                reserved = lease.open.pop(item[0])
                lease.pending[item[0]] = (reserved, item[1], item[2])
                if item[1] > reserved:  # it raises the month's total: check the lease again
                    lease.version = None
                taken.append(item)
        if batch is not None and taken:
            batch.on_rollback(lambda: settled.extendleft(reversed(taken)))

    def own(self, tenant_id: str, month: str, key_mode: str | None) -> tuple[Decimal, Decimal, Decimal]:
        """This store's undrawn part, unwritten give-backs, and estimates of settled calls not
        written yet, for a month (``None``: every key mode): its own reads leave them out (what
        the file counts beyond them is settled). The caller holds the connection's lock."""
        self._take_in()
        free = returns = settled = _ZERO
        for (tenant, at, mode), lease in self._by_month.items():
            if tenant == tenant_id and at == month and key_mode in (None, mode):
                free += lease.free
                returns += lease.returns()
                settled += sum((reserved for reserved, _, _ in lease.pending.values()), _ZERO)
        return free, returns, settled

    def stale(self, tenant_id: str) -> None:
        """The tenant's limits changed in this store: check its leases again before a draw."""
        for lease in self._by_month.values():
            if lease.tenant_id == tenant_id:
                lease.version = None

    # -- in a transaction -----------------------------------------------------------------

    def reserve(
        self,
        batch: QuotaBatch,
        reservation: str,
        tenant_id: str,
        key_mode: KeyMode,
        estimate: Decimal,
        now: datetime,
    ) -> Decision:
        """The transaction's admission: from the lease if it still fits, else a step (the lease
        settled up and its free part given back, the call checked as a reservation of its own,
        and a new step when the headroom allows), or a reservation of its own near a limit."""
        self._take_in(batch)  # as a reservation of its own sees the settlements before it
        month = month_of(now)
        loaded = batch.month(tenant_id, month)
        holder = self._index.get(reservation)
        if holder is not None:  # a redelivered call this process holds in memory
            counted = holder.reserved(reservation)
            used = batch.month(holder.tenant_id, holder.month).used("managed")
            return Decision(
                True, reservation, readmit(loaded.budget, used, counted, key_mode), reserved=counted
            )
        if batch.spending(reservation) is not None:  # reserved on its own (maybe elsewhere): readmitted
            return reserve_per_call(batch, reservation, tenant_id, key_mode, estimate, now=now)
        lease = self._by_month.get((tenant_id, month, key_mode))
        version = batch.version()
        if (
            lease is not None
            and lease.live
            and estimate <= lease.free
            and (lease.version == version or fits(lease, loaded))
        ):
            self._touch(batch, lease)
            lease.version = version
            self._draw(lease, reservation, estimate)
            return Decision(True, reservation, reserved=estimate)
        wall = time.time()
        if lease is not None:
            self._write(batch, lease, wall, release=True)
        size: Decimal | None = None
        verdict = check(loaded.budget, loaded.consent, loaded.used, key_mode, estimate, month)
        if verdict.allowed and not verdict.downgrade:
            size = step_size(loaded, key_mode, estimate)
        if size is None:  # refused, downgraded, or near a limit: as a reservation of its own
            return reserve_per_call(batch, reservation, tenant_id, key_mode, estimate, now=now)
        if lease is None:
            lease = self._new(batch, tenant_id, month, key_mode)
        self._touch(batch, lease)
        lease.live, lease.free, lease.version = True, size + estimate, version
        self._draw(lease, reservation, estimate)
        self._write(batch, lease, wall, release=False)
        self._ensure_writer()
        return Decision(True, reservation, reserved=estimate)

    def unwritten(self) -> bool:
        """Whether settlements wait in memory (a glance, without the lock)."""
        return bool(self._settled) or any(lease.pending for lease in list(self._by_month.values()))

    def write(self) -> None:
        """Write the settlements kept in memory now."""
        self._db.batch_write(lambda batch: self._flush(batch, tick=False))

    def close(self) -> None:
        """Give every lease back, its settlements written (the store's close, the process's exit)."""
        if not self._closed:
            self._closed = True
            self._stop.set()
            writer = self._writer
            if writer is not None and writer is not threading.current_thread():
                writer.join(timeout=30)
            if self._by_month:
                self._db.batch_write(self._close_all)
            self._seen.close()

    def _ensure_writer(self) -> None:
        """Start the writer thread unless it runs (under the connection's lock)."""
        if self._writer is None and not self._closed:
            self._writer = threading.Thread(target=self._write_every, name="quota-leases", daemon=True)
            self._writer.start()

    def _write_every(self) -> None:
        """The writer thread: every ``LEASE_WRITE_S``, while a lease is live or has settlements,
        it looks whether one has something due (``_due``) and then writes them in a transaction;
        it ends when no lease has anything left, not even an open call (a new step starts another)."""
        while not self._stop.wait(LEASE_WRITE_S):
            with self._db.read():
                self._take_in()
                leases = list(self._by_month.values())
                live = any(lease.live or lease.pending for lease in leases)
                if not live and not any(lease.open for lease in leases) and not self._settled:
                    self._writer = None
                    return
                work = any(self._due(lease, time.time()) for lease in leases)
            if work:
                try:
                    self._db.batch_write(lambda batch: self._flush(batch, tick=True))
                except Exception:
                    _log.warning("budget leases of %s not written", self._db.path, exc_info=True)

    def _close_all(self, batch: QuotaBatch) -> None:
        self._take_in(batch)
        wall = time.time()
        for lease in self._by_month.values():
            if lease.live or lease.open or lease.pending or lease.hold:
                self._write(batch, lease, wall, release=True, close=True)

    def _flush(self, batch: QuotaBatch, *, tick: bool) -> None:
        """Write the leases' settlements; on the writer's ``tick``, also give back the leases
        that drew nothing for ``LEASE_IDLE_S`` and renew the expiries."""
        self._take_in(batch)
        wall = time.time()
        for lease in self._by_month.values():
            if tick and self._due(lease, wall):
                self._touch(batch, lease)
                self._write(batch, lease, wall, release=_idle(lease))
            elif lease.pending:
                self._write(batch, lease, wall, release=False)

    @staticmethod
    def _due(lease: Lease, wall: float) -> bool:
        """Has the writer's tick anything to write for the lease: settlements, an idle lease to
        give back, an expiry to renew? (Else the tick makes no transaction.)"""
        return bool(lease.pending) or _idle(lease) or (lease.live and lease.expires - wall < LEASE_S * 2 / 3)

    def _write(
        self, batch: QuotaBatch, lease: Lease, wall: float, *, release: bool, close: bool = False
    ) -> None:
        """Write the lease's settlements (one row per call, unless another delivery's row is
        there: the first settlement wins, in full, an overrun recorded) and its hold; ``release``:
        give its free part back; ``close``: calls still open stay counted at their estimates, for
        good."""
        self._touch(batch, lease)
        if lease.pending:
            found = batch.fetch(list(lease.pending))
            for key, (reserved, spent, called) in lease.pending.items():
                row = found.get(key)
                if row is None:
                    batch.write(
                        key, Spend(lease.tenant_id, lease.month, lease.key_mode, reserved, spent), spent
                    )
                elif row.spent is None:  # reserved by another delivery, not settled: settled here, once
                    reserved = row.reserved
                    batch.settle(key, row, spent)
                else:  # settled by another delivery first: this settlement changes nothing
                    reserved = spent
                if spent > reserved:
                    event = overrun_event(called, reserved, spent)
                    batch.event(lease.tenant_id, datetime.now(UTC), *event)
                self._index.pop(key, None)
            lease.pending = {}
        if release or close:
            lease.live, lease.free = False, _ZERO
        hold = lease.free + sum(lease.open.values(), _ZERO)
        ended = close or not (lease.live or lease.open)
        spend = Spend(lease.tenant_id, lease.month, lease.key_mode, hold, hold if ended else None)
        batch.write(lease.id, spend, hold - lease.hold)
        lease.hold = hold
        if lease.live and lease.expires - wall < LEASE_S * 2 / 3:
            lease.expires = wall + LEASE_S
            alive = (lease.id, lease.tenant_id, lease.month, lease.key_mode, self._holder, lease.expires)
            batch.leases.add(alive, lease.id)

    def _new(self, batch: QuotaBatch, tenant_id: str, month: str, key_mode: KeyMode) -> Lease:
        key = (tenant_id, month, key_mode)
        lease = self._by_month[key] = Lease(f"{self._prefix}:{next(self._ids)}", tenant_id, month, key_mode)
        batch.on_rollback(lambda: self._forget(key))
        batch.touched.add(id(lease))  # nothing to restore: it goes
        return lease

    def _forget(self, key: tuple[str, str, str]) -> None:
        self._by_month.pop(key, None)
        self._reindex()

    def _touch(self, batch: QuotaBatch, lease: Lease) -> None:
        """Keep the lease's state to restore if this transaction is rolled back."""
        if id(lease) not in batch.touched:
            batch.touched.add(id(lease))
            state = lease.state()
            batch.on_rollback(lambda: self._restore(lease, state))

    def _restore(self, lease: Lease, state: Lease) -> None:
        lease.restore(state)
        self._reindex()

    def _reindex(self) -> None:
        self._index = {key: held for held in self._by_month.values() for key in (*held.open, *held.pending)}

    def _draw(self, lease: Lease, reservation: str, estimate: Decimal) -> None:
        lease.free -= estimate
        lease.open[reservation] = estimate
        lease.drawn_at = time.monotonic()
        self._index[reservation] = lease


def _idle(lease: Lease) -> bool:
    """A live lease that drew nothing for :data:`LEASE_IDLE_S`."""
    return lease.live and time.monotonic() - lease.drawn_at >= LEASE_IDLE_S


_open: weakref.WeakSet[Leases] = weakref.WeakSet()
"""Every store's leases: a process that exits normally gives them back."""


@atexit.register
def _give_back_at_exit() -> None:
    for leases in list(_open):
        try:
            leases.close()
        except Exception:
            _log.warning("budget leases not given back at exit", exc_info=True)
