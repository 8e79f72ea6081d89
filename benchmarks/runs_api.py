"""The runs API through its front door: the run list over a large index, and the run view.

    .venv/bin/python -m benchmarks.runs_api                     # 10,000 runs, SQLite and Cosmos
    .venv/bin/python -m benchmarks.runs_api --runs 2000 --no-cosmos --repeat 10   # quicker

What it measures, each through HTTP against the real app (``function_app.py``) on the embedded
host (``python -m convergio start``), the way the console and a client call it:

- ``GET /api/v1/runs?limit=100`` over a tenant with ``--runs`` runs in its index: the first page,
  a status filter (common and rare statuses), the next page by cursor and a deep offset;
  the home's tenant store is SQLite, then (unless ``--no-cosmos``) the Cosmos DB emulator.
  The index is seeded with the rows and documents the store writes (SQLite: ``runs`` rows in one
  transaction; Cosmos: ``run_documents``, in batches of 100): through the store it is two
  fsynced transactions per run on SQLite, and on the emulator six requests per run, each with
  a TLS handshake of its own.
- ``GET /api/v1/runs/{id}`` of a finished ``--nodes``-agent fan-out (instant offline agents),
  again with ``If-None-Match`` (a 304 when the server sends ETags), and of a running one
  (agents with ``latency_ms``), polled while it runs.

``--app`` runs another checkout's app (its own ``convergio`` package, through ``PYTHONPATH``),
which is how the "before" figures in docs/performance.md were taken from the previous commit.
Figures are medians of ``--repeat`` calls (milliseconds, client side, keep-alive connection).
"""

from __future__ import annotations

import argparse
import base64
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

__all__ = ["main"]

ROOT = Path(__file__).resolve().parent.parent
TENANT = "Bench School"
# What the seeded runs ended as: mostly finished, a few still going, as a busy tenant's index.
MIX = (("Completed", 70), ("Failed", 15), ("Terminated", 10), ("Running", 5))


def _statuses(n: int) -> list[str]:
    cycle = [status for status, weight in MIX for _ in range(weight)]
    return [cycle[(i * 37) % len(cycle)] for i in range(n)]


def _stamp(i: int) -> str:
    start = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(seconds=37 * i)
    return start.isoformat(timespec="microseconds")


def seed_sqlite(home: Path, runs: int) -> str:
    """A tenant with ``runs`` runs in the SQLite index of ``home``; returns its API key."""
    from convergio.tenants import open_tenant_store

    store = open_tenant_store(home)
    tenant, key = store.add_tenant(TENANT)
    if not hasattr(store, "update_run"):  # a release before the index kept state: its own API
        for i in range(runs):
            store.record_run(tenant.id, f"bench-{i:06d}", "bench-graph", created_at=_stamp(i))
        return key
    # The rows the store writes (record_run, then update_run), in one transaction: through the
    # API it is two fsynced transactions per run, minutes for 10,000.
    rows = [
        (
            f"bench-{i:06d}",
            tenant.id,
            "bench-graph",
            _stamp(i),
            status,
            None if status == "Running" else _stamp(i + 1),
            _stamp(i + 1),
            '{"total_tokens": 64}',
        )
        for i, status in enumerate(_statuses(runs))
    ]
    with sqlite3.connect(home / "tenants.sqlite3") as db:
        db.executemany(
            "INSERT INTO runs (run_id, tenant_id, graph_name, created_at, status, finished_at, updated_at,"
            " usage) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            rows,
        )
    return key


def seed_cosmos(settings: dict[str, str], home: Path, runs: int) -> str:
    """The same tenant and runs in a fresh database on the Cosmos emulator; returns the key."""
    from convergio.controlplane import CosmosPlane
    from convergio.tenants import RunRecord, open_tenant_store
    from convergio.tenants._runs_cosmos import run_documents

    plane = CosmosPlane.connect(
        settings["COSMOS_ENDPOINT"], settings["COSMOS_DATABASE"], key=settings["COSMOS_KEY"], verify_tls=False
    )
    store = open_tenant_store(home, cosmos=plane)
    tenant, key = store.add_tenant(TENANT)
    container = plane.container("tenants")

    listings, claims = [], []
    for i, status in enumerate(_statuses(runs)):
        finished = None if status == "Running" else _stamp(i + 1)
        record = RunRecord(
            f"bench-{i:06d}", tenant.id, "bench-graph", _stamp(i), status=status, finished_at=finished
        )
        claim, listing = run_documents(record, seq=i)
        listings.append(listing)
        # The emulator closes every connection (one TLS handshake per request) and scans every
        # document of the container per query: only the global documents' count matters to a
        # list, so they are written in batches, to one partition of their own.
        claims.append({**claim, "id": f"run:{record.run_id}", "tenant_id": "~bench-claims"})
    for docs, partition in ((listings, tenant.id), (claims, "~bench-claims")):
        for at in range(0, len(docs), 100):
            container.execute_item_batch(
                [("create", (d,)) for d in docs[at : at + 100]], partition_key=partition
            )
    return key


