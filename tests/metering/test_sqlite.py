"""The embedded SQLite ledger alone: threads, instances and processes on one file, group commit,
its schema (the contract both ledgers keep is in ``test_ledger_contract.py``)."""

from __future__ import annotations

import random
import sqlite3
import subprocess
import sys
import threading
from decimal import Decimal
from pathlib import Path

import pytest

from convergio import _sql_rows
from convergio.metering import SqliteLedger, UsageRecord
from tests._helpers import ROOT
from tests.metering._batching import in_one_batch, statements
from tests.metering._samples import random_records, record


@pytest.fixture
def ledger(tmp_path: Path) -> SqliteLedger:
    return SqliteLedger(tmp_path / "usage.sqlite3")


def _everything(ledger: SqliteLedger) -> list[UsageRecord]:
    """Every record of the sample tenants."""
    return [r for tenant in ("tenant-1", "tenant-2", "tenant-3", "tenant-4") for r in ledger.query(tenant)]


def test_records_round_trip_exactly(tmp_path: Path) -> None:
    records = random_records(2, 200, fractional=True)
    with SqliteLedger(tmp_path / "u.sqlite3") as first:
        first.record(records)
    with SqliteLedger(tmp_path / "u.sqlite3") as second:
        stored = _everything(second)
    assert sorted(stored, key=lambda r: r.id) == sorted(records, key=lambda r: r.id)
    assert any(isinstance(r.quantity, Decimal) for r in stored) and any(r.unpriced for r in stored)


def test_uses_wal_and_indexes(ledger: SqliteLedger) -> None:
    """A new ledger: unique by (tenant, run, id), ordered by run (ADR 0058), and by (tenant, at)."""
    db = sqlite3.connect(ledger.path)
    try:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        indexes = {row[1]: bool(row[2]) for row in db.execute("PRAGMA index_list(usage)")}
        columns = {name: [c[2] for c in db.execute(f"PRAGMA index_info({name})")] for name in indexes}
        assert sorted((columns[name], unique) for name, unique in indexes.items()) == [
            (["tenant_id", "at"], False),
            (["tenant_id", "run_id", "id"], True),
        ]
    finally:
        db.close()


ADR_0048_SQLITE = """
CREATE TABLE usage (
    id TEXT NOT NULL UNIQUE, tenant_id TEXT NOT NULL, run_id TEXT NOT NULL, node_id TEXT NOT NULL,
    attempt INTEGER NOT NULL, provider TEXT NOT NULL, model TEXT NOT NULL, key_mode TEXT NOT NULL,
    unit TEXT NOT NULL, quantity TEXT NOT NULL, unit_price TEXT NOT NULL, cost TEXT NOT NULL,
    at TEXT NOT NULL, unpriced INTEGER NOT NULL, estimated INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX usage_tenant_at ON usage(tenant_id, at);
CREATE INDEX usage_tenant_run ON usage(tenant_id, run_id);
"""
"""A ledger as ADR 0048 made it (a unique index on the bare id): kept as it is, and a ledger."""


@pytest.mark.parametrize("older", ["", "without-rowid", "adr-0048"])
def test_a_ledger_of_any_layout_keeps_the_first_record_of_an_id_and_finds_it(
    tmp_path: Path, older: str
) -> None:
    """ADR 0058: a new ledger's records are unique by (tenant, run, id) in an index ordered by
    run; a ledger made before keeps its layout; every layout keeps an id once, whether the copy
    comes in a later batch or beside new records, and finds a call's records with or without
    their run."""
    from tests.metering.test_ledger_contract import OLDER_SQLITE

    path = tmp_path / "usage.sqlite3"
    if older:
        with sqlite3.connect(path) as db:
            db.executescript(OLDER_SQLITE if older == "without-rowid" else ADR_0048_SQLITE)
        db.close()
    records = random_records(3, 40)
    with SqliteLedger(path) as ledger:
        assert ledger.record(records[:30]) == 30
        assert ledger.record(records[20:]) == 10  # ten stored already, ten new, in one batch
        assert ledger.record(records[:5]) == 0
        assert sorted(_everything(ledger), key=lambda r: r.id) == sorted(records, key=lambda r: r.id)
        one = records[7]
        assert ledger.get(one.tenant_id, [one.id], run_id=one.run_id) == [one]
        assert ledger.get(one.tenant_id, [one.id]) == [one]
        assert ledger.get(one.tenant_id, [one.id], run_id=one.run_id + "-other") == []
    with sqlite3.connect(path) as db:
        found = str(db.execute("SELECT sql FROM sqlite_master WHERE name = 'usage'").fetchone()[0])
        indexes = {row[1] for row in db.execute("PRAGMA index_list(usage)")}
    db.close()
    assert ("WITHOUT ROWID" in found) == (older == "without-rowid")
    assert ("usage_tenant_run" in indexes) == bool(older)
    assert ("UNIQUE (tenant_id, run_id, id)" in found) == (not older)


