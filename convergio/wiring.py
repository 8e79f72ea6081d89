"""The composition root: settings in, the concrete stores and adapters out, once per process.

The API handlers and the activities run in the same Functions worker process (on Azure and on
the embedded host alike) and share these objects. Nothing else builds adapters from settings.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from convergio.errors import StoreUnavailable
from convergio.settings import Settings, SettingsError, load_settings

# The adapters are imported where they are built, not here: the API and the activities import
# this module when the worker loads the app, and the adapters pull httpx (and through it rich
# and click), wasmtime, cryptography and the cloud SDKs (issue 22: cold start).
if TYPE_CHECKING:
    from convergio.agents import ProviderResolver
    from convergio.controlplane import BlobPlane, CosmosPlane
    from convergio.metering import Ledger, PriceTable
    from convergio.plugins import PluginRegistry
    from convergio.protocols import McpToolSource
    from convergio.providers import Connection
    from convergio.quotas import QuotaStore, SpendGuard
    from convergio.secrets import SecretStore
    from convergio.streams import RunStream
    from convergio.tenants import ConnectionRegistry, TenantStore
    from convergio.tools import Toolbox
    from convergio.webhooks import WebhookStore

__all__ = [
    "Components",
    "Stores",
    "build",
    "components",
    "configure_logging",
    "log_levels",
    "open_planes",
    "open_stores",
]


@dataclass(frozen=True, slots=True)
class Components:
    settings: Settings
    tenants: TenantStore
    connections: ConnectionRegistry
    secrets: SecretStore
    resolver: ProviderResolver
    ledger: Ledger
    prices: PriceTable
    quotas: QuotaStore
    guard: SpendGuard
    toolbox: Toolbox
    plugins: PluginRegistry
    mcp: McpToolSource
    streams: RunStream
    webhooks: WebhookStore


_log = logging.getLogger("convergio.wiring")
_CHATTY = ("openai", "anthropic", "httpx", "httpcore", "azure", "a2a", "httpx2", "httpcore2", "mcp")


def configure_logging() -> None:
    """Mask key-like text in every log line, keep SDK loggers (which log prompts) quiet, and set
    the levels ``CONVERGIO_LOG_LEVELS`` asks for (Convergio's own loggers only)."""
    from convergio.secrets import install_redaction

    install_redaction()
    for name in _CHATTY:
        logging.getLogger(name).setLevel(max(logging.WARNING, logging.getLogger(name).level))
    for name, level in log_levels(os.environ.get("CONVERGIO_LOG_LEVELS", "")):
        logging.getLogger(name).setLevel(level)


def log_levels(text: str) -> list[tuple[str, int]]:
    """``convergio.agents=DEBUG,convergio.host=WARNING`` as (logger, level) pairs.

    Only ``convergio`` loggers: the SDKs' own log prompts and stay at WARNING (``_CHATTY``).
    A call that ends as asked logs at DEBUG (ADR 0043); ``convergio.agents=DEBUG`` shows a line
    per agent call again.
    """
    pairs = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, _, level = part.partition("=")
        name, level = name.strip(), level.strip().upper()
        if not (name == "convergio" or name.startswith("convergio.")) or level not in _LEVELS:
            raise SettingsError(
                f"CONVERGIO_LOG_LEVELS: {part!r} is not logger=LEVEL with a convergio logger and "
                f"LEVEL one of {', '.join(_LEVELS)}"
            )
        pairs.append((name, _LEVELS[level]))
    return pairs


_LEVELS = {"DEBUG": logging.DEBUG, "INFO": logging.INFO, "WARNING": logging.WARNING, "ERROR": logging.ERROR}


@dataclass(frozen=True, slots=True)
class Stores:
    """Every store of the control plane, each the adapter the settings select (ADR 0013)."""

    tenants: TenantStore
    secrets: SecretStore
    ledger: Ledger
    quotas: QuotaStore
    plugins: PluginRegistry
    streams: RunStream
    webhooks: WebhookStore
    cosmos: CosmosPlane | None
    blob: BlobPlane | None


def open_planes(settings: Settings) -> tuple[CosmosPlane | None, BlobPlane | None]:
    """The shared control plane when ``COSMOS_ENDPOINT`` is set; (None, None) on the embedded defaults."""
    if not settings.cosmos_endpoint:
        return None, None
    from convergio.controlplane import BlobPlane, CosmosPlane

    cosmos = CosmosPlane.connect(
        settings.cosmos_endpoint,
        settings.cosmos_database,
        key=settings.cosmos_key,
        verify_tls=settings.cosmos_verify_tls,
    )
    if not (settings.storage_connection or settings.blob_service_uri):
        raise SettingsError(
            "COSMOS_ENDPOINT is set: plugin packages need Blob Storage too "
            "(AzureWebJobsStorage or AzureWebJobsStorage__blobServiceUri)"
        )
    blob = BlobPlane.connect(
        connection_string=settings.storage_connection, service_uri=settings.blob_service_uri
    )
    return cosmos, blob


def open_stores(settings: Settings, *, home: Path | None = None) -> Stores:
    """The stores the settings select; the app and every CLI command go through here.

    ``home`` (the CLI's ``--home``) replaces ``settings.home`` for the embedded adapters and the
    caches; with ``COSMOS_ENDPOINT`` set nothing shared is kept there.
    """
    from convergio.metering import CosmosLedger, SqliteLedger
    from convergio.plugins import open_registry
    from convergio.quotas import open_quota_store
    from convergio.secrets import open_secret_store
    from convergio.streams import open_run_stream
    from convergio.tenants import open_tenant_store
    from convergio.webhooks import open_webhook_store

    home = home or settings.home
    cosmos, blob = open_planes(settings)
    if cosmos is not None and not settings.key_vault_url and not settings.secrets_master_key:
        raise SettingsError(
            "COSMOS_ENDPOINT is set without KEY_VAULT_URL: set CONVERGIO_SECRETS_MASTER_KEY so every "
            "instance can read the tenants' keys (a key file would be per instance)"
        )
    secrets = open_secret_store(
        home=home,
        key_vault_url=settings.key_vault_url,
        master_key_b64=settings.secrets_master_key,
        cosmos=cosmos,
    )
    return Stores(
        tenants=open_tenant_store(home, cosmos=cosmos),
        secrets=secrets,
        ledger=CosmosLedger(cosmos.container("usage")) if cosmos else SqliteLedger(home / "usage.sqlite3"),
        quotas=open_quota_store(home, cosmos=cosmos),
        plugins=open_registry(home, hosted=settings.hosted, cosmos=cosmos, blob=blob),
        streams=open_run_stream(home, cosmos=cosmos),
        webhooks=open_webhook_store(home, secrets, cosmos=cosmos),
        cosmos=cosmos,
        blob=blob,
    )


def build(settings: Settings) -> Components:
    """Build every adapter the settings select (Key Vault when ``KEY_VAULT_URL`` is set...)."""
    from convergio.agents import ProviderResolver
    from convergio.metering import PriceTable
    from convergio.protocols import McpServerRegistry, McpToolSource
    from convergio.quotas import SpendGuard
    from convergio.telemetry import configure_telemetry
    from convergio.tenants import ConnectionRegistry

    configure_logging()
    configure_telemetry(
        connection_string=settings.appinsights_connection_string,
        otlp_endpoint=settings.otlp_endpoint,
        console=settings.telemetry_console,
        capture_prompts=settings.capture_prompts,
    )
    if not settings.home.is_absolute() and "WEBSITE_INSTANCE_ID" in os.environ:
        _log.warning("CONVERGIO_HOME %s is relative on Azure: caches may land in the package", settings.home)
    if not os.environ.get("NUMBA_CACHE_DIR"):  # numba's default is beside the (read-only) package
        os.environ["NUMBA_CACHE_DIR"] = str(settings.home / "numba-cache")
    stores = open_stores(settings)
    connections = ConnectionRegistry(stores.tenants)
    resolver = ProviderResolver(
        connections,
        stores.secrets,
        allowed_hosts=settings.provider_allowed_hosts,
        hosted=settings.hosted,
        managed=_managed(settings),
    )
    prices = PriceTable.load()
    mcp = McpToolSource(
        McpServerRegistry(stores.tenants),
        stores.secrets,
        hosted=settings.hosted,
        allowed_hosts=settings.provider_allowed_hosts,
    )
    return Components(
        settings=settings,
        tenants=stores.tenants,
        connections=connections,
        secrets=stores.secrets,
        resolver=resolver,
        ledger=stores.ledger,
        prices=prices,
        quotas=stores.quotas,
        guard=SpendGuard(stores.quotas, prices),
        toolbox=_toolbox(settings, stores.plugins, mcp),
        plugins=stores.plugins,
        mcp=mcp,
        streams=stores.streams,
        webhooks=stores.webhooks,
    )


def _toolbox(settings: Settings, plugins: PluginRegistry, mcp: McpToolSource) -> Toolbox:
    """Every source of tools, built-ins first so nothing can shadow them, then signed native plugins."""
    from convergio.plugins import PluginTools, TrustStore, load_native_plugins
    from convergio.tools import BUILTINS, Toolbox

    trusted = TrustStore.from_entries(settings.plugin_trusted_keys)
    native = load_native_plugins(settings.native_plugins, trusted)  # a refused plugin stops start-up
    return Toolbox([BUILTINS, native, PluginTools(plugins), mcp])


def _managed(settings: Settings) -> Connection | None:
    """The platform's own connection (``CONVERGIO_MANAGED_CONNECTION``, JSON), if it offers one."""
    if not settings.managed_connection.strip():
        return None
    from convergio.providers import Connection

    try:
        return Connection(**json.loads(settings.managed_connection))
    except (ValueError, TypeError) as exc:
        raise SettingsError(f"CONVERGIO_MANAGED_CONNECTION is not a valid connection: {exc}") from None


_BUILDING = threading.Lock()
_built: Components | None = None


def components() -> Components:
    """The process-wide components, built once, on first use.

    The activity pool's threads all ask at once when a host starts; without the lock each
    would build its own stores, racing to create the same SQLite files. Once built they are
    read without the lock: every activity asks, and 16 threads queueing on one lock cost more
    than the read. A build that fails because a backend or the state directory cannot be used
    is not kept: it is a 503 now, and the next call tries again.
    """
    global _built
    built = _built
    if built is not None:
        return built
    with _BUILDING:
        if _built is None:
            try:
                _built = build(load_settings())
            except OSError as exc:  # e.g. EROFS, ENOSPC, EACCES on the state directory
                _log.warning("the state directory cannot be used: %s", type(exc).__name__)
                raise StoreUnavailable(
                    f"the local state directory is unavailable ({exc.strerror or exc})"
                ) from None
        return _built