@contextmanager
def host(app: Path, home: Path, env: dict[str, str]) -> Iterator[str]:
    """``python -m convergio start`` for ``app`` (its checkout first on the path); yields the base URL."""
    checkout = app.parent
    full = {**os.environ, "PYTHONPATH": str(checkout), **env}
    argv = [sys.executable, "-m", "convergio", "start", "--app", str(app), "--port", "0", "--home", str(home)]
    process = subprocess.Popen(
        argv, cwd=checkout, env=full, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    url: list[str] = []
    ready = threading.Event()

    def pump() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            if line.startswith("Host started: "):
                url.append(line.split(": ", 1)[1].strip())
                ready.set()

    threading.Thread(target=pump, daemon=True).start()
    try:
        if not ready.wait(60):
            raise RuntimeError("the host did not start")
        yield url[0]
    finally:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()


def timed(call: Callable[[], httpx.Response], repeat: int, *, budget_s: float = 120.0) -> tuple[float, int]:
    """Median milliseconds of ``call`` (after one warm-up) and the last status code.

    A call that takes more than 5 s (the list before the index: one durable call per run) is
    measured once, by its warm-up.
    """
    start = time.perf_counter()
    code = call().status_code
    first = (time.perf_counter() - start) * 1000
    if first > 5000:
        return first, code
    times: list[float] = []
    deadline = time.monotonic() + budget_s
    for _ in range(repeat):
        start = time.perf_counter()
        code = call().status_code
        times.append((time.perf_counter() - start) * 1000)
        if time.monotonic() > deadline:
            break
    return statistics.median(times), code


def list_rows(http: httpx.Client, label: str, repeat: int) -> list[tuple[str, str, float, int]]:
    rows: list[tuple[str, str, float, int]] = []
    first = http.get("/runs", params={"limit": 100}).json()
    cursor = first.get("next_cursor")
    cases: list[tuple[str, dict[str, Any]]] = [
        ("limit=100", {"limit": 100}),
        ("limit=100&status=Completed", {"limit": 100, "status": "Completed"}),
        ("limit=100&status=Running", {"limit": 100, "status": "Running"}),
        ("limit=100&offset=5000", {"limit": 100, "offset": 5000}),
    ]
    if cursor:
        cases.append(("limit=100&cursor=<page 2>", {"limit": 100, "cursor": cursor}))
    for name, params in cases:
        ms, code = timed(lambda p=params: http.get("/runs", params=p, timeout=600), repeat)  # type: ignore[misc]
        _row(rows, label, f"GET /runs?{name}", ms, code)
    return rows


def _fan_out(nodes: int, latency_ms: int) -> dict[str, Any]:
    """``nodes`` agents: a root, ``nodes - 2`` workers on it, and a sink on every worker."""
    options = {"output_tokens": 8, **({"latency_ms": latency_ms} if latency_ms else {})}
    agents = [{"id": "root", "prompt": "Plan {{ input }}", "options": {"output_tokens": 8}}]
    workers = [f"n{i:03d}" for i in range(nodes - 2)]
    agents += [
        {"id": w, "prompt": "Work on {{ input }}", "depends_on": ["root"], "options": options}
        for w in workers
    ]
    agents.append({"id": "sink", "prompt": "Sum up", "depends_on": workers, "options": {"output_tokens": 8}})
    return {"name": f"fan-out-{nodes}", "agents": agents, "output": "sink", "max_parallel": 64}


def _row(rows: list[tuple[str, str, float, int]], store: str, call: str, ms: float, code: int) -> None:
    rows.append((store, call, ms, code))
    print(f"  {store:7} {call:50} {ms:10.1f} ms  HTTP {code}", flush=True)


def _wait(http: httpx.Client, run_id: str, done: Callable[[dict[str, Any]], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if done(http.get(f"/runs/{run_id}").json()):
            return
        time.sleep(0.2)
    raise RuntimeError(f"run {run_id} did not get there in {timeout} s")


def view_rows(http: httpx.Client, nodes: int, repeat: int) -> list[tuple[str, str, float, int]]:
    rows: list[tuple[str, str, float, int]] = []
    run_id = http.post("/runs", json={"graph": _fan_out(nodes, 0), "input": "x"}).json()["id"]
    _wait(http, run_id, lambda v: v["status"] in ("Completed", "Failed"), 600)
    ms, code = timed(lambda: http.get(f"/runs/{run_id}"), repeat)
    _row(rows, "sqlite", f"GET /runs/{{id}}, finished, {nodes} nodes", ms, code)
    etag = http.get(f"/runs/{run_id}").headers.get("etag")
    if etag:
        ms, code = timed(lambda: http.get(f"/runs/{run_id}", headers={"If-None-Match": etag}), repeat)
        _row(rows, "sqlite", "  same, If-None-Match: its ETag", ms, code)
    # Running: agents that take 2 s each, at most 64 at once, so the run lasts about 16 s.
    run_id = http.post("/runs", json={"graph": _fan_out(nodes, 2000), "input": "y"}).json()["id"]
    _wait(http, run_id, lambda v: v["status"] == "Running" and len(v["nodes"]) == nodes, 60)
    time.sleep(4.5)  # a few waves in: progress records sealed into the history, nodes going
    times: list[float] = []
    deadline = time.monotonic() + 8
    while time.monotonic() < deadline and len(times) < max(repeat, 200):  # 10 Hz, as a client polls
        start = time.perf_counter()
        code = http.get(f"/runs/{run_id}").status_code
        times.append((time.perf_counter() - start) * 1000)
        time.sleep(max(0.0, 0.1 - (time.perf_counter() - start)))
    _row(rows, "sqlite", f"GET /runs/{{id}}, running, {nodes} nodes, 10 Hz", statistics.median(times), code)
    slow = sorted(times)[int(len(times) * 0.9)]
    _row(rows, "sqlite", f"  same, 90th percentile of {len(times)} polls (rebuilds)", slow, code)
    etag = http.get(f"/runs/{run_id}").headers.get("etag")
    if etag:
        ms, code = timed(
            lambda: http.get(f"/runs/{run_id}", headers={"If-None-Match": etag}), repeat, budget_s=4
        )
        _row(rows, "sqlite", "  same, If-None-Match: its ETag", ms, code)
    http.post(f"/runs/{run_id}/cancel")
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=10_000, help="runs in the tenant's index")
    parser.add_argument("--nodes", type=int, default=500, help="agents in the viewed runs")
    parser.add_argument("--repeat", type=int, default=30, help="calls per figure (median)")
    parser.add_argument("--app", type=Path, default=ROOT / "function_app.py", help="the app to serve")
    parser.add_argument("--no-cosmos", action="store_true", help="skip the Cosmos DB emulator rows")
    parser.add_argument("--no-view", action="store_true", help="skip the run view rows")
    parser.add_argument("--no-list", action="store_true", help="skip the run list rows")
    args = parser.parse_args(argv)
    rows: list[tuple[str, str, float, int]] = []
    with tempfile.TemporaryDirectory(prefix="runs-api-") as tmp:
        home = Path(tmp) / "sqlite"
        start = time.perf_counter()
        key = seed_sqlite(home, args.runs)
        print(f"seeded {args.runs} runs (SQLite) in {time.perf_counter() - start:.1f} s", flush=True)
        with (
            host(args.app, home, {}) as url,
            httpx.Client(base_url=f"{url}/api/v1", headers={"x-api-key": key}, timeout=600) as http,
        ):
            if not args.no_list:
                rows += list_rows(http, "sqlite", args.repeat)
            if not args.no_view:
                rows += view_rows(http, args.nodes, args.repeat)
        if not args.no_cosmos and not args.no_list:
            sys.path.insert(0, str(ROOT))
            from tests._emulators import Azurite, CosmosEmulator  # the emulators the tests use

            emulator, blobs = CosmosEmulator().start(Path(tmp)), Azurite().start(Path(tmp))
            try:
                settings = {
                    **emulator.settings(),
                    "AzureWebJobsStorage": blobs.connection_string,
                    "CONVERGIO_SECRETS_MASTER_KEY": base64.b64encode(os.urandom(32)).decode(),
                }
                start = time.perf_counter()
                key = seed_cosmos(settings, Path(tmp) / "cosmos", args.runs)
                print(f"seeded {args.runs} runs (Cosmos) in {time.perf_counter() - start:.1f} s", flush=True)
                with (
                    host(args.app, Path(tmp) / "cosmos", settings) as url,
                    httpx.Client(base_url=f"{url}/api/v1", headers={"x-api-key": key}, timeout=600) as http,
                ):
                    rows += list_rows(http, "cosmos", max(3, args.repeat // 3))
            finally:
                emulator.stop()
                blobs.stop()
    print(f"\n{args.runs} runs in the index; medians of up to {args.repeat} calls; app {args.app}\n")
    print("| store | call | ms (median) | HTTP |")
    print("|---|---|---:|---:|")
    for store, call, ms, code in rows:
        print(f"| {store} | {call} | {ms:.1f} | {code} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
