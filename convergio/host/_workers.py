"""Worker processes: more Python processes running the app's activities on the same store.

The Functions host starts ``FUNCTIONS_WORKER_PROCESS_COUNT`` language workers so that one app
uses several cores; a Python process runs one thread at a time (the GIL). Here the host
process keeps the HTTP front end and the orchestrations, and runs activities too; each extra
process (``python -m convergio.host._worker_main``) loads the same app and only claims and runs
activities (ADR 0023). The host leases a step's work to itself in the step's commit and hands
the workers their share through pipes, one JSON line per item on a worker's stdin; a worker
sends each result back on its stdout, and the host commits it and steps its instance at once
(ADR 0029). So a worker never writes the store (no claim waits for the host's write lock, nor
a result commit) and no poll stands between two processes. The host's heartbeat keeps the
leases of what its workers run. A worker ends with its host: its stdin closes when the host
exits, even by ``kill -9``. The host sees a worker end (its stdout's end, or no heartbeat line
for a lease: stalled, and killed then), runs what that worker had not sent back, and starts
another.
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import select
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ._events import Event
from ._leases import new_owner
from ._store import WorkItem
from ._stored_json import stored_bytes, stored_value

__all__ = [
    "LEASE_SETTING",
    "WORKERS_SETTING",
    "WorkerProcesses",
    "decode_items",
    "decode_results",
    "encode_items",
    "encode_results",
    "lease_from_env",
    "workers_from_env",
]

log = logging.getLogger("convergio.host.workers")

WORKERS_SETTING = "FUNCTIONS_WORKER_PROCESS_COUNT"
"""The Functions host's app setting for its language worker count (1 to 10 there)."""
LEASE_SETTING = "CONVERGIO_HOST_LEASE_SECONDS"
"""How long a lease lasts without its heartbeat: how soon a killed process's work runs again."""
_MAX_WORKERS = 10
_RESPAWN_PAUSE_S = 1.0
"""A worker that dies within ``_STEADY_S`` of its start is replaced only after this pause."""
_STEADY_S = 10.0
_BACKGROUND = 1
"""A worker with at most this many items outstanding runs only what the critical path does not
wait for: the host still keeps a step's first item (ADR 0039)."""
_SMALL_STEP = 2
"""A step of at most this many items stays whole in a nearly idle host: a chain's node and, every
17 nodes, its progress write (ADR 0054)."""

Results = Sequence[tuple[WorkItem, Event]]


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


def encode_results(done: Iterable[tuple[WorkItem, Event]]) -> bytes:
    """Activity results as JSON lines for the pipe to the host (the item without its input)."""
    return b"".join(
        stored_bytes([i.id, i.instance_id, i.execution_id, i.task_id, i.name, e]) + b"\n" for i, e in done
    )


def decode_results(lines: Iterable[bytes]) -> list[tuple[WorkItem, Event]]:
    """The results ``encode_results`` wrote, one per line; empty lines (heartbeats) skipped."""
    found = []
    for line in lines:
        if line:
            work_id, instance_id, execution_id, task_id, name, event = stored_value(line)
            found.append((WorkItem(work_id, instance_id, execution_id, task_id, name, None), event))
    return found


def encode_items(items: Iterable[WorkItem]) -> bytes:
    """Work items as JSON lines for the pipe to a worker."""
    return b"".join(
        stored_bytes([i.id, i.instance_id, i.execution_id, i.task_id, i.name, i.input]) + b"\n" for i in items
    )


def decode_items(lines: Iterable[bytes]) -> tuple[list[WorkItem], list[str]]:
    """The items ``encode_items`` wrote, and the executions ``finished`` said have ended."""
    items: list[WorkItem] = []
    ended: list[str] = []
    for line in lines:
        if line.strip():
            found = stored_value(line)
            if isinstance(found, str):
                ended.append(found)
            else:
                items.append(WorkItem(*found))
    return items, ended


