"""File plumbing for the local store: an inter-process lock, atomic replacement, the master key.

The CLI (``convergio tenants ...``) and the running host may write the same home directory at
the same moment; these helpers make every write all-or-nothing and serialised, so neither loses
the other's update and a crash never leaves half a file.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import fcntl
import logging
import os
import secrets
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path

from convergio.secrets._types import SecretStoreError

__all__ = ["KEY_BYTES", "atomic_write", "decode_master_key", "exclusive_lock", "load_or_create_key"]

KEY_BYTES = 32  # AES-256
_log = logging.getLogger("convergio.secrets")


@contextlib.contextmanager
def exclusive_lock(path: Path) -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``path`` (created 0600 if missing) for the ``with`` block.

    Each call opens its own file description, so the lock also serialises threads of one
    process, not only processes.
    """
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing the last descriptor releases the lock


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` all at once (temp file in the same folder, fsync, rename).

    The temporary file is created 0600 by :func:`tempfile.mkstemp`, so the new file is too.
    """
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    _fsync_dir(path.parent)


def decode_master_key(text: str | bytes, *, source: str) -> bytes:
    """Decode a base64 master key and check it is 32 bytes.

    Args:
        text: The base64 text.
        source: Where it came from, for the error message (a setting or a file name).

    Returns:
        The 32 key bytes.

    Raises:
        SecretStoreError: Not base64, or not 32 bytes once decoded. The message never quotes it.
    """
    try:
        key = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise SecretStoreError(f"{source} is not valid base64 (expected 32 random bytes, base64)") from None
    if len(key) != KEY_BYTES:
        raise SecretStoreError(f"{source} must decode to {KEY_BYTES} bytes, not {len(key)}")
    return key


def _read_key(path: Path) -> bytes:
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        _log.warning("master key file %s is readable by others (mode %o); chmod 600 it", path, mode)
    return decode_master_key(path.read_bytes(), source=str(path))


def load_or_create_key(path: Path, lock: Path) -> bytes:
    """Read the master key file, creating it (0600, 32 random bytes as base64) if it is missing.

    Creation happens under the store's lock and with ``O_CREAT | O_EXCL``: two processes
    starting together agree on one key, and a reader never sees a half-written file.

    Args:
        path: The key file (``home/secrets.key``).
        lock: The store's lock file.

    Returns:
        The 32 key bytes.

    Raises:
        SecretStoreError: The file exists but does not hold a valid key.
    """
    with exclusive_lock(lock):
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            # Made earlier, or by another process that has finished writing it: it held this lock.
            return _read_key(path)
        key = secrets.token_bytes(KEY_BYTES)
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(base64.b64encode(key) + b"\n")
                out.flush()
                os.fsync(out.fileno())
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
            raise
        _fsync_dir(path.parent)
        _log.info("created master key file %s", path)
        return key