def _hammer(ledgers: list[SqliteLedger], records: list[UsageRecord], threads_per_ledger: int) -> list[int]:
    results: list[int] = []
    lock = threading.Lock()
    barrier = threading.Barrier(len(ledgers) * threads_per_ledger)

    def work(ledger: SqliteLedger, seed: int) -> None:
        mine = list(records)
        random.Random(seed).shuffle(mine)
        barrier.wait()
        for start in range(0, len(mine), 7):
            new = ledger.record(mine[start : start + 7])
            with lock:
                results.append(new)

    workers = [
        threading.Thread(target=work, args=(ledger, seed))
        for seed, ledger in enumerate(ledger for ledger in ledgers for _ in range(threads_per_ledger))
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return results


def test_concurrent_threads_on_one_instance_record_each_id_once(ledger: SqliteLedger) -> None:
    records = random_records(3, 300)
    assert sum(_hammer([ledger], records, 8)) == 300
    assert len(_everything(ledger)) == 300


def test_two_instances_on_one_file_record_each_id_once(tmp_path: Path) -> None:
    records = random_records(4, 300)
    with SqliteLedger(tmp_path / "u.sqlite3") as one, SqliteLedger(tmp_path / "u.sqlite3") as two:
        assert sum(_hammer([one, two], records, 4)) == 300
        assert len(_everything(two)) == 300


WRITER = """
import sys
from pathlib import Path
from convergio.metering import SqliteLedger
from tests.metering._samples import random_records
records = random_records(5, 400)
ledger = SqliteLedger(Path(sys.argv[1]))
print(sum(ledger.record(records[start:start + 10]) for start in range(0, 400, 10)))
"""


def test_several_processes_record_each_id_once(tmp_path: Path) -> None:
    path = tmp_path / "shared.sqlite3"
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(path)], cwd=ROOT, stdout=subprocess.PIPE, text=True
        )
        for _ in range(3)
    ]
    outputs = [writer.communicate(timeout=120)[0] for writer in writers]
    assert [writer.returncode for writer in writers] == [0, 0, 0]
    assert sum(int(out) for out in outputs) == 400
    with SqliteLedger(path) as ledger:
        assert len(_everything(ledger)) == 400


def test_a_negative_timeout_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="timeout must be >= 0"):
        SqliteLedger(tmp_path / "u.sqlite3", timeout=-1)


def test_new_counts_follow_queue_order_within_a_batch_and_what_was_stored_before(
    ledger: SqliteLedger,
) -> None:
    r = [record(attempt=n) for n in range(4)]
    assert ledger.record([r[0]]) == 1
    calls = [[r[0], r[1]], [r[1], r[2]], [r[2], r[2], r[3]], [r[0]]]
    with statements(ledger._db) as seen:
        futures = in_one_batch(ledger._db, [lambda c=c: ledger.record(c) for c in calls])
    assert [f.result() for f in futures] == [1, 1, 1, 0]  # the first in the queue has it
    # the holder's empty batch, then: the insert alone meets r0 and fails, leaving nothing; in a
    # transaction, the stored ids (not that insert again), the rest
    assert [s.split(" ")[0] for s in seen] == [
        "BEGIN",
        "COMMIT",
        "INSERT",
        "BEGIN",
        "SELECT",
        "INSERT",
        "COMMIT",
    ]
    assert sorted(x.attempt for x in ledger.query("tenant-a")) == [0, 1, 2, 3]
    assert ledger.record(r) == 0


def test_a_batch_of_new_records_costs_one_statement_however_many_calls(ledger: SqliteLedger) -> None:
    records = random_records(6, 128)
    calls = [records[n : n + 2] for n in range(0, 128, 2)]
    with statements(ledger._db) as seen:
        futures = in_one_batch(ledger._db, [lambda c=c: ledger.record(c) for c in calls])
    assert [f.result() for f in futures] == [2] * 64
    # the holder's empty batch (a transaction: ``Database.write``), then one INSERT committing alone
    assert [s.split(" ")[0] for s in seen] == ["BEGIN", "COMMIT", "INSERT"]
    assert not ledger._db._db.in_transaction
    assert len(_everything(ledger)) == 128


def test_a_batch_larger_than_one_statement_finds_stored_ids_per_chunk(
    ledger: SqliteLedger, monkeypatch: pytest.MonkeyPatch
) -> None:
    records = random_records(7, 9)
    assert ledger.record([records[4]]) == 1
    monkeypatch.setattr(_sql_rows, "_MAX_PARAMETERS", 30)  # two rows per statement
    with statements(ledger._db) as seen:
        assert ledger.record(records) == 8
    assert sum(s.startswith("INSERT") for s in seen) == 6  # five chunks; the one with records[4] twice
    assert len(_everything(ledger)) == 9
