"""The hosted secret store: one Azure Key Vault secret per tenant connection.

Production keeps BYOK keys in Key Vault (region of record: West Europe, the vault the Bicep
deploys), read with the Function App's managed identity. The vault URL always comes from the
caller (the ``KEY_VAULT_URL`` setting). ``azure-keyvault-secrets`` and ``azure-identity`` are
imported inside :class:`KeyVaultSecretStore` only, so the embedded default never loads them.

Naming: Key Vault names are ``^[0-9a-zA-Z-]{1,127}$`` and case-insensitive, so a tenant id and a
connection name cannot be joined as they are. A name is ``cvg-<readable>-<hash>``: the readable
part is the lower-cased pair with other characters turned into ``-`` (for people browsing the
vault), and the hash is 96 bits of SHA-256 over the exact pair, which is what makes two
different pairs land on two different names.
"""

from __future__ import annotations

import builtins
import hashlib
import json
import re
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

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

if TYPE_CHECKING:
    from azure.core.credentials import TokenCredential
    from azure.keyvault.secrets import SecretClient

__all__ = ["KeyVaultSecretStore"]

_PREFIX = "cvg-"
_HASH_HEX = 24  # 96 bits
_MAX_NAME = 127
_NOT_NAME = re.compile(r"[^a-z0-9]+")
_MANAGED_BY = "convergio"
TAG_TENANT = "tenant"
TAG_CONNECTION = "connection"
TAG_MANAGED_BY = "managed-by"
TAG_FINGERPRINT = "fingerprint"


def _describe(exc: Exception) -> str:
    # Status, Key Vault's error code and message: the service never echoes a secret's value in them.
    # The original exception is not chained (``from None``): it holds the request, body included.
    status = getattr(exc, "status_code", None)
    error: object = getattr(exc, "error", None)
    code = getattr(error, "code", None)
    message = getattr(error, "message", None) if error is not None else getattr(exc, "message", None)
    parts = [type(exc).__name__]
    if status is not None:
        parts.append(f"HTTP {status}")
    if code:
        parts.append(str(code))
    if message:
        parts.append(str(message)[:200])
    return ", ".join(parts)


