"""A worker process: ``python -m convergio.host._worker_main`` (started by ``_workers.py``).

It loads the app and runs the activities its host hands it on its stdin (one JSON line each,
leased to the host), and sends their results back on its stdout, which the host commits, with
an empty line as its heartbeat every third of a lease (ADR 0029); the end of its stdin (the
host exited, however) ends it. What the app prints goes to stderr. Not imported by the
package, so that ``-m`` runs it once (ADR 0023).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import BinaryIO, Protocol

from ._activities import ActivityRunner, RunnerConfig
from ._events import Event
from ._finished import FinishedExecutions
from ._functions import load_app
from ._heap import settle_heap
from ._leases import new_owner
from ._store import Store, WorkItem
from ._workers import decode_items, encode_results

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    """One worker process: run the activities its host hands it until the host's pipe closes."""
    parser = argparse.ArgumentParser(prog="python -m convergio.host._workers")
    parser.add_argument("--app", type=Path, required=True)
    parser.add_argument("--store", type=Path, required=True, help="the task hub's SQLite file")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--lease", type=float, default=30.0)
    parser.add_argument("--nonce", required=True, help="of its lease owner, host:pid:nonce")
    parser.add_argument("--log-level", type=int, default=logging.INFO, help="the host's")
    args = parser.parse_args(argv)
    results = os.fdopen(os.dup(sys.stdout.fileno()), "wb")  # the pipe to the host, for results only
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())  # the app's prints must not corrupt it
    logging.basicConfig(level=args.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    index = load_app(args.app)
    loop = asyncio.new_event_loop()  # async activities share one loop, as in the host
    threading.Thread(target=loop.run_forever, name="activity-loop", daemon=True).start()
    index.loop = loop
    owner = new_owner(nonce=args.nonce)  # the host knows it (_workers.py)
    store = _HostRecords(args.store, origin=owner, out=results)
    # Not shared: it claims only rows whose lease ran out (a dead host's), on its back-off poll;
    # the host says over the pipe which executions ended (their queued items are dropped).
    config = RunnerConfig(args.concurrency, args.lease)
    runner = ActivityRunner(index, store, owner, config, on_beat=store.beat)
    settle_heap()  # the app and its imports live as long as the process (see _heap)
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    threading.Thread(target=_listen, args=(runner, done, sys.stdin.buffer.fileno()), daemon=True).start()
    runner.start()
    done.wait()
    runner.stop()
    store.close()
    return 0


class _Runs(Protocol):
    """What ``_listen`` needs of the runner: the ended executions, and ``submit``."""

    @property
    def finished(self) -> FinishedExecutions: ...

    def submit(self, items: Sequence[WorkItem]) -> None: ...


class _HostRecords(Store):
    """The shared store, except that results go to the host, which commits them (ADR 0029).

    The runner's group commit hands each batch here; the host deletes the work rows and queues
    the results in one transaction of its own, dropping those whose row is gone (one result per
    row, as ``Store.complete_many``). An item whose result the host has not read when this
    process dies runs again: the host keeps each item it handed out until its result is in.
    """

    def __init__(self, path: Path, *, origin: str, out: BinaryIO) -> None:
        super().__init__(path, origin=origin)
        self._out, self._out_lock = out, threading.Lock()

    def complete_many(self, done: Sequence[tuple[WorkItem, Event]], now: float) -> list[WorkItem]:
        self._write(encode_results(done))
        return [item for item, _ in done]

    def beat(self, _until: float) -> None:
        """The heartbeat: an empty line, so the host can tell a stalled process (ADR 0029)."""
        self._write(b"\n")

    def _write(self, frame: bytes) -> None:
        with self._out_lock, contextlib.suppress(BrokenPipeError):  # no host: this process ends
            self._out.write(frame)
            self._out.flush()


def _listen(runner: _Runs, done: threading.Event, fd: int) -> None:
    """Work from the host on ``fd`` (this process's stdin), to run. The pipe closes when the
    host exits, however it exits (a line it had not finished writing is dropped: its item is
    the host's, which runs it again once this process is gone).

    Everything one read finds is submitted at once: a step's items come as one write, and
    submitting them line by line woke an activity thread per item (each to run one) where one
    thread takes the whole batch onto its event loop (ADR 0065), as in the host.
    """
    rest = b""
    while chunk := os.read(fd, 1 << 16):
        *lines, rest = (rest + chunk).split(b"\n")
        items, ended = decode_items(lines)
        for execution_id in ended:
            runner.finished.add(execution_id)
        runner.submit(items)
    done.set()


if __name__ == "__main__":
    sys.exit(main())
