"""The embedded secret store: tenants' keys encrypted with AES-256-GCM in the home directory.

It is what ``python -m convergio start`` uses when no Key Vault is configured, so a laptop needs
no Azure account to keep BYOK keys safe at rest. Layout of ``home``::

    secrets.key    the master key, base64 (0600); absent when the key comes from a setting
    secrets.json   {"format", "tenants": {tenant: {name: entry}}}; each entry is sealed by
                   :class:`~convergio.secrets._cipher.SecretCipher` (AES-GCM bound to the
                   (tenant, name) pair), the cipher the control plane's store shares
    secrets.lock   the inter-process lock every write holds

Writes are read-modify-write under ``flock`` and land with an atomic rename; reads take no lock
because a rename never exposes a partial file.
"""

from __future__ import annotations

import builtins
import json
from pathlib import Path
from typing import Any

from convergio.secrets._cipher import SecretCipher, describe
from convergio.secrets._files import atomic_write, exclusive_lock, load_or_create_key
from convergio.secrets._types import (
    Secret,
    SecretInfo,
    SecretNotFound,
    SecretStoreError,
    check_name,
    check_tenant,
    check_value,
)

__all__ = ["LocalSecretStore"]

_FORMAT = "convergio-secrets/1"

_Entries = dict[str, dict[str, dict[str, str]]]


class LocalSecretStore:
    """Tenants' keys in ``home/secrets.json``, encrypted with AES-256-GCM.

    Args:
        home: The Convergio home directory (created 0700 if missing).
        master_key: 32 bytes (e.g. decoded from a setting). Without it the key is read from
            ``home/secrets.key``, which is created (0600) on first use.

    Raises:
        ValueError: ``master_key`` is not 32 bytes.
        SecretStoreError: ``home/secrets.key`` exists but does not hold a valid key.
    """

    def __init__(self, home: Path, *, master_key: bytes | None = None) -> None:
        given = None if master_key is None else SecretCipher(master_key)  # checked before any file
        self._home = Path(home)
        self._home.mkdir(mode=0o700, parents=True, exist_ok=True)
        self._path = self._home / "secrets.json"
        self._lock = self._home / "secrets.lock"
        self._cipher = given or SecretCipher(load_or_create_key(self._home / "secrets.key", self._lock))

    @property
    def path(self) -> Path:
        """The encrypted store file."""
        return self._path

    def __repr__(self) -> str:
        return f"LocalSecretStore({str(self._home)!r})"

    # -- the SecretStore protocol -------------------------------------------------------------

    def put(self, tenant_id: str, name: str, value: Secret) -> SecretInfo:
        """Encrypt and store a key; see :class:`~convergio.secrets.SecretStore`."""
        check_tenant(tenant_id)
        check_name(name)
        check_value(value)
        entry, info = self._cipher.seal(tenant_id, name, value)
        with exclusive_lock(self._lock):
            tenants = self._read()
            tenants.setdefault(tenant_id, {})[name] = entry
            self._write(tenants)
        return info

    def get(self, tenant_id: str, name: str) -> Secret:
        """Decrypt a key; see :class:`~convergio.secrets.SecretStore`."""
        check_tenant(tenant_id)
        check_name(name)
        entry = self._read().get(tenant_id, {}).get(name)
        if entry is None:
            raise SecretNotFound(f"tenant {tenant_id!r} has no secret {name!r}")
        return self._cipher.open(tenant_id, name, entry, where=self._where(tenant_id, name))

    def delete(self, tenant_id: str, name: str) -> bool:
        """Remove a key; see :class:`~convergio.secrets.SecretStore`."""
        check_tenant(tenant_id)
        check_name(name)
        with exclusive_lock(self._lock):
            tenants = self._read()
            entries = tenants.get(tenant_id, {})
            if name not in entries:
                return False
            del entries[name]
            if not entries:
                del tenants[tenant_id]
            self._write(tenants)
        return True

    def list(self, tenant_id: str) -> builtins.list[SecretInfo]:
        """Describe a tenant's keys without decrypting them; see :class:`~convergio.secrets.SecretStore`."""
        check_tenant(tenant_id)
        entries = self._read().get(tenant_id, {})
        return [describe(name, entries[name], where=self._where(tenant_id, name)) for name in sorted(entries)]

    # -- the file -----------------------------------------------------------------------------

    def _where(self, tenant_id: str, name: str) -> str:
        return f"secret {name!r} of tenant {tenant_id!r} in {self._path}"

    def _read(self) -> _Entries:
        try:
            raw = self._path.read_bytes()
        except FileNotFoundError:
            return {}
        try:
            document: Any = json.loads(raw)
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise SecretStoreError(f"secret store {self._path} is corrupted: not valid JSON") from None
        if not isinstance(document, dict) or document.get("format") != _FORMAT:
            raise SecretStoreError(f"secret store {self._path} is not a {_FORMAT} file")
        tenants = document.get("tenants")
        if not isinstance(tenants, dict) or not all(
            isinstance(entries, dict) and all(isinstance(e, dict) for e in entries.values())
            for entries in tenants.values()
        ):
            raise SecretStoreError(f"secret store {self._path} is corrupted: 'tenants' has the wrong shape")
        return tenants

    def _write(self, tenants: _Entries) -> None:
        document = {"format": _FORMAT, "tenants": tenants}
        atomic_write(self._path, json.dumps(document, indent=1, sort_keys=True).encode("utf-8") + b"\n")
