"""Choose the secret store from settings: Key Vault, else the control plane, else the local file.

One function so the API, the activities and the CLI all get the same store with the same cache.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from convergio.secrets._cache import CachedSecretStore
from convergio.secrets._files import decode_master_key
from convergio.secrets._local import LocalSecretStore
from convergio.secrets._types import SecretStore, SecretStoreError

if TYPE_CHECKING:
    from azure.core.credentials import TokenCredential

    from convergio.controlplane import CosmosPlane

__all__ = ["DEFAULT_TTL_SECONDS", "open_secret_store"]

DEFAULT_TTL_SECONDS = 60.0


def open_secret_store(
    *,
    home: Path,
    key_vault_url: str = "",
    master_key_b64: str = "",
    credential: TokenCredential | None = None,
    ttl_seconds: float = DEFAULT_TTL_SECONDS,
    cosmos: CosmosPlane | None = None,
) -> SecretStore:
    """Open the configured secret store, wrapped in a :class:`CachedSecretStore`.

    Args:
        home: The Convergio home directory (local store only).
        key_vault_url: The ``KEY_VAULT_URL`` setting; when set, keys live in that vault.
        master_key_b64: The master key as base64 (32 bytes, ``CONVERGIO_SECRETS_MASTER_KEY``).
            Locally, when empty, the key file in ``home`` is used, created on first use; with
            ``cosmos`` it is required.
        credential: An Azure credential for Key Vault; ``DefaultAzureCredential`` when ``None``.
        ttl_seconds: How long a key read is cached.
        cosmos: The control plane; without a vault, the encrypted keys live in its ``secrets``
            container, shared by every instance.

    Returns:
        The store.

    Raises:
        SecretStoreError: ``master_key_b64`` is not base64 of 32 bytes, or missing with ``cosmos``
            (a key file would differ per instance), or the key file is bad.
        ValueError: ``key_vault_url`` is not an ``https://`` URL.
    """
    inner: SecretStore
    if key_vault_url:
        from convergio.secrets._keyvault import KeyVaultSecretStore

        inner = KeyVaultSecretStore(key_vault_url, credential=credential)
    elif cosmos is not None:
        if not master_key_b64:
            raise SecretStoreError(
                "keys kept in the control plane (COSMOS_ENDPOINT set, no KEY_VAULT_URL) need the "
                "master key setting CONVERGIO_SECRETS_MASTER_KEY (32 random bytes, base64) shared "
                "by every instance; a key file would be per instance"
            )
        from convergio.secrets._cosmos import CosmosSecretStore

        shared = decode_master_key(master_key_b64, source="the master key setting")
        inner = CosmosSecretStore(cosmos.container("secrets"), master_key=shared)
    else:
        key = decode_master_key(master_key_b64, source="the master key setting") if master_key_b64 else None
        inner = LocalSecretStore(home, master_key=key)
    return CachedSecretStore(inner, ttl_seconds=ttl_seconds)
