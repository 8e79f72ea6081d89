"""Tenants' provider keys (BYOK): one interface, a Key Vault store and a local encrypted store.

Keys are write-only from the outside: the API shows a :func:`fingerprint`, activities fetch the
key by (tenant, connection name) at call time and unwrap the :class:`Secret` only to build the
provider request. Nothing here logs, raises or persists a value in clear.

    SecretStore (Protocol)   put / get / delete / list
    ├── LocalSecretStore     AES-256-GCM file in the home directory (embedded default)
    ├── KeyVaultSecretStore  one Azure Key Vault secret per tenant connection
    ├── CosmosSecretStore    the local store's AES-GCM entries in the control plane (no vault)
    └── CachedSecretStore    TTL read-through cache around either
    open_secret_store()      picks one from settings, wrapped in the cache
    RedactingFilter          a logging safety net that masks anything shaped like a key
"""

from typing import TYPE_CHECKING

from convergio._lazy import lazy_exports

if TYPE_CHECKING:
    from convergio.secrets._cache import CachedSecretStore
    from convergio.secrets._cosmos import CosmosSecretStore
    from convergio.secrets._keyvault import KeyVaultSecretStore
    from convergio.secrets._local import LocalSecretStore
    from convergio.secrets._open import open_secret_store
    from convergio.secrets._redact import RedactingFilter, install_redaction, redact
    from convergio.secrets._types import (
        Secret,
        SecretInfo,
        SecretNotFound,
        SecretStore,
        SecretStoreError,
        check_name,
        fingerprint,
    )

# Imported on first use (issue 22): the API and the stores name the types at import;
# cryptography and the Azure SDK come with a store.
__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "._cache": ("CachedSecretStore",),
        "._cosmos": ("CosmosSecretStore",),
        "._keyvault": ("KeyVaultSecretStore",),
        "._local": ("LocalSecretStore",),
        "._open": ("open_secret_store",),
        "._redact": ("RedactingFilter", "install_redaction", "redact"),
        "._types": (
            "Secret",
            "SecretInfo",
            "SecretNotFound",
            "SecretStore",
            "SecretStoreError",
            "check_name",
            "fingerprint",
        ),
    },
)

__all__ = [
    "CachedSecretStore",
    "CosmosSecretStore",
    "KeyVaultSecretStore",
    "LocalSecretStore",
    "RedactingFilter",
    "Secret",
    "SecretInfo",
    "SecretNotFound",
    "SecretStore",
    "SecretStoreError",
    "check_name",
    "fingerprint",
    "install_redaction",
    "open_secret_store",
    "redact",
]
