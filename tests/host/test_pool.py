"""The activity threads' pool (ADR 0035): every item runs once, at most ``size`` at a time, the
thread that parked last runs the next item, a failing item does not cost a thread, and
shutdown drops what is queued."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import pytest

from convergio.host._pool import WorkerPool


def _until(check: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.001)


def _parked(pool: WorkerPool[int], count: int) -> bool:
    return len(pool._parked) == count


def _threads(prefix: str) -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith(prefix + "_")]


def test_every_item_runs_once_and_no_more_than_size_at_a_time() -> None:
    lock, running, most, done = threading.Lock(), [0], [0], []

    def run(item: int) -> None:
        with lock:
            running[0] += 1
            most[0] = max(most[0], running[0])
        time.sleep(0.001)
        with lock:
            running[0] -= 1
            done.append(item)

    pool = WorkerPool[int](4, "pool-once", run)
    for start in range(0, 200, 20):
        pool.submit(list(range(start, start + 20)))
    _until(lambda: len(done) == 200)
    pool.shutdown()
    assert sorted(done) == list(range(200))
    assert most[0] <= 4
    assert len({t.name for t in _threads("pool-once")}) <= 4


def test_one_thread_runs_items_in_order() -> None:
    done: list[int] = []
    pool = WorkerPool[int](1, "pool-order", done.append)
    pool.submit(list(range(50)))
    pool.submit(list(range(50, 100)))
    _until(lambda: len(done) == 100)
    pool.shutdown()
    assert done == list(range(100))


def test_the_thread_that_parked_last_runs_the_next_item() -> None:
    """A chain's activities stay on one warm thread instead of rotating through all of them."""
    names: dict[int, str] = {}
    gates = [threading.Event() for _ in range(8)]

    def run(item: int) -> None:
        if item < len(gates):
            gates[item].wait(5)  # the first 8 items hold 8 threads at once
        names[item] = threading.current_thread().name

    pool = WorkerPool[int](8, "pool-lifo", run)
    pool.submit(list(range(8)))
    _until(lambda: len(_threads("pool-lifo")) == 8)
    for n, gate in enumerate(gates):  # they park one after another, item 7's thread last
        gate.set()
        _until(partial(_parked, pool, n + 1))
    for item in range(8, 28):  # one at a time, as a chain submits them
        pool.submit([item])
        _until(partial(names.__contains__, item))
        _until(partial(_parked, pool, 8))
    pool.shutdown()
    assert {names[item] for item in range(8, 28)} == {names[7]}


def test_a_failing_item_is_logged_and_its_thread_goes_on(caplog: pytest.LogCaptureFixture) -> None:
    done: list[int] = []

    def run(item: int) -> None:
        if item == 1:
            raise RuntimeError("boom")
        done.append(item)

    pool = WorkerPool[int](1, "pool-fail", run)
    pool.submit([0, 1, 2])
    _until(lambda: len(done) == 2)
    pool.shutdown()
    assert done == [0, 2]
    assert "boom" in caplog.text


def test_shutdown_drops_queued_items_and_ends_the_threads() -> None:
    started, release, done = threading.Event(), threading.Event(), []

    def run(item: int) -> None:
        started.set()
        release.wait(5)
        done.append(item)

    pool = WorkerPool[int](2, "pool-stop", run)
    pool.submit([0])
    started.wait(5)
    pool.submit([1, 2, 3, 4])  # one more thread starts; the rest wait in the queue
    _until(lambda: len(_threads("pool-stop")) == 2)
    pool.shutdown()
    release.set()
    _until(lambda: not _threads("pool-stop"))
    pool.submit([5])  # ignored once shut down
    time.sleep(0.05)
    assert sorted(done) in ([0], [0, 1])  # the item in flight finishes, queued ones do not start
    assert not _threads("pool-stop")


def test_an_exit_waits_for_items_in_flight_and_not_for_parked_threads(tmp_path: Path) -> None:
    """As with ``ThreadPoolExecutor``: a pool nobody shut down neither hangs the exit nor loses
    the item it is running (its result gets committed); queued items are dropped."""
    script = f"""
import threading, time
from pathlib import Path
from convergio.host._pool import WorkerPool
out = Path({str(tmp_path / "out")!r})
started = threading.Event()
def run(item):
    if item == "slow":
        started.set()
        time.sleep(0.3)
    with out.open("a") as f:
        f.write(item + "\\n")
pool = WorkerPool(2, "exit", run)
idle = WorkerPool(4, "idle", run)
idle.submit(["parked"])  # its thread parks and stays parked
pool.submit(["slow", "queued-1", "queued-2", "queued-3"])
started.wait(5)
"""
    began = time.monotonic()
    subprocess.run([sys.executable, "-c", script], check=True, timeout=30, cwd=Path(__file__).parents[2])
    assert time.monotonic() - began < 10
    lines = (tmp_path / "out").read_text().split()
    assert "slow" in lines and "parked" in lines
