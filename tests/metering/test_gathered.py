"""The ledger writes of one loop's calls, gathered (ADR 0065): what a failed write tells every
call of it, and that calls on different loops are not mixed. The contract suite checks the
write itself on both adapters (``test_ledger_contract``)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence

import pytest

from convergio.metering import UsageRecord
from convergio.metering._gathered import record_gathered
from tests.metering._samples import random_records


class _Ledger:
    """Only what ``record_gathered`` uses: ``record``, failing when told to."""

    def __init__(self, *, local: bool, fails: bool = False) -> None:
        self.commits_locally = local
        self.fails = fails
        self.writes: list[tuple[int, str]] = []

    def record(self, records: Sequence[UsageRecord]) -> int:
        self.writes.append((len(records), threading.current_thread().name))
        if self.fails:
            raise OSError("disk full")
        return len(records)


@pytest.mark.parametrize("local", [True, False])
def test_one_turns_calls_are_one_write_on_the_loop_or_off_it(local: bool) -> None:
    ledger = _Ledger(local=local)

    async def calls() -> list[bool]:
        return list(await asyncio.gather(*(record_gathered(ledger, random_records(n, 2)) for n in range(7))))  # type: ignore[arg-type]

    assert asyncio.run(calls()) == [True] * 7
    assert [size for size, _ in ledger.writes] == [14]
    on_loop = ledger.writes[0][1] == threading.current_thread().name
    assert on_loop is local  # a remote ledger is written off the loop's thread


@pytest.mark.parametrize("local", [True, False])
def test_a_failed_write_fails_every_call_of_it(local: bool) -> None:
    ledger = _Ledger(local=local, fails=True)

    async def calls() -> list[object]:
        return list(
            await asyncio.gather(
                *(record_gathered(ledger, random_records(n, 1)) for n in range(4)),  # type: ignore[arg-type]
                return_exceptions=True,
            )
        )

    outcomes = asyncio.run(calls())
    assert len(outcomes) == 4 and all(isinstance(o, OSError) for o in outcomes)


def test_calls_on_different_loops_are_different_writes() -> None:
    ledger = _Ledger(local=True)
    barrier = threading.Barrier(2)

    def on_its_loop() -> None:
        async def call() -> None:
            barrier.wait()
            await record_gathered(ledger, random_records(0, 1))  # type: ignore[arg-type]

        asyncio.run(call())

    threads = [threading.Thread(target=on_its_loop) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(size for size, _ in ledger.writes) == [1, 1]


def test_after_a_lone_write_the_next_lone_call_writes_at_once_and_a_fan_out_still_gathers() -> None:
    ledger = _Ledger(local=True)

    async def calls() -> list[int]:
        suspended = []
        for n in range(3):  # a chain: one call per turn
            await record_gathered(ledger, random_records(n, 1))  # type: ignore[arg-type]
            await asyncio.sleep(0)
        # The next lone call finishes without giving the loop a turn (a chain node's two iterations).
        step = record_gathered(ledger, random_records(9, 1)).__await__()  # type: ignore[arg-type]
        try:
            step.send(None)
            suspended.append(1)
        except StopIteration:
            pass
        await asyncio.sleep(0)
        await asyncio.gather(*(record_gathered(ledger, random_records(10 + n, 1)) for n in range(6)))  # type: ignore[arg-type]
        return suspended

    assert asyncio.run(calls()) == []
    # The chain: gathered once, then at once; the fan-out: its first call at once, five gathered.
    assert [size for size, _ in ledger.writes] == [1, 1, 1, 1, 1, 5]
