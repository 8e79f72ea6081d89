"""The ledger writes of the calls on one event loop, gathered into one ``record`` per turn (ADR 0065).

An agent call may not return before its usage is in the ledger. Calls that run on one event
loop (a fan-out's agents, ADR 0065) reach that point in the same turn of the loop: each
``record_gathered`` queues its records and waits, and one write after the turn records them
all, as the SQLite ledger's group commit would (one transaction, one ``fsync``) but without a
thread waking per call. A ledger whose commit is local (``commits_locally``: SQLite on the
machine's disk) is written on the loop's own thread; any other (Cosmos, over the network) on
a thread of the loop's executor, so the loop goes on meanwhile.

A write that carried one call (a chain's) is not waited for again: the next call on the loop
writes at once, without giving the loop a turn (which costs a lone call two of the loop's
iterations, a quarter of what running it on a loop adds), unless another call of the same turn
already did; that second call gathers with the rest of the turn, so a fan-out after a chain
pays one write more, once. Only a local ledger writes at once: the others never block the loop.

What a call learns is whether all the records of the write were new. When one was not (a
redelivered call), every call of the write reads back what the ledger kept for it
(``meter_kept_async``): a read for each, on the rare path, and the same truth as one write each.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence

from ._ledger import Ledger
from ._record import UsageRecord

__all__ = ["record_gathered"]

_Waiting = tuple[Sequence[UsageRecord], "asyncio.Future[bool]"]


class _Gathering:
    """One ledger's records waiting on one loop for the turn's write."""

    def __init__(self, ledger: Ledger, loop: asyncio.AbstractEventLoop) -> None:
        self.ledger, self._loop = ledger, loop
        self._local = bool(getattr(ledger, "commits_locally", False))
        self._waiting: list[_Waiting] = []
        self._due = False
        self._solo = False  # the last gathered write carried one call: the next one writes at once
        self._wrote_now = False  # a call of this turn wrote at once: the others gather

    def writes_now(self) -> bool:
        return self._solo and self._local and not self._due and not self._wrote_now

    def write_now(self, records: Sequence[UsageRecord]) -> bool:
        self._wrote_now = True
        self._loop.call_soon(self._turn_over)
        return self.ledger.record(records) == len(records)

    def _turn_over(self) -> None:
        self._wrote_now = False

    def add(self, records: Sequence[UsageRecord]) -> asyncio.Future[bool]:
        done: asyncio.Future[bool] = self._loop.create_future()
        self._waiting.append((records, done))
        if not self._due:  # after every callback ready now: the calls that got here with this one
            self._due = True
            self._loop.call_soon(self._write)
        return done

    def _write(self) -> None:
        self._due = False
        waiting, self._waiting = self._waiting, []
        self._solo = len(waiting) == 1
        rows = [record for records, _ in waiting for record in records]
        if self._local:
            _settle(waiting, _recorded(self.ledger, rows))
        else:
            self._loop.create_task(self._write_in_thread(waiting, rows))

    async def _write_in_thread(self, waiting: list[_Waiting], rows: list[UsageRecord]) -> None:
        _settle(waiting, await self._loop.run_in_executor(None, _recorded, self.ledger, rows))


def _recorded(ledger: Ledger, rows: list[UsageRecord]) -> bool | BaseException:
    """Whether every row was new, or what ``record`` raised (every call of the write gets it)."""
    try:
        return ledger.record(rows) == len(rows)
    except BaseException as exc:
        return exc


def _settle(waiting: list[_Waiting], outcome: bool | BaseException) -> None:
    for _, done in waiting:
        if done.done():  # its call was cancelled meanwhile
            continue
        if isinstance(outcome, BaseException):
            done.set_exception(outcome)
        else:
            done.set_result(outcome)


_here = threading.local()  # ``loop`` and its ``gatherings`` (by ledger): a thread runs one loop at a time


async def record_gathered(ledger: Ledger, records: Sequence[UsageRecord]) -> bool:
    """Record ``records`` with the other calls of this turn of the running loop; whether every
    record of that write was new (``False``: read back what the ledger kept).

    Raises:
        Exception: What the ledger's ``record`` raised: nothing of the write is known kept.
    """
    loop = asyncio.get_running_loop()
    if getattr(_here, "loop", None) is not loop:
        _here.loop, _here.gatherings = loop, {}
    mine: dict[int, _Gathering] = _here.gatherings
    gathering = mine.get(id(ledger))
    if gathering is None or gathering.ledger is not ledger:
        gathering = mine[id(ledger)] = _Gathering(ledger, loop)
    if gathering.writes_now():
        return gathering.write_now(records)
    return await gathering.add(records)