@dataclass(eq=False)
class _Worker:
    """One worker process, and the items handed to it whose result has not come back."""

    process: subprocess.Popen[bytes]
    owner: str
    outbox: queue.SimpleQueue[bytes | None] = field(default_factory=queue.SimpleQueue)
    outstanding: dict[int, WorkItem] = field(default_factory=dict)
    ready: bool = False  # it has said it is up (its first heartbeat): silence is a stall from then on
    began: float = field(default_factory=time.monotonic)


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
        on_results: Callable[[Results], None] = lambda _: None,
        on_lost: Callable[[str], None] = lambda _: None,
        run_here: Callable[[Sequence[WorkItem]], None] = lambda _: None,
        host_idle: Callable[[], bool] = lambda: False,
    ) -> None:
        """``on_results``: commit results a worker ran (from its pipe's thread). ``on_lost``:
        a worker ended while the host runs (frees what it claimed itself). ``run_here``: run
        work in the host (no worker, a chain's node, a worker ended before sending its
        result). ``host_idle``: is the host's own activity pool idle?"""
        self.count, self.app, self.store = count, app.resolve(), store.resolve()
        self.concurrency, self.lease_s = concurrency, lease_s
        self.on_results, self.on_lost, self.run_here = on_results, on_lost, run_here
        self.host_idle = host_idle
        self._workers: list[_Worker] = []
        self._threads: list[threading.Thread] = []
        self._stopping = False
        self._lock = threading.Lock()

    @property
    def processes(self) -> list[subprocess.Popen[bytes]]:
        with self._lock:
            return [w.process for w in self._workers]

    def start(self) -> None:
        self._stopping = False
        for _ in range(self.count):
            self._spawn()
        log.info("%d worker processes: %s", self.count, [p.pid for p in self.processes])

    def _spawn(self) -> None:
        nonce = uuid.uuid4().hex[:8]  # its lease owner is host:pid:nonce (see _leases.new_owner)
        command = [sys.executable, "-m", "convergio.host._worker_main", "--app", str(self.app)]
        command += ["--store", str(self.store), "--concurrency", str(self.concurrency), "--nonce", nonce]
        command += ["--lease", str(self.lease_s), "--log-level", str(logging.getLogger().getEffectiveLevel())]
        process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        worker = _Worker(process, new_owner(process.pid, nonce))
        threads = [
            threading.Thread(target=self._listen, args=(worker,), name="worker-results", daemon=True),
            threading.Thread(target=self._send, args=(worker,), name="worker-items", daemon=True),
        ]
        with self._lock:
            self._workers.append(worker)
            self._threads += threads
            if self._stopping:  # stop() began meanwhile: it will not see this one
                process.kill()
        for thread in threads:
            thread.start()

    def assign(self, items: Sequence[WorkItem]) -> None:
        """Hand work leased to the host to the workers, fewest outstanding first (one still
        starting runs it once up). The host runs it all when there is no worker, and, while
        its own pool is idle and no worker has more than one item, the first item (ADR 0039),
        or a step of at most ``_SMALL_STEP`` items whole (ADR 0054): a chain's next node waits
        on nothing else, and a round trip through a worker only adds latency; the progress
        write a chain's step schedules beside it every 17 nodes costs the host more through a
        worker (its pipe threads, the result's own commit) than in its pool, so a chain runs as
        in one process and leaves the worker asleep. Otherwise the host keeps nothing: its
        orchestrator steps cost about what a worker's activities do, so it takes no share of a
        fan-out."""
        here = items
        with self._lock:
            ready = list(self._workers)
            if ready:
                idle = all(len(w.outstanding) <= _BACKGROUND for w in ready) and self.host_idle()
                keep = len(items) if len(items) <= _SMALL_STEP else 1
                here, items = (items[:keep], items[keep:]) if idle else ([], items)
                ready.sort(key=lambda w: len(w.outstanding))  # the least loaded first
                for n, worker in enumerate(ready):
                    share = items[n :: len(ready)]
                    worker.outstanding.update((item.id, item) for item in share)
                    if share:
                        worker.outbox.put(encode_items(share))
        if here:
            self.run_here(here)

    def finished(self, execution_id: str) -> None:
        """An execution ended: its items queued in a worker are dropped there, not run (as in
        the host, ADR 0017), without the worker asking the store before each item. They stop
        counting as the worker's load now: a dropped item sends no result, and one kept in
        ``outstanding`` would count for good, so that no chain's node stayed in the host again
        (ADR 0054). One still running sends its result, committed or not, as before."""
        frame = stored_bytes(execution_id) + b"\n"
        with self._lock:
            for worker in self._workers:
                ended = [k for k, item in worker.outstanding.items() if item.execution_id == execution_id]
                if ended:
                    worker.outbox.put(frame)
                    for key in ended:
                        del worker.outstanding[key]

    def _send(self, worker: _Worker) -> None:
        """Write what is handed to a worker, in order (blocking: a full pipe waits, never drops)."""
        assert worker.process.stdin is not None
        with contextlib.suppress(OSError, ValueError):  # it ended: _listen hands its work on
            while (frame := worker.outbox.get()) is not None:
                worker.process.stdin.write(frame)
                worker.process.stdin.flush()

    def _listen(self, worker: _Worker) -> None:
        """Commit the results a worker sends until its pipe ends, killing it when it goes
        silent for a lease (stalled); then run what it had not sent back and start another."""
        process = worker.process
        assert process.stdout is not None
        fd, rest = process.stdout.fileno(), b""
        while True:
            if worker.ready and not select.select([fd], [], [], self.lease_s)[0]:
                log.warning(
                    "worker process %s sent no heartbeat for %.0f s: killed", process.pid, self.lease_s
                )
                process.kill()  # its pipe ends, and the loop with it
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                break
            *lines, rest = (rest + chunk).split(b"\n")
            results = decode_results(lines)
            worker.ready = True
            if results:
                try:
                    self.on_results(results)
                except Exception:  # not recorded: they run again, here (their rows are the host's)
                    log.exception("recording a worker process's results failed; running them again")
                    self.run_here([item for item, _ in results])
                with self._lock:  # after the commit: a worker that ends now has them recorded
                    for item, _ in results:
                        worker.outstanding.pop(item.id, None)
        process.wait()  # gone: nothing it ran can be sent any more
        worker.outbox.put(None)
        with self._lock:
            if worker in self._workers:
                self._workers.remove(worker)
            lost = list(worker.outstanding.values())
        if self._stopping:
            return
        log.warning(
            "worker process %s exited (%s): %d items run again", process.pid, process.returncode, len(lost)
        )
        try:
            self.on_lost(worker.owner)
            if lost:
                self.assign(lost)
        except Exception:
            log.exception("running again the work of worker process %s failed", process.pid)
        if time.monotonic() - worker.began < _STEADY_S:
            time.sleep(_RESPAWN_PAUSE_S)  # not a tight loop if it dies at start
        if not self._stopping:
            self._spawn()

    def stop(self) -> None:
        self._stopping = True
        with self._lock:
            workers, threads = list(self._workers), list(self._threads)
        for worker in workers:
            worker.outbox.put(None)
            if worker.process.stdin is not None:
                with contextlib.suppress(OSError):
                    worker.process.stdin.close()  # the worker's signal to finish
            if worker.process.poll() is None:
                worker.process.terminate()
        for worker in workers:
            try:
                worker.process.wait(10)
            except subprocess.TimeoutExpired:
                worker.process.kill()
                worker.process.wait(10)
        for thread in threads:  # the last results are committed before the store closes
            thread.join(5)
        with self._lock:
            self._workers.clear()
            self._threads.clear()
