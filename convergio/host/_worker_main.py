"""A worker process: ``python -m convergio.host._worker_main`` (started by ``_workers.py``).

It loads the app, claims and runs activities from the host's store under leases, and tells the
host through its stdout after each commit; its stdin is a pipe from the host, whose bytes ask it
to claim and whose end (the host exited, however) ends it. Not imported by the package, so that
``-m`` runs it once (ADR 0023).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import logging
import os
import signal
import sys
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path

from ._activities import ActivityRunner, RunnerConfig
from ._functions import load_app
from ._leases import new_owner
from ._store import Store

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    """One worker process: claim and run activities until the host's pipe closes."""
    parser = argparse.ArgumentParser(prog="python -m convergio.host._workers")
    parser.add_argument("--app", type=Path, required=True)
    parser.add_argument("--store", type=Path, required=True, help="the task hub's SQLite file")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--lease", type=float, default=30.0)
    parser.add_argument("--log-level", type=int, default=logging.INFO, help="the host's")
    args = parser.parse_args(argv)
    logging.basicConfig(level=args.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    index = load_app(args.app)
    loop = asyncio.new_event_loop()  # async activities share one loop, as in the host
    threading.Thread(target=loop.run_forever, name="activity-loop", daemon=True).start()
    index.loop = loop
    owner = new_owner()
    store = Store(args.store, origin=owner)
    config = RunnerConfig(args.concurrency, args.lease, shared=True, check_rows=True)
    os.set_blocking(sys.stdout.fileno(), False)
    runner = ActivityRunner(index, store, owner, config, on_recorded=_tell_host)
    gc.collect()
    gc.freeze()  # the app and its imports live as long as the process (see convergio._embedded)
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    threading.Thread(target=_listen, args=(runner, done), daemon=True).start()
    runner.start()
    done.wait()
    runner.stop()
    store.close()
    return 0


def _tell_host(_: Iterable[str]) -> None:
    """Results are committed: a byte on the pipe to the host (dropped when the pipe is full:
    the host has not read the last ones yet, and will look at the store then)."""
    with contextlib.suppress(BlockingIOError, BrokenPipeError):
        os.write(sys.stdout.fileno(), b".")


def _listen(runner: ActivityRunner, done: threading.Event) -> None:
    """Bytes from the host: work to claim. The pipe closes when the host exits, however it exits."""
    while os.read(sys.stdin.fileno(), 4096):
        runner.poke()
    done.set()


if __name__ == "__main__":
    sys.exit(main())
