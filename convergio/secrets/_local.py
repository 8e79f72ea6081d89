"""The embedded secret store: tenants' keys encrypted with AES-256-GCM in the home directory.

It is what ``python -m convergio start`` uses when no Key Vault is configured, so a laptop needs
no Azure account to keep BYOK keys safe at rest. Layout of ``home``::

    secrets.key    the master key, base64 (0600); absent when the key comes from a setting
    secrets.json   {"format", "tenants": {tenant: {name: entry}}}; each entry holds a random
                   96-bit nonce and the ciphertext, whose associated data is the (tenant, name)
                   pair, so an entry copied under another tenant or name fails to decrypt
    secrets.lock   the inter-process lock every write holds

Writes are read-modify-write under ``flock`` and land with an atomic rename; reads take no lock
because a rename never exposes a partial file.
"""

from __future__ import annotations

import base64
import binascii
import builtins
import hashlib
import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from convergio.secrets._files import KEY_BYTES, atomic_write, exclusive_lock, load_or_create_key
from convergio.secrets._types import (
    Secret,
    SecretInfo,
    SecretNotFound,
    SecretStoreError,
    check_name,
    check_tenant,
    check_value,
    fingerprint,
)

__all__ = ["LocalSecretStore"]

_FORMAT = "convergio-secrets/1"
_AAD_PREFIX = b"convergio-secret/1\x00"
_NONCE_BYTES = 12  # 96 bits, the size GCM is designed for

_Entries = dict[str, dict[str, dict[str, str]]]


def _aad(tenant_id: str, name: str) -> bytes:
    # JSON of the pair is unambiguous: ("a-b", "c") and ("a", "b-c") bind different bytes.
    return _AAD_PREFIX + json.dumps([tenant_id, name]).encode("utf-8")


def _key_id(key: bytes) -> str:
    # Tells "written with another master key" apart from "tampered"; reveals nothing of a 256-bit key.
    return hashlib.sha256(b"convergio-key-id\x00" + key).hexdigest()[:12]


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
        if master_key is not None and len(master_key) != KEY_BYTES:
            raise ValueError(f"master_key must be {KEY_BYTES} bytes, not {len(master_key)}")
        self._home = Path(home)
        self._home.mkdir(mode=0o700, parents=True, exist_ok=True)
        self._path = self._home / "secrets.json"
        self._lock = self._home / "secrets.lock"
        key = (
            master_key
            if master_key is not None
            else load_or_create_key(self._home / "secrets.key", self._lock)
        )
        self._aead = AESGCM(key)
        self._key_id = _key_id(key)

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
        nonce = os.urandom(_NONCE_BYTES)
        ciphertext = self._aead.encrypt(nonce, value.reveal().encode("utf-8"), _aad(tenant_id, name))
        info = SecretInfo(name=name, fingerprint=fingerprint(value), updated_at=datetime.now(UTC))
        entry = {
            "nonce": base64.b64encode(nonce).decode("ascii"),
            "ciphertext": base64.b64encode(ciphertext).decode("ascii"),
            "key_id": self._key_id,
            "fingerprint": info.fingerprint,
            "updated_at": info.updated_at.isoformat(),
        }
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
        where = f"secret {name!r} of tenant {tenant_id!r} in {self._path}"
        try:
            nonce = base64.b64decode(entry["nonce"], validate=True)
            ciphertext = base64.b64decode(entry["ciphertext"], validate=True)
        except (KeyError, TypeError, binascii.Error, ValueError):
            raise SecretStoreError(
                f"{where} is corrupted: nonce or ciphertext missing or not base64"
            ) from None
        if len(nonce) != _NONCE_BYTES:
            raise SecretStoreError(f"{where} is corrupted: nonce is {len(nonce)} bytes, not {_NONCE_BYTES}")
        key_id = entry.get("key_id", self._key_id)
        if key_id != self._key_id:
            raise SecretStoreError(
                f"{where} was encrypted with another master key (key id {key_id}, this store uses "
                f"{self._key_id}); restore that key or put the secret again"
            )
        try:
            plain = self._aead.decrypt(nonce, ciphertext, _aad(tenant_id, name))
        except InvalidTag:
            raise SecretStoreError(
                f"{where} failed its integrity check: it was altered or moved from another tenant or name"
            ) from None
        try:
            return Secret(plain.decode("utf-8"))
        except UnicodeDecodeError:
            raise SecretStoreError(f"{where} does not decrypt to text") from None

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
        infos = []
        for name, entry in sorted(self._read().get(tenant_id, {}).items()):
            try:
                updated_at = datetime.fromisoformat(entry["updated_at"])
                infos.append(
                    SecretInfo(name=name, fingerprint=str(entry["fingerprint"]), updated_at=updated_at)
                )
            except (KeyError, TypeError, ValueError):
                raise SecretStoreError(
                    f"secret {name!r} of tenant {tenant_id!r} in {self._path} is corrupted: "
                    "fingerprint or updated_at missing or malformed"
                ) from None
        return infos

    # -- the file -----------------------------------------------------------------------------

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
