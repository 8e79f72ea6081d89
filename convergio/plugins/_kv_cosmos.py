"""The ``kv`` capability in the control plane: one Cosmos DB document per (tenant, plugin).

The quota is a sum over all of a plugin's keys, and Cosmos DB has no multi-document
transaction to check it against, so each (tenant, plugin) keeps its entries in one document
of the ``plugins`` container (``kind: "kv"``, partition ``/tenant_id``) and a put is one
:func:`~convergio.controlplane.cas_update`: the check and the write are atomic, exactly as
SQLite's ``BEGIN IMMEDIATE`` makes them in :class:`~convergio.plugins.KVStore`. Keys and values
are URL-safe base64 in the document; the ``used`` field is the quota's raw byte count.

The quota is therefore capped (:data:`MAX_QUOTA_BYTES`) so the document stays under Cosmos
DB's 2 MB item limit, and a put that would take the document past that budget (only very many
tiny entries can) is refused as ``"quota"``: the store is full.
"""

from __future__ import annotations

import base64
from typing import Any, Final

from convergio.controlplane import cas_update, read_doc, safe_id, unavailable

from ._kv import PutResult, check_limits

__all__ = ["MAX_QUOTA_BYTES", "CosmosKVStore"]

MAX_QUOTA_BYTES: Final = 1024 * 1024
"""The largest quota per (tenant, plugin): its base64 fits one Cosmos DB document."""
_DOC_BUDGET: Final = 1_800_000  # encoded entries, under the 2 MB item limit with room to spare
_ENTRY_OVERHEAD: Final = 8  # quotes, colon and comma around each JSON entry
_KIND: Final = "kv"
_STORE: Final = "plugin kv"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii")


def _raw_size(text: str) -> int:
    """The byte length ``text`` decodes to (without decoding it)."""
    return len(text) // 4 * 3 - text[-2:].count("=")


def _doc_id(plugin: str) -> str:
    return safe_id(_KIND, plugin)


class CosmosKVStore:
    """A per-tenant, per-plugin key-value store shared by every instance.

    Args:
        container: The ``plugins`` container (a ``ContainerProxy``, partition ``/tenant_id``).
        key_bytes: The longest key.
        value_bytes: The longest value.
        quota_bytes: The most bytes (keys plus values) one plugin may keep for one tenant.

    Raises:
        ValueError: a limit below 1, or a quota over :data:`MAX_QUOTA_BYTES`.
    """

    def __init__(
        self,
        container: Any,
        *,
        key_bytes: int = 256,
        value_bytes: int = 64 * 1024,
        quota_bytes: int = 1024 * 1024,
    ) -> None:
        check_limits(key_bytes=key_bytes, value_bytes=value_bytes, quota_bytes=quota_bytes)
        if quota_bytes > MAX_QUOTA_BYTES:
            raise ValueError(f"quota_bytes must be <= {MAX_QUOTA_BYTES} (one Cosmos DB document)")
        self.container = container
        self.key_bytes = key_bytes
        self.value_bytes = value_bytes
        self.quota_bytes = quota_bytes

    def __repr__(self) -> str:
        return f"CosmosKVStore(quota_bytes={self.quota_bytes})"

    def get(self, tenant_id: str, plugin: str, key: bytes) -> bytes | None:
        """Read a value (one query on the plugin's document)."""
        with unavailable(_STORE):
            doc = read_doc(self.container, _doc_id(plugin), tenant_id)
        value = None if doc is None else doc.get("entries", {}).get(_b64(key))
        return None if value is None else base64.urlsafe_b64decode(value)

    def put(self, tenant_id: str, plugin: str, key: bytes, value: bytes) -> PutResult:
        """Write a value within the limits and the quota, atomically with the quota check."""
        if len(key) > self.key_bytes or len(value) > self.value_bytes:
            return "too_large"
        encoded_key, encoded_value = _b64(key), _b64(value)
        outcome: list[PutResult] = ["ok"]

        def change(doc: dict[str, Any] | None) -> dict[str, Any] | None:
            entries: dict[str, str] = dict(doc.get("entries", {})) if doc else {}
            used = int(doc.get("used", 0)) if doc else 0
            encoded = int(doc.get("encoded", 0)) if doc else 0
            earlier = entries.get(encoded_key)
            if earlier is not None:
                used -= len(key) + _raw_size(earlier)
                encoded -= len(encoded_key) + len(earlier) + _ENTRY_OVERHEAD
            used += len(key) + len(value)
            encoded += len(encoded_key) + len(encoded_value) + _ENTRY_OVERHEAD
            if used > self.quota_bytes or encoded > _DOC_BUDGET:
                outcome[0] = "quota"
                return None
            outcome[0] = "ok"
            entries[encoded_key] = encoded_value
            return {"kind": _KIND, "plugin": plugin, "entries": entries, "used": used, "encoded": encoded}

        with unavailable(_STORE):
            cas_update(self.container, _doc_id(plugin), tenant_id, change)
        return outcome[0]

    def clear(self, tenant_id: str, plugin: str) -> None:
        """Delete the plugin's document for the tenant."""
        from azure.cosmos.exceptions import CosmosHttpResponseError

        with unavailable(_STORE):
            try:
                self.container.delete_item(_doc_id(plugin), partition_key=tenant_id)
            except CosmosHttpResponseError as exc:
                if exc.status_code != 404:
                    raise

    def close(self) -> None:
        """Nothing is held open (the plane belongs to the caller)."""
