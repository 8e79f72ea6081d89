"""The SQLite webhook store's kept connections (ADR 0032): group-committed writes, per-thread readers.

What could regress: a kept reader serving an old snapshot (a callback registered by another
instance not seen on the next run start), a race between claims of one delivery, a failing
write taking the others of its transaction down, or a reader holding a snapshot that keeps the
WAL from being checkpointed.
"""

from __future__ import annotations

import sqlite3
import threading
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from pathlib import Path

import pytest

from convergio.secrets import LocalSecretStore
from convergio.webhooks import Attempt, Delivery, SqliteWebhookStore
from tests._helpers import checkpoint_busy


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "webhooks.sqlite3"


@pytest.fixture
def secrets(tmp_path: Path) -> LocalSecretStore:
    return LocalSecretStore(tmp_path / "secrets", master_key=b"k" * 32)


def test_a_kept_reader_sees_another_instances_later_commits(path: Path, secrets: LocalSecretStore) -> None:
    host, cli = SqliteWebhookStore(path, secrets), SqliteWebhookStore(path, secrets)
    seen: list[bool] = []

    def reader() -> None:  # one thread, so one kept connection, across the other's commits
        seen.append(host.has_callbacks("acme"))
        barrier.wait()
        barrier.wait()
        seen.append(host.has_callbacks("acme"))
        barrier.wait()
        barrier.wait()
        seen.append(host.has_callbacks("acme"))

    barrier = threading.Barrier(2)
    thread = threading.Thread(target=reader)
    thread.start()
    barrier.wait()
    callback, _ = cli.create_callback("acme", "https://example.com/cb", ["run.completed"])
    barrier.wait()
    barrier.wait()
    assert cli.delete_callback("acme", callback.id)
    barrier.wait()
    thread.join()
    assert seen == [False, True, False]
    host.close()
    cli.close()


def test_concurrent_claims_of_one_delivery_have_one_winner(path: Path, secrets: LocalSecretStore) -> None:
    stores = [SqliteWebhookStore(path, secrets), SqliteWebhookStore(path, secrets)]
    hook, _ = stores[0].create_hook("acme", "g", None)

    def claim(n: int) -> tuple[str, bool]:
        return stores[n % 2].claim_delivery(hook.id, f"d{n % 10}", f"run-{n}")

    with ThreadPoolExecutor(8) as pool:
        claims = list(pool.map(claim, range(200)))
    for delivery in range(10):
        mine = [claims[n] for n in range(200) if n % 10 == delivery]
        winners = [run for run, added in mine if added]
        assert len(winners) == 1  # one claim added the row; every other was told its run
        assert {run for run, _ in mine} == set(winners)


def test_a_refused_write_fails_alone_among_concurrent_ones(path: Path, secrets: LocalSecretStore) -> None:
    store = SqliteWebhookStore(path, secrets)

    def delivery(n: int) -> Delivery:
        return Delivery(
            f"d{n}", "acme", "cb", "run", "run.completed", "pending", f"2026-01-01T00:00:{n:02}", "{}"
        )

    def write(n: int) -> str:
        if n % 5 == 0:  # a duplicate: ignored, not an error
            return "added" if store.add_delivery(delivery(0)) else "dup"
        if n % 7 == 0:  # a status that is not text breaks the UPDATE of its own write only
            try:
                store.record_attempt(f"d{n}", Attempt(1, "now", None, None), object())  # type: ignore[arg-type]
            except sqlite3.Error:
                return "failed"
            return "recorded"
        return "added" if store.add_delivery(delivery(n)) else "dup"

    store.add_delivery(delivery(0))
    with ThreadPoolExecutor(8) as pool:
        outcomes = list(pool.map(write, range(1, 60)))
    expected = ["dup" if n % 5 == 0 else "failed" if n % 7 == 0 else "added" for n in range(1, 60)]
    assert outcomes == expected
    for n in range(1, 60):
        found = store.delivery(f"d{n}")
        assert (found is not None) == (n % 5 != 0 and n % 7 != 0)
        assert found is None or found.attempts == ()
    with closing(sqlite3.connect(path)) as db:  # the failed writes' attempts were rolled back too
        assert db.execute("SELECT COUNT(*) FROM attempts").fetchone() == (0,)


def test_kept_readers_hold_no_snapshot_between_calls(path: Path, secrets: LocalSecretStore) -> None:
    store = SqliteWebhookStore(path, secrets)
    callback, _ = store.create_callback("acme", "https://example.com/cb", ["run.completed"])
    store.has_callbacks("acme")
    store.callbacks("acme")
    store.deliveries("acme", callback.id)
    store.delivery("none")
    store.create_hook("acme", "g", None)
    assert checkpoint_busy(path) == 0
