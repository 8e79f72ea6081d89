"""Worker processes: more Python processes running the app's activities on the same store.

The Functions host starts ``FUNCTIONS_WORKER_PROCESS_COUNT`` language workers so that one app
uses several cores; a Python process runs one thread at a time (the GIL). Here the host
process keeps the HTTP front end and the orchestrations, and runs activities too; each extra
process (``python -m convergio.host._worker_main``) loads the same app and only claims and runs
activities, under the leases of ``_leases.py``, recording results in the shared store, where
the host's watch thread sees them (ADR 0023): after each commit a worker writes a byte on its
stdout, a pipe to the host, which wakes that thread at once instead of at its next poll; the
host does the same on each worker's stdin when it commits work for them, which wakes their
claims. A worker ends with its host: that pipe closes when the host exits, even by ``kill -9``.
"""

from __future__ import annotations

import contextlib
import logging
import os
import subprocess
import sys
import threading
from collections.abc import Callable, Mapping
from pathlib import Path

__all__ = [
    "LEASE_SETTING",
    "WORKERS_SETTING",
    "WorkerProcesses",
    "lease_from_env",
    "workers_from_env",
]

log = logging.getLogger("convergio.host.workers")

WORKERS_SETTING = "FUNCTIONS_WORKER_PROCESS_COUNT"
"""The Functions host's app setting for its language worker count (1 to 10 there)."""
LEASE_SETTING = "CONVERGIO_HOST_LEASE_SECONDS"
"""How long a lease lasts without its heartbeat: how soon a killed process's work runs again."""
_MAX_WORKERS = 10


def workers_from_env(environ: Mapping[str, str] = os.environ) -> int:
    """The process count the app setting asks for, as the Functions host reads it; else 1."""
    value = environ.get(WORKERS_SETTING, "").strip()
    if not value:
        return 1
    count = int(value)
    if not 1 <= count <= _MAX_WORKERS:
        raise ValueError(f"{WORKERS_SETTING} must be between 1 and {_MAX_WORKERS}")
    return count


def lease_from_env(environ: Mapping[str, str] = os.environ, default: float = 30.0) -> float:
    value = environ.get(LEASE_SETTING, "").strip()
    lease = float(value) if value else default
    if not lease > 0:
        raise ValueError(f"{LEASE_SETTING} must be a positive number of seconds")
    return lease


class WorkerProcesses:
    """``count`` worker processes for one app and store; started and stopped with the host."""

    def __init__(
        self,
        count: int,
        *,
        app: Path,
        store: Path,
        concurrency: int,
        lease_s: float,
        on_results: Callable[[], None] = lambda: None,
    ) -> None:
        """``on_results``: called when a worker has committed activity results."""
        self.count, self.app, self.store = count, app.resolve(), store.resolve()
        self.concurrency, self.lease_s, self.on_results = concurrency, lease_s, on_results
        self.processes: list[subprocess.Popen[bytes]] = []

    def start(self) -> None:
        command = [sys.executable, "-m", "convergio.host._worker_main", "--app", str(self.app)]
        command += ["--store", str(self.store), "--concurrency", str(self.concurrency)]
        command += ["--lease", str(self.lease_s), "--log-level", str(logging.getLogger().getEffectiveLevel())]
        for _ in range(self.count):
            process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
            assert process.stdin is not None
            os.set_blocking(process.stdin.fileno(), False)
            self.processes.append(process)
            threading.Thread(target=self._listen, args=(process,), name="worker-news", daemon=True).start()
        log.info("%d worker processes: %s", self.count, [p.pid for p in self.processes])

    def tell(self) -> None:
        """Work was committed for the workers: wake their claims (a byte each; dropped while
        a worker has not read the last ones, as it will claim then)."""
        for process in self.processes:
            if process.stdin is not None:
                with contextlib.suppress(BlockingIOError, BrokenPipeError, ValueError):
                    os.write(process.stdin.fileno(), b".")

    def _listen(self, process: subprocess.Popen[bytes]) -> None:
        assert process.stdout is not None
        fd = process.stdout.fileno()
        while os.read(fd, 4096):
            self.on_results()

    def stop(self) -> None:
        for process in self.processes:
            if process.stdin is not None:
                process.stdin.close()  # the worker's signal to finish
            if process.poll() is None:
                process.terminate()
        for process in self.processes:
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)
        self.processes.clear()
