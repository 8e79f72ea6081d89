"""The control plane's secret store: AES-GCM ciphertext in Cosmos DB, for deployments without Key Vault.

Several stateless instances must read the keys any of them was given, and an instance's disk
is its own, so the encrypted entries live in the ``secrets`` container (partition
``/tenant_id``, one document per connection) and the master key comes from a setting every
instance shares; a key file would differ per instance. The entries are those of
:class:`~convergio.secrets.LocalSecretStore`, sealed by the same
:class:`~convergio.secrets._cipher.SecretCipher`: only ciphertext ever leaves the process.
"""

from __future__ import annotations

import builtins
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Final

from convergio.controlplane import read_doc, safe_id, unavailable
from convergio.secrets._cipher import SecretCipher, describe
from convergio.secrets._types import (
    Secret,
    SecretInfo,
    SecretNotFound,
    SecretStoreError,
    check_name,
    check_tenant,
    check_value,
)

__all__ = ["CosmosSecretStore"]

_FORMAT: Final = "convergio-secrets/1"
_STORE: Final = "secrets"


@contextmanager
def _backend(what: str) -> Iterator[None]:
    """Backend outages become ``StoreUnavailable`` (503); other refusals a ``SecretStoreError``.

    Neither keeps the SDK's exception (it holds the request), and only its status is named.
    """
    from azure.cosmos.exceptions import CosmosHttpResponseError

    try:
        with unavailable(_STORE):
            yield
    except CosmosHttpResponseError as exc:
        raise SecretStoreError(f"the secret store refused to {what} (HTTP {exc.status_code})") from None


class CosmosSecretStore:
    """Tenants' keys as encrypted documents in the control plane.

    Args:
        container: The ``secrets`` container (a ``ContainerProxy``, partition ``/tenant_id``).
        master_key: The 32-byte master key every instance shares (from the setting).

    Raises:
        ValueError: ``master_key`` is not 32 bytes.
    """

    def __init__(self, container: Any, *, master_key: bytes) -> None:
        self._cipher = SecretCipher(master_key)
        self._container = container

    def __repr__(self) -> str:
        return f"CosmosSecretStore({self._container.id!r})"

    def put(self, tenant_id: str, name: str, value: Secret) -> SecretInfo:
        """Encrypt and store a key (replacing any); see :class:`~convergio.secrets.SecretStore`."""
        check_tenant(tenant_id)
        check_name(name)
        check_value(value)
        entry, info = self._cipher.seal(tenant_id, name, value)
        body = {"id": safe_id(name), "tenant_id": tenant_id, "name": name, "format": _FORMAT, "entry": entry}
        with _backend("store a secret"):
            self._container.upsert_item(body)
        return info

    def get(self, tenant_id: str, name: str) -> Secret:
        """Decrypt a key; see :class:`~convergio.secrets.SecretStore`."""
        check_tenant(tenant_id)
        check_name(name)
        with _backend("read a secret"):
            doc = read_doc(self._container, safe_id(name), tenant_id)
        if doc is None:
            raise SecretNotFound(f"tenant {tenant_id!r} has no secret {name!r}")
        return self._cipher.open(tenant_id, name, _entry(doc, tenant_id, name), where=_where(tenant_id, name))

    def delete(self, tenant_id: str, name: str) -> bool:
        """Remove a key; see :class:`~convergio.secrets.SecretStore`."""
        from azure.cosmos.exceptions import CosmosHttpResponseError

        check_tenant(tenant_id)
        check_name(name)
        with _backend("delete a secret"):
            try:
                self._container.delete_item(safe_id(name), partition_key=tenant_id)
            except CosmosHttpResponseError as exc:
                if exc.status_code == 404:
                    return False
                raise
        return True

    def list(self, tenant_id: str) -> builtins.list[SecretInfo]:
        """Describe a tenant's keys without decrypting them; see :class:`~convergio.secrets.SecretStore`."""
        check_tenant(tenant_id)
        with _backend("list secrets"):
            docs = builtins.list(
                self._container.query_items(
                    query="SELECT * FROM c WHERE c.tenant_id = @pk",
                    parameters=[{"name": "@pk", "value": tenant_id}],
                    partition_key=tenant_id,
                )
            )
        infos = []
        for doc in docs:
            name = str(doc.get("name", ""))
            infos.append(describe(name, _entry(doc, tenant_id, name), where=_where(tenant_id, name)))
        return sorted(infos, key=lambda info: info.name)


def _where(tenant_id: str, name: str) -> str:
    return f"secret {name!r} of tenant {tenant_id!r} in the control plane"


def _entry(doc: dict[str, Any], tenant_id: str, name: str) -> dict[str, Any]:
    entry = doc.get("entry")
    if doc.get("format") != _FORMAT or not isinstance(entry, dict):
        raise SecretStoreError(f"{_where(tenant_id, name)} is not a {_FORMAT} document")
    return entry
