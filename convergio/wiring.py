"""The composition root: settings in, the concrete stores and adapters out, once per process.

The API handlers and the activities run in the same Functions worker process (on Azure and on
the embedded host alike) and share these objects. Nothing else builds adapters from settings.
"""

from __future__ import annotations

import functools
import json
import logging
import threading
from dataclasses import dataclass

from convergio.agents import ProviderResolver
from convergio.metering import CosmosLedger, Ledger, PriceTable, SqliteLedger
from convergio.plugins import PluginRegistry, PluginTools, TrustStore, load_native_plugins, open_registry
from convergio.protocols import McpServerRegistry, McpToolSource
from convergio.providers import Connection
from convergio.quotas import QuotaStore, SpendGuard
from convergio.secrets import SecretStore, install_redaction, open_secret_store
from convergio.settings import Settings, SettingsError, load_settings
from convergio.streams import STORE_FILE as STREAM_FILE
from convergio.streams import RunStream
from convergio.telemetry import configure_telemetry
from convergio.tenants import ConnectionRegistry, TenantStore, open_tenant_store
from convergio.tools import BUILTINS, Toolbox
from convergio.webhooks import STORE_FILE as WEBHOOK_FILE
from convergio.webhooks import WebhookStore

__all__ = ["Components", "build", "components", "configure_logging"]


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


_CHATTY = ("openai", "anthropic", "httpx", "httpcore", "azure", "a2a", "httpx2", "httpcore2", "mcp")


def configure_logging() -> None:
    """Mask key-like text in every log line, and keep SDK loggers (which log prompts) quiet."""
    install_redaction()
    for name in _CHATTY:
        logging.getLogger(name).setLevel(max(logging.WARNING, logging.getLogger(name).level))


def build(settings: Settings) -> Components:
    """Build every adapter the settings select (Key Vault when ``KEY_VAULT_URL`` is set...)."""
    configure_logging()
    configure_telemetry(
        connection_string=settings.appinsights_connection_string,
        otlp_endpoint=settings.otlp_endpoint,
        console=settings.telemetry_console,
        capture_prompts=settings.capture_prompts,
    )
    tenants = open_tenant_store(settings.home)
    connections = ConnectionRegistry(tenants)
    secrets = open_secret_store(
        home=settings.home, key_vault_url=settings.key_vault_url, master_key_b64=settings.secrets_master_key
    )
    resolver = ProviderResolver(
        connections,
        secrets,
        allowed_hosts=settings.provider_allowed_hosts,
        hosted=settings.hosted,
        managed=_managed(settings),
    )
    prices = PriceTable.load()
    quotas = QuotaStore(settings.home / "quotas.sqlite3")
    plugins = open_registry(settings.home, hosted=settings.hosted)
    mcp = McpToolSource(
        McpServerRegistry(tenants),
        secrets,
        hosted=settings.hosted,
        allowed_hosts=settings.provider_allowed_hosts,
    )
    return Components(
        settings=settings,
        tenants=tenants,
        connections=connections,
        secrets=secrets,
        resolver=resolver,
        ledger=_ledger(settings),
        prices=prices,
        quotas=quotas,
        guard=SpendGuard(quotas, prices),
        toolbox=_toolbox(settings, plugins, mcp),
        plugins=plugins,
        mcp=mcp,
        streams=RunStream(settings.home / STREAM_FILE),
        webhooks=WebhookStore(settings.home / WEBHOOK_FILE, secrets),
    )


def _toolbox(settings: Settings, plugins: PluginRegistry, mcp: McpToolSource) -> Toolbox:
    """Every source of tools, built-ins first so nothing can shadow them, then signed native plugins."""
    trusted = TrustStore.from_entries(settings.plugin_trusted_keys)
    native = load_native_plugins(settings.native_plugins, trusted)  # a refused plugin stops start-up
    return Toolbox([BUILTINS, native, PluginTools(plugins), mcp])


def _managed(settings: Settings) -> Connection | None:
    """The platform's own connection (``CONVERGIO_MANAGED_CONNECTION``, JSON), if it offers one."""
    if not settings.managed_connection.strip():
        return None
    try:
        return Connection(**json.loads(settings.managed_connection))
    except (ValueError, TypeError) as exc:
        raise SettingsError(f"CONVERGIO_MANAGED_CONNECTION is not a valid connection: {exc}") from None


def _ledger(settings: Settings) -> Ledger:
    """Cosmos DB when ``COSMOS_ENDPOINT`` is set (Azure), else SQLite in the state directory."""
    if settings.cosmos_endpoint:
        return CosmosLedger.connect(settings.cosmos_endpoint, settings.cosmos_database, "usage")
    return SqliteLedger(settings.home / "usage.sqlite3")


_BUILDING = threading.Lock()


@functools.cache
def _components() -> Components:
    return build(load_settings())


def components() -> Components:
    """The process-wide components, built once, on first use.

    The activity pool's threads all ask at once when a host starts; without the lock each
    would build its own stores, racing to create the same SQLite files.
    """
    with _BUILDING:
        return _components()
