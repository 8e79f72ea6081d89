"""``DataVersion``: SQLite's own answer to "committed since?", asked without letting go of the GIL."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from convergio import _data_version
from convergio._data_version import DataVersion

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def path(tmp_path: Path) -> Path:
    path = tmp_path / "file.sqlite3"
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("CREATE TABLE t (x)")
    db.close()
    return path


def test_it_moves_with_every_commit_of_any_connection_and_only_then(path: Path) -> None:
    version = DataVersion(path)
    writer = sqlite3.connect(path, isolation_level=None)
    first = version()
    assert isinstance(first, int)
    assert version() == first  # nothing committed
    writer.execute("INSERT INTO t VALUES (1)")
    second = version()
    assert second is not None and second != first
    writer.execute("BEGIN IMMEDIATE")
    writer.execute("INSERT INTO t VALUES (2)")
    assert version() == second  # not committed yet: nothing to see
    writer.execute("COMMIT")
    assert version() not in (None, second)
    version.close()
    writer.close()


def test_a_commit_by_another_os_process_moves_it(path: Path) -> None:
    version = DataVersion(path)
    before = version()
    insert = "db.execute('INSERT INTO t VALUES (3)'); db.commit()"
    script = f"import sqlite3; db = sqlite3.connect({str(path)!r}); {insert}"
    subprocess.run([sys.executable, "-c", script], check=True, timeout=60)
    assert version() not in (None, before)
    version.close()


def test_it_is_the_library_sqlite3_uses() -> None:
    library = _data_version._library()
    assert library is not None  # Linux with the system's shared SQLite: CI's platform
    assert library.sqlite3_libversion() == sqlite3.sqlite_version.encode()


def test_a_locked_file_answers_none_at_once_never_a_wait_holding_the_interpreter(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite3"  # a rollback journal: a writer's exclusive lock shuts readers out
    holder = sqlite3.connect(path, isolation_level=None, timeout=0)
    holder.execute("CREATE TABLE t (x)")
    version = DataVersion(path)
    assert version() is not None  # opened
    holder.execute("BEGIN EXCLUSIVE")
    holder.execute("INSERT INTO t VALUES (4)")
    started = time.monotonic()
    answers = [version() for _ in range(50)]
    elapsed = time.monotonic() - started
    assert answers == [None] * 50
    assert elapsed < 1.0  # no busy timeout: every answer at once
    holder.execute("COMMIT")
    assert version() is not None  # free again
    version.close()
    holder.close()


def test_closed_or_without_a_library_it_answers_none(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    version = DataVersion(path)
    assert version() is not None
    version.close()
    assert version() is None
    monkeypatch.setattr(_data_version, "_library", lambda: None)
    assert DataVersion(path)() is None


def test_a_missing_file_answers_none(tmp_path: Path) -> None:
    assert DataVersion(tmp_path / "missing.sqlite3")() is None  # read-only: never created


def test_threads_asking_at_once_get_an_answer_or_none_never_a_wrong_one(path: Path) -> None:
    version = DataVersion(path)
    writer = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    answers: list[int | None] = []
    stop = threading.Event()

    def ask() -> None:
        while not stop.is_set():
            answers.append(version())
            time.sleep(0)  # let the writer in

    threads = [threading.Thread(target=ask) for _ in range(4)]
    for thread in threads:
        thread.start()
    for n in range(50):
        writer.execute("INSERT INTO t VALUES (?)", (n,))
    stop.set()
    for thread in threads:
        thread.join()
    known = [answer for answer in answers if answer is not None]
    assert known and all(isinstance(answer, int) for answer in known)
    settled = version()
    assert settled is not None and settled == version()
    writer.close()
    version.close()
