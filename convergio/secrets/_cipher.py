"""The one AES-256-GCM cipher of the encrypted stores: an entry's format, sealing and opening.

Kept apart from where entries are stored (a file in the home, documents in the control plane)
so both stores write the same entries and check them the same way. An entry holds a random
96-bit nonce and the ciphertext, whose associated data is the (tenant, name) pair, so an entry
copied under another tenant or name fails to decrypt; ``key_id`` tells "written with another
master key" apart from "tampered". Errors name the secret and the cause, never the value, and
chain nothing (``from None``).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from convergio.secrets._files import KEY_BYTES
from convergio.secrets._types import Secret, SecretInfo, SecretStoreError, fingerprint

__all__ = ["SecretCipher", "describe"]

_AAD_PREFIX = b"convergio-secret/1\x00"
_NONCE_BYTES = 12  # 96 bits, the size GCM is designed for


def _aad(tenant_id: str, name: str) -> bytes:
    # JSON of the pair is unambiguous: ("a-b", "c") and ("a", "b-c") bind different bytes.
    return _AAD_PREFIX + json.dumps([tenant_id, name]).encode("utf-8")


def _key_id(key: bytes) -> str:
    # Reveals nothing of a 256-bit key.
    return hashlib.sha256(b"convergio-key-id\x00" + key).hexdigest()[:12]


class SecretCipher:
    """Seals and opens entries with one master key.

    Args:
        key: The 32-byte master key.

    Raises:
        ValueError: ``key`` is not 32 bytes.
    """

    __slots__ = ("_aead", "key_id")

    def __init__(self, key: bytes) -> None:
        if len(key) != KEY_BYTES:
            raise ValueError(f"master_key must be {KEY_BYTES} bytes, not {len(key)}")
        self._aead = AESGCM(key)
        self.key_id = _key_id(key)

    def __repr__(self) -> str:
        return f"SecretCipher(key_id={self.key_id!r})"

    def seal(self, tenant_id: str, name: str, value: Secret) -> tuple[dict[str, str], SecretInfo]:
        """Encrypt a key for (tenant, name) under a fresh nonce.

        Returns:
            The entry to store, and the secret's description.
        """
        nonce = os.urandom(_NONCE_BYTES)
        ciphertext = self._aead.encrypt(nonce, value.reveal().encode("utf-8"), _aad(tenant_id, name))
        info = SecretInfo(name=name, fingerprint=fingerprint(value), updated_at=datetime.now(UTC))
        entry = {
            "nonce": base64.b64encode(nonce).decode("ascii"),
            "ciphertext": base64.b64encode(ciphertext).decode("ascii"),
            "key_id": self.key_id,
            "fingerprint": info.fingerprint,
            "updated_at": info.updated_at.isoformat(),
        }
        return entry, info

    def open(self, tenant_id: str, name: str, entry: Mapping[str, Any], *, where: str) -> Secret:
        """Decrypt an entry stored for (tenant, name).

        Args:
            tenant_id: The tenant it must belong to.
            name: The name it must be stored under.
            entry: The stored entry.
            where: The secret's place, for messages (``secret 'x' of tenant 't' in ...``).

        Raises:
            SecretStoreError: a corrupted entry, another master key, or a failed integrity check.
        """
        try:
            nonce = base64.b64decode(entry["nonce"], validate=True)
            ciphertext = base64.b64decode(entry["ciphertext"], validate=True)
        except (KeyError, TypeError, binascii.Error, ValueError):
            raise SecretStoreError(
                f"{where} is corrupted: nonce or ciphertext missing or not base64"
            ) from None
        if len(nonce) != _NONCE_BYTES:
            raise SecretStoreError(f"{where} is corrupted: nonce is {len(nonce)} bytes, not {_NONCE_BYTES}")
        key_id = entry.get("key_id", self.key_id)
        if key_id != self.key_id:
            raise SecretStoreError(
                f"{where} was encrypted with another master key (key id {key_id}, this store uses "
                f"{self.key_id}); restore that key or put the secret again"
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


def describe(name: str, entry: Mapping[str, Any], *, where: str) -> SecretInfo:
    """An entry's description without decrypting it.

    Raises:
        SecretStoreError: its fingerprint or date is missing or malformed.
    """
    try:
        updated_at = datetime.fromisoformat(entry["updated_at"])
        return SecretInfo(name=name, fingerprint=str(entry["fingerprint"]), updated_at=updated_at)
    except (KeyError, TypeError, ValueError):
        raise SecretStoreError(
            f"{where} is corrupted: fingerprint or updated_at missing or malformed"
        ) from None
