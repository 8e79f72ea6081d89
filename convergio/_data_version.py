"""``PRAGMA data_version`` of a SQLite file, asked without letting go of the GIL (ADR 0063).

CPython's ``sqlite3`` lets go of the interpreter around every step of every statement. On a
busy interpreter (a pool of activity threads) each such step costs the caller a wait to win the
GIL back, a sleep and a wake-up: measured, the one ``PRAGMA data_version`` a quota lease asks per
admission cost about eight context switches and 80 us of CPU, where the statement itself takes
3 us. The answer it gives (has any other connection committed since?) is SQLite's to give, so it
is still SQLite that answers here: a read-only connection of the same SQLite library the
``sqlite3`` module uses, called through ``ctypes.PyDLL`` (which keeps the GIL for the call), with
no busy timeout: a file that is locked answers ``None`` at once, never a wait while holding the
interpreter, and the caller then asks with a statement as before.

Only the library the process already loaded is used (the same library instance, so SQLite's
own bookkeeping of POSIX locks covers this connection too); where it cannot be found (no
``/proc/self/maps``, a ``sqlite3`` module linked statically) or is not the version ``sqlite3``
reports, :class:`DataVersion` answers ``None`` always.
"""

from __future__ import annotations

import ctypes
import os
import sqlite3
import threading
from functools import cache
from pathlib import Path

__all__ = ["DataVersion"]

_SQLITE_OK = 0
_SQLITE_ROW = 100
_SQLITE_OPEN_READONLY = 0x00000001
_P = ctypes.c_void_p


class DataVersion:
    """A file's ``data_version`` as seen by a connection of its own: it changes whenever any
    other connection (this process's writer included) commits to the file.

    Args:
        path: The database file (its writer created it and switched it to WAL).
    """

    def __init__(self, path: Path) -> None:
        self._path = path
        self._lock = threading.Lock()
        self._pid = os.getpid()
        self._db = _P()
        self._statement = _P()  # set once opened
        self._broken = False  # closed, or it could not open: the caller asks with a statement

    def __call__(self) -> int | None:
        """The version now; ``None``: not known without a statement (locked, busy, unavailable)."""
        library = _library()
        if self._broken or library is None or os.getpid() != self._pid:
            return None
        if not self._lock.acquire(blocking=False):  # another thread is asking: ask with a statement
            return None
        try:
            if not self._statement:
                self._open(library)
                if self._broken:
                    return None
            statement = self._statement
            found = (
                library.sqlite3_column_int64(statement, 0)
                if library.sqlite3_step(statement) == _SQLITE_ROW
                else None
            )
            library.sqlite3_reset(statement)
            return found
        finally:
            self._lock.release()

    def _open(self, library: ctypes.PyDLL) -> None:
        opened = library.sqlite3_open_v2(
            os.fsencode(self._path), ctypes.byref(self._db), _SQLITE_OPEN_READONLY, None
        )
        if (
            opened != _SQLITE_OK
            or library.sqlite3_prepare_v2(
                self._db, b"PRAGMA data_version", -1, ctypes.byref(self._statement), None
            )
            != _SQLITE_OK
        ):
            self._broken = True
            self._release(library)

    def close(self) -> None:
        """Close the connection (later calls answer ``None``)."""
        library = _library()
        with self._lock:
            self._broken = True
            if library is not None and os.getpid() == self._pid:
                self._release(library)

    def _release(self, library: ctypes.PyDLL) -> None:
        if self._statement:
            library.sqlite3_finalize(self._statement)
            self._statement = _P()
        if self._db:
            library.sqlite3_close_v2(self._db)
            self._db = _P()


@cache
def _library() -> ctypes.PyDLL | None:
    """The SQLite library ``sqlite3`` runs on, bound for calls that keep the GIL; ``None`` when
    it is not a shared library this process loaded or not the version ``sqlite3`` reports."""
    import _sqlite3  # noqa: F401 - loads the library whose path is looked up below

    try:
        with open("/proc/self/maps", encoding="utf-8", errors="replace") as maps:
            paths = {line.split(maxsplit=5)[-1].strip() for line in maps if "libsqlite3" in line}
    except OSError:
        return None
    paths = {
        path for path in paths if os.path.basename(path).startswith("libsqlite3") and os.path.isabs(path)
    }
    if len(paths) != 1:
        return None
    try:
        library = ctypes.PyDLL(paths.pop())
    except OSError:
        return None
    library.sqlite3_libversion.restype = ctypes.c_char_p
    library.sqlite3_libversion.argtypes = []
    if library.sqlite3_libversion() != sqlite3.sqlite_version.encode():
        return None
    library.sqlite3_open_v2.argtypes = [ctypes.c_char_p, ctypes.POINTER(_P), ctypes.c_int, ctypes.c_char_p]
    library.sqlite3_open_v2.restype = ctypes.c_int
    library.sqlite3_prepare_v2.argtypes = [_P, ctypes.c_char_p, ctypes.c_int, ctypes.POINTER(_P), _P]
    library.sqlite3_prepare_v2.restype = ctypes.c_int
    library.sqlite3_step.argtypes = [_P]
    library.sqlite3_step.restype = ctypes.c_int
    library.sqlite3_column_int64.argtypes = [_P, ctypes.c_int]
    library.sqlite3_column_int64.restype = ctypes.c_int64
    library.sqlite3_reset.argtypes = [_P]
    library.sqlite3_reset.restype = ctypes.c_int
    library.sqlite3_finalize.argtypes = [_P]
    library.sqlite3_finalize.restype = ctypes.c_int
    library.sqlite3_close_v2.argtypes = [_P]
    library.sqlite3_close_v2.restype = ctypes.c_int
    return library
