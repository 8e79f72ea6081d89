"""The SQLite tenant store's kept connections (ADR 0032): group-committed writes, per-thread readers.

What could regress: a failing write taking others of its transaction down, a kept reader serving
an old snapshot, or a reader holding a snapshot that keeps the WAL from being checkpointed.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from convergio.tenants import SqliteTenantStore, UnknownTenant
from tests._helpers import checkpoint_busy


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "tenants.sqlite3"


def test_a_refused_write_fails_alone_among_concurrent_ones(path: Path) -> None:
    store = SqliteTenantStore(path)
    store.add_tenant("Acme")
    store.add_tenant("Other")
    store.record_run("other", "taken", "g")

    def start(n: int) -> str:
        try:
            if n % 5 == 0:
                store.record_run("acme", "taken", "g")  # another tenant's run: refused
            elif n % 7 == 0:
                store.record_run("nobody", f"r{n}", "g")
            else:
                store.record_run("acme", f"r{n}", "g")
        except ValueError:
            return "refused"
        except UnknownTenant:
            return "unknown"
        return "ok"

    with ThreadPoolExecutor(8) as pool:
        outcomes = list(pool.map(start, range(200)))
    expected = ["refused" if n % 5 == 0 else "unknown" if n % 7 == 0 else "ok" for n in range(200)]
    assert outcomes == expected
    assert store.count_runs("acme") == expected.count("ok")
    assert store.owner_of("taken") == "other"


def test_a_kept_reader_sees_another_instances_later_commits(path: Path) -> None:
    host, cli = SqliteTenantStore(path), SqliteTenantStore(path)
    tenant, key = cli.add_tenant("Acme")
    seen: list[object] = []

    def reader() -> None:  # one thread, so one kept connection, across the other's commits
        seen.append(host.authenticate(key))
        barrier.wait()
        barrier.wait()
        seen.append(host.authenticate(key))
        seen.append(host.run("r1"))

    barrier = threading.Barrier(2)
    thread = threading.Thread(target=reader)
    thread.start()
    barrier.wait()
    cli.revoke_keys("acme")
    cli.record_run("acme", "r1", "g")
    barrier.wait()
    thread.join()
    assert seen[0] == tenant and seen[1] is None
    assert seen[2] is not None


def test_kept_readers_hold_no_snapshot_between_calls(path: Path) -> None:
    store = SqliteTenantStore(path)
    _, key = store.add_tenant("Acme")
    for n in range(20):
        store.record_run("acme", f"r{n}", "g")
    store.identify(key)
    store.run("r1")
    store.list_runs("acme", limit=5)
    store.records("connections").get("acme", "none")
    store.record_run("acme", "late", "g")
    assert checkpoint_busy(path) == 0
