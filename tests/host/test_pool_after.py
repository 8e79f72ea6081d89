"""The pool's ``after`` (ADR 0046): what a thread submits there it runs next itself, one item
only, so a chain stays on one thread and wakes no other; anything more goes to other threads
at once, and a slow item never holds back one submitted beside it."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from convergio.host._pool import WorkerPool


def _until(check: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.001)


def test_a_chain_submitted_from_after_stays_on_one_thread_and_wakes_no_other() -> None:
    ran: list[tuple[str, str]] = []
    next_up: list[str] = []
    gate = threading.Barrier(5)

    def run(item: str) -> None:
        if item.startswith("warm"):
            gate.wait(timeout=5)
            return
        ran.append((item, threading.current_thread().name))
        if int(item) < 19:
            next_up.append(str(int(item) + 1))

    def after() -> None:
        if next_up:
            pool.submit([next_up.pop()])
            assert len(pool._parked) == 3  # nobody woken: this thread takes it

    pool = WorkerPool[str](4, "pool-after-chain", run, after)
    pool.submit([f"warm{n}" for n in range(4)])
    gate.wait(timeout=5)
    _until(lambda: len(pool._parked) == 4)
    pool.submit(["0"])
    _until(lambda: len(ran) == 20)
    pool.shutdown()
    assert [item for item, _ in ran] == [str(n) for n in range(20)]
    assert len({name for _, name in ran}) == 1


def test_after_keeps_one_item_and_the_others_run_beside_it_at_once() -> None:
    started: dict[str, float] = {}
    done: list[str] = []

    def run(item: str) -> None:
        started[item] = time.monotonic()
        if item == "slow":
            time.sleep(0.5)
        done.append(item)

    submitted = threading.Event()

    def after() -> None:
        if not submitted.is_set() and threading.current_thread().name.startswith("pool-after-keep"):
            submitted.set()
            pool.submit(["slow"])  # kept for this thread
            pool.submit(["second"])  # a second submit: another thread, not after "slow"
            pool.submit(["third", "fourth"])

    pool = WorkerPool[str](4, "pool-after-keep", run, after)
    pool.submit(["first"])
    _until(lambda: len(done) == 5)
    pool.shutdown()
    for item in ("second", "third", "fourth"):
        assert started[item] - started["slow"] < 0.3, (item, started)


def test_a_submit_from_inside_an_item_wakes_another_thread() -> None:
    ran: dict[str, str] = {}
    release = threading.Event()

    def run(item: str) -> None:
        ran[item] = threading.current_thread().name
        if item == "outer":
            pool.submit(["inner"])  # not from after: this thread is busy until released
            release.wait(5)

    pool = WorkerPool[str](2, "pool-inside", run, lambda: None)
    pool.submit(["outer"])
    _until(lambda: "inner" in ran)
    release.set()
    pool.shutdown()
    assert ran["inner"] != ran["outer"]
