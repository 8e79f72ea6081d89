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
    db = sqlite3.connect(ledger.path)
    try:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        indexes = {row[1] for row in db.execute("PRAGMA index_list(usage)")}
        assert {"usage_tenant_at", "usage_tenant_run"} <= indexes
        columns = [
            tuple(db.execute(f"PRAGMA index_info({name})"))
            for name in sorted(indexes - {"sqlite_autoindex_usage_1"})
        ]
        assert [[c[2] for c in cols] for cols in columns] == [["tenant_id", "at"], ["tenant_id", "run_id"]]
    finally:
        db.close()


def test_a_new_ledger_appends_rows_and_an_older_one_keeps_its_table(tmp_path: Path) -> None:
    """ADR 0048: a new ledger is a rowid table whose id is unique (its rows append; only the id's
    index takes random inserts); an older ``WITHOUT ROWID`` ledger is used as it is."""
    from tests.metering.test_ledger_contract import OLDER_SQLITE

    def table(path: Path) -> str:
        with sqlite3.connect(path) as db:
            found = db.execute("SELECT sql FROM sqlite_master WHERE name = 'usage'").fetchone()[0]
        db.close()
        return str(found)

    records = random_records(3, 40)
    with SqliteLedger(tmp_path / "new.sqlite3") as new:
        assert new.record(records) == 40 and new.record(records[:5]) == 0
    assert "WITHOUT ROWID" not in table(tmp_path / "new.sqlite3")
    with sqlite3.connect(tmp_path / "new.sqlite3") as db:
        unique = [row for row in db.execute("PRAGMA index_list(usage)") if row[2]]
        assert [[c[2] for c in db.execute(f"PRAGMA index_info({row[1]})")] for row in unique] == [["id"]]
    db.close()
    with sqlite3.connect(tmp_path / "old.sqlite3") as db:
        db.executescript(OLDER_SQLITE)
    db.close()
    with SqliteLedger(tmp_path / "old.sqlite3") as old:
        assert old.record(records) == 40 and old.record(records[:5]) == 0
        assert sorted(_everything(old), key=lambda r: r.id) == sorted(records, key=lambda r: r.id)
    assert "WITHOUT ROWID" in table(tmp_path / "old.sqlite3")


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
    # the holder's empty batch, then: the insert meets r0 and fails, the stored ids, the rest
    assert [s.split(" ")[0] for s in seen] == [
        "BEGIN",
        "COMMIT",
        "BEGIN",
        "INSERT",
        "SELECT",
        "INSERT",
        "COMMIT",
    ]
    assert sorted(x.attempt for x in ledger.query("tenant-a")) == [0, 1, 2, 3]
    assert ledger.record(r) == 0


def test_a_batch_of_new_records_costs_three_statements_however_many_calls(ledger: SqliteLedger) -> None:
    records = random_records(6, 128)
    calls = [records[n : n + 2] for n in range(0, 128, 2)]
    with statements(ledger._db) as seen:
        futures = in_one_batch(ledger._db, [lambda c=c: ledger.record(c) for c in calls])
    assert [f.result() for f in futures] == [2] * 64
    assert [s.split(" ")[0] for s in seen] == ["BEGIN", "COMMIT", "BEGIN", "INSERT", "COMMIT"]
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
