"""Convergio through its front door: the peers' graphs started and watched over HTTP.

What a client of the product does, on a real host process (``python -m convergio start``, the
real ``function_app.py``, its own state directory), with quota admission and usage metering on
(a tenant with the default budget, the offline provider):

- ``poll``: ``POST /api/v1/runs`` with the graph inline, then ``GET /api/v1/runs/{id}`` every
  100 ms (10 Hz) until the run is final;
- ``sse``: ``POST /api/v1/runs``, then ``GET /api/v1/runs/{id}/stream`` (Server-Sent Events)
  read until its ``run`` event.

Timing starts before the POST and stops when the client sees the end, so it includes the API's
validation of the graph, the HTTP layer and the client's own polling or stream latency. Each run
must end ``Completed`` with an output for every node. The host is started once per worker and
stopped with it; its output goes to this worker's stderr only on failure.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from benchmarks.peers_convergio import graph_spec
from benchmarks.peers_workloads import TOPIC, Workload

__all__ = ["HttpRunner", "POLL_S", "runner", "start_host"]

ROOT = Path(__file__).resolve().parent.parent
POLL_S = 0.1
_FINAL = frozenset({"Completed", "Failed", "Terminated"})
_TIMEOUT_S = 600.0


class Host:
    """``python -m convergio start`` on a free port, its output kept for error reports."""

    def __init__(self, home: Path, env: dict[str, str] | None = None, *, root: Path = ROOT) -> None:
        """``root``: the checkout whose app and package run (another one for a before/after)."""
        self.lines: list[str] = []
        self.base_url = ""
        app = str(root / "function_app.py")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "convergio", "start", "--app", app, "--port", "0", "--home", str(home)],
            cwd=root,
            env={**os.environ, **(env or {})},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        ready = threading.Event()

        def pump() -> None:
            assert self.process.stdout is not None
            for line in self.process.stdout:
                self.lines.append(line.rstrip())
                if line.startswith("Host started: "):
                    self.base_url = line.split(": ", 1)[1].strip()
                    ready.set()

        self._pump = threading.Thread(target=pump, name="host-output", daemon=True)
        self._pump.start()
        if not ready.wait(60):
            self.stop()
            raise RuntimeError("the host did not start:\n" + "\n".join(self.lines[-50:]))

    @property
    def pid(self) -> int:
        return self.process.pid

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        self._pump.join(10)
        if self.process.stdout is not None:
            self.process.stdout.close()


def start_host(home: Path, *, root: Path = ROOT) -> tuple[Host, str]:
    """A host on ``home`` with one tenant; returns the host and the tenant's API key."""
    from convergio.tenants import open_tenant_store

    home.mkdir(parents=True, exist_ok=True)
    key = open_tenant_store(home).add_tenant("bench")[1]
    return Host(home, root=root), key


class HttpRunner:
    """One host process, one HTTP client; one run at a time, as the other systems."""

    def __init__(self, mode: str, home: Path, *, root: Path = ROOT) -> None:
        if mode not in ("poll", "sse"):
            raise ValueError(f"unknown mode {mode!r}")
        self.mode = mode
        self.last_post_s = 0.0
        self.host, key = start_host(home / "host", root=root)
        self.http = httpx.Client(
            base_url=f"{self.host.base_url}/api/v1", headers={"x-api-key": key}, timeout=_TIMEOUT_S
        )

    def prepare(self, workload: Workload) -> Callable[[], int]:
        body = {"graph": graph_spec(workload), "input": {"topic": TOPIC}}
        expected = len(workload.nodes)
        return lambda: self.run(body, expected)

    def run(self, body: dict[str, Any], expected: int) -> int:
        posted = time.perf_counter()
        answer = self.http.post("/runs", json=body)
        self.last_post_s = time.perf_counter() - posted  # the POST alone, for peers_http_ab
        if answer.status_code != 202:
            raise RuntimeError(f"POST /runs answered {answer.status_code}: {answer.text[:500]}")
        run_id = str(answer.json()["id"])
        if self.mode == "sse":
            status, nodes = self._stream(run_id)
        else:
            view = self._poll(run_id)
            status, nodes = view["status"], {n: node["status"] for n, node in view["nodes"].items()}
        if status != "Completed":
            raise RuntimeError(f"run {run_id} ended {status}")
        done = sum(1 for node_status in nodes.values() if node_status == "completed")
        if done != expected:
            raise RuntimeError(f"run {run_id}: {done} of {expected} nodes completed")
        return done

    def _poll(self, run_id: str) -> dict[str, Any]:
        """``GET /runs/{id}`` at 10 Hz until final (after an SSE end, the first read is final)."""
        deadline = time.monotonic() + _TIMEOUT_S
        while True:
            answer = self.http.get(f"/runs/{run_id}")
            if answer.status_code != 200:
                raise RuntimeError(f"GET /runs/{run_id} answered {answer.status_code}: {answer.text[:500]}")
            view: dict[str, Any] = answer.json()
            if view["status"] in _FINAL:
                return view
            if time.monotonic() > deadline:
                raise TimeoutError(f"run {run_id} still {view['status']} after {_TIMEOUT_S} s")
            time.sleep(POLL_S)

    def _stream(self, run_id: str) -> tuple[str, dict[str, str]]:
        """Read the run's event stream until its ``run`` event: the run's status and each node's last.

        Every node change is a ``node`` event and the stream sends the final ones before ``run``,
        so the nodes' last statuses are their final ones: no extra ``GET`` is timed.
        """
        nodes: dict[str, str] = {}
        with self.http.stream("GET", f"/runs/{run_id}/stream") as answer:
            if answer.status_code != 200:
                raise RuntimeError(f"GET /runs/{run_id}/stream answered {answer.status_code}")
            event = ""
            for line in answer.iter_lines():
                if line.startswith("event:"):
                    event = line.split(":", 1)[1].strip()
                elif not line.startswith("data:"):
                    continue
                elif event == "node":
                    data = json.loads(line.split(":", 1)[1])
                    nodes[data["node"]] = data["status"]
                elif event == "run":
                    return str(json.loads(line.split(":", 1)[1])["status"]), nodes
                elif event == "error":
                    raise RuntimeError(f"run {run_id}: stream error {line}")
        raise RuntimeError(f"run {run_id}: the stream closed before the run ended")

    def close(self) -> None:
        self.http.close()
        self.host.stop()


def runner(variant: str, home: Path) -> HttpRunner:
    return HttpRunner(variant, home)