class KeyVaultSecretStore:
    """Tenants' keys in Azure Key Vault, tagged with their tenant and connection.

    Args:
        vault_url: The vault, e.g. ``https://kv-convergio-weu.vault.azure.net/``.
        credential: An Azure token credential; :class:`azure.identity.DefaultAzureCredential`
            (managed identity on Azure, developer sign-in locally) when omitted.
        client: A ready :class:`azure.keyvault.secrets.SecretClient`; then ``credential`` and
            ``client_options`` are ignored.
        **client_options: Extra :class:`~azure.keyvault.secrets.SecretClient` options
            (``retry_total``, ``transport``, ``verify_challenge_resource``...).

    Raises:
        ValueError: ``vault_url`` is not an ``https://`` URL.
    """

    def __init__(
        self,
        vault_url: str,
        *,
        credential: TokenCredential | None = None,
        client: SecretClient | None = None,
        **client_options: Any,
    ) -> None:
        if not vault_url.startswith("https://"):
            raise ValueError(f"vault_url must be an https:// URL, not {vault_url!r}")
        self._vault_url = vault_url
        if client is None:
            from azure.keyvault.secrets import SecretClient

            if credential is None:
                from azure.identity import DefaultAzureCredential

                credential = DefaultAzureCredential()
            client = SecretClient(vault_url, credential, **client_options)
        self._client = client

    def __repr__(self) -> str:
        return f"KeyVaultSecretStore({self._vault_url!r})"

    @staticmethod
    def secret_name(tenant_id: str, name: str) -> str:
        """The Key Vault secret name that holds a tenant's connection key.

        Args:
            tenant_id: The owning tenant.
            name: The connection name.

        Returns:
            ``cvg-<readable>-<24 hex>``, a valid Key Vault name of at most 127 characters.

        Raises:
            ValueError: A bad tenant id or connection name.
        """
        check_tenant(tenant_id)
        check_name(name)
        digest = hashlib.sha256(json.dumps([tenant_id, name]).encode("utf-8")).hexdigest()[:_HASH_HEX]
        readable = _NOT_NAME.sub("-", f"{tenant_id.lower()}--{name}").strip("-")
        room = _MAX_NAME - len(_PREFIX) - 1 - _HASH_HEX
        readable = readable[:room].strip("-") or "x"
        return f"{_PREFIX}{readable}-{digest}"

    # -- the SecretStore protocol -------------------------------------------------------------

    def put(self, tenant_id: str, name: str, value: Secret) -> SecretInfo:
        """Set a new version of the tenant's secret; see :class:`~convergio.secrets.SecretStore`.

        A secret deleted earlier stays soft-deleted (and, with purge protection, cannot be
        purged), so setting it again answers 409: the store then recovers it and sets the new
        value as its latest version. That needs the ``recover`` permission (Key Vault Secrets
        Officer has it).
        """
        from azure.core.exceptions import AzureError, ResourceExistsError

        check_value(value)
        kv_name = self.secret_name(tenant_id, name)
        fp = fingerprint(value)
        tags = {
            TAG_TENANT: tenant_id,
            TAG_CONNECTION: name,
            TAG_MANAGED_BY: _MANAGED_BY,
            TAG_FINGERPRINT: fp,
        }
        try:
            try:
                stored = self._client.set_secret(kv_name, value.reveal(), tags=tags)
            except ResourceExistsError:
                self._client.begin_recover_deleted_secret(kv_name).wait()
                stored = self._client.set_secret(kv_name, value.reveal(), tags=tags)
        except AzureError as exc:
            raise SecretStoreError(
                f"Key Vault refused to store secret {name!r} of tenant {tenant_id!r} ({_describe(exc)})"
            ) from None
        updated = stored.properties.updated_on or datetime.now(UTC)
        return SecretInfo(name=name, fingerprint=fp, updated_at=updated)

    def get(self, tenant_id: str, name: str) -> Secret:
        """Read the latest version; see :class:`~convergio.secrets.SecretStore`."""
        from azure.core.exceptions import AzureError, ResourceNotFoundError

        kv_name = self.secret_name(tenant_id, name)
        try:
            stored = self._client.get_secret(kv_name)
        except ResourceNotFoundError:
            raise SecretNotFound(f"tenant {tenant_id!r} has no secret {name!r}") from None
        except AzureError as exc:
            raise SecretStoreError(
                f"Key Vault refused to read secret {name!r} of tenant {tenant_id!r} ({_describe(exc)})"
            ) from None
        if stored.value is None:
            raise SecretStoreError(f"Key Vault returned no value for secret {name!r} of tenant {tenant_id!r}")
        return Secret(stored.value)

    def delete(self, tenant_id: str, name: str) -> bool:
        """Soft-delete the secret; see :class:`~convergio.secrets.SecretStore`.

        Key Vault keeps deleted secrets for its retention period (7 to 90 days) and, with purge
        protection on (as our Bicep sets it), nobody can purge them earlier: a deleted key stays
        recoverable by vault administrators until then. We start the deletion and do not wait for
        it to finish.
        """
        from azure.core.exceptions import AzureError, ResourceNotFoundError

        kv_name = self.secret_name(tenant_id, name)
        try:
            self._client.begin_delete_secret(kv_name)
        except ResourceNotFoundError:
            return False
        except AzureError as exc:
            raise SecretStoreError(
                f"Key Vault refused to delete secret {name!r} of tenant {tenant_id!r} ({_describe(exc)})"
            ) from None
        return True

    def list(self, tenant_id: str) -> builtins.list[SecretInfo]:
        """Describe the tenant's secrets from their tags; see :class:`~convergio.secrets.SecretStore`.

        Key Vault cannot filter by tag on the server, so this pages through the properties of
        every secret in the vault (never their values) and keeps the tenant's.
        """
        from azure.core.exceptions import AzureError

        check_tenant(tenant_id)
        infos = []
        try:
            for props in self._client.list_properties_of_secrets():
                tags = props.tags or {}
                if tags.get(TAG_MANAGED_BY) != _MANAGED_BY or tags.get(TAG_TENANT) != tenant_id:
                    continue
                connection = tags.get(TAG_CONNECTION, "")
                updated = props.updated_on or props.created_on or datetime.now(UTC)
                infos.append(
                    SecretInfo(name=connection, fingerprint=tags.get(TAG_FINGERPRINT, ""), updated_at=updated)
                )
        except AzureError as exc:
            raise SecretStoreError(
                f"Key Vault refused to list the secrets of tenant {tenant_id!r} ({_describe(exc)})"
            ) from None
        return sorted(infos, key=lambda info: info.name)
