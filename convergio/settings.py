"""Every setting Convergio reads, in one place.

Lookup order: the environment, then ``local.settings.json`` ``Values`` (local runs
only, as Core Tools does), then the default. The same names are used by
``local.settings.sample.json`` and by the app settings generated in ``infra/``.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

__all__ = ["SETTING_NAMES", "Settings", "SettingsError", "default_home", "load_settings"]


class SettingsError(ValueError):
    """A setting has a value that cannot be used; the message names it."""


@dataclass(frozen=True, slots=True)
class Settings:
    home: Path
    replay_verify: bool
    activity_concurrency: int
    keep_alive_sessions: int
    task_hub: str
    graphs_dir: Path
    trust_principal_headers: bool
    hosted: bool
    key_vault_url: str
    cosmos_endpoint: str
    cosmos_database: str
    cosmos_key: str
    cosmos_verify_tls: bool
    storage_connection: str
    blob_service_uri: str
    secrets_master_key: str
    provider_allowed_hosts: tuple[str, ...]
    managed_connection: str
    appinsights_connection_string: str
    otlp_endpoint: str
    telemetry_console: bool
    capture_prompts: bool
    webhook_tolerance_s: int
    webhook_attempts: int
    webhook_backoff_ms: int
    webhook_timeout_s: int
    webhook_allowed_hosts: tuple[str, ...]
    http_streaming: bool
    plugin_trusted_keys: tuple[str, ...]
    native_plugins: tuple[Path, ...]
    retention_interval_s: int = 86_400
    retention_batch: int = 500
    unpriced_under_cap: Literal["refuse", "allow"] = "refuse"
    setup_code: str = field(default="", repr=False)  # a secret: kept out of any repr


# name -> default (as text, the form settings take everywhere)
SETTING_NAMES: dict[str, str] = {
    "CONVERGIO_HOME": ".convergio",
    "CONVERGIO_REPLAY_VERIFY": "false",
    "CONVERGIO_ACTIVITY_CONCURRENCY": "16",
    "CONVERGIO_KEEP_ALIVE_SESSIONS": "1000",
    # logger=LEVEL pairs for Convergio's loggers, e.g. convergio.agents=DEBUG (a line per agent call)
    "CONVERGIO_LOG_LEVELS": "",
    "TASKHUB_NAME": "ConvergioHub",
    "CONVERGIO_GRAPHS_DIR": "examples/graphs",
    # the web console's build folder (served at /api/app/), relative to the app folder
    "CONVERGIO_WEB_DIR": "web/build",
    # Only behind App Service Authentication, which strips client-sent X-MS-CLIENT-PRINCIPAL headers.
    "CONVERGIO_TRUST_PRINCIPAL_HEADERS": "false",
    # hosted: provider endpoints must be https and public (or allow-listed); auto = on Azure.
    "CONVERGIO_HOSTED": "auto",
    "CONVERGIO_PROVIDER_ALLOWED_HOSTS": "api.openai.com,api.anthropic.com,*.openai.azure.com",
    # base64 of 32 bytes for the local secret store; empty: a key file in CONVERGIO_HOME (0600).
    "CONVERGIO_SECRETS_MASTER_KEY": "",
    # the platform's own connection for managed keys (JSON: kind, endpoint, model); key in the secret store
    "CONVERGIO_MANAGED_CONNECTION": "",
    # Azure adapters (selected when set; the embedded defaults need none of them).
    "KEY_VAULT_URL": "",
    "COSMOS_ENDPOINT": "",
    "COSMOS_DATABASE": "convergio",
    # a key for emulators and key-based accounts; empty on Azure: the app's managed identity
    "COSMOS_KEY": "",
    # false only for a local emulator's self-signed certificate (refused in hosted mode)
    "COSMOS_VERIFY_TLS": "true",
    # Blob Storage for plugin packages: a connection string (e.g. Azurite's), or the service URI + identity
    "AzureWebJobsStorage": "",
    "AzureWebJobsStorage__blobServiceUri": "",
    "APPLICATIONINSIGHTS_CONNECTION_STRING": "",
    # OpenTelemetry locally: an OTLP/HTTP endpoint, or the console; off by default.
    "OTEL_EXPORTER_OTLP_ENDPOINT": "",
    "CONVERGIO_TELEMETRY_CONSOLE": "false",
    # explicit opt-in: prompts and completions (redacted) as span events
    "CONVERGIO_CAPTURE_PROMPTS": "false",
    "NUMBA_CACHE_DIR": "",
    # webhooks: inbound signature clock tolerance; outbound attempts, first back-off (doubling), timeout
    "CONVERGIO_WEBHOOK_TOLERANCE_SECONDS": "300",
    "CONVERGIO_WEBHOOK_ATTEMPTS": "6",
    "CONVERGIO_WEBHOOK_BACKOFF_MS": "2000",
    "CONVERGIO_WEBHOOK_TIMEOUT_SECONDS": "10",
    # hosted mode: when set, callback URLs must be on this list (and always pass the SSRF guard)
    "CONVERGIO_WEBHOOK_ALLOWED_HOSTS": "",
    # the host passes streamed responses through (the embedded host sets it); else SSE is served in windows
    "CONVERGIO_HTTP_STREAMING": "false",
    # native (Python) plugins: public keys trusted to sign them (base64 or key file paths, comma-separated)
    "CONVERGIO_PLUGIN_TRUSTED_KEYS": "",
    # native plugin package folders, comma-separated; each must be signed by a trusted key or start-up fails
    "CONVERGIO_NATIVE_PLUGINS": "",
    # retention (ADR 0018): seconds between sweeps, and runs purged per tenant per sweep
    "CONVERGIO_RETENTION_INTERVAL_SECONDS": "86400",
    "CONVERGIO_RETENTION_BATCH": "500",
    # a tenant with a cap calling a model with no price (its spend would escape the cap): refuse | allow
    "CONVERGIO_UNPRICED_UNDER_CAP": "refuse",
    # the one-time code that claims a fresh installation (ADR 0022); empty on the embedded host:
    # generated into CONVERGIO_HOME (python -m convergio setup-code); hosted, it must be set
    "CONVERGIO_SETUP_CODE": "",
}


def _bool(name: str, value: str) -> bool:
    lowered = value.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off", ""):
        return False
    raise SettingsError(f"{name} must be true or false, not {value!r}")


def _unpriced(value: str) -> Literal["refuse", "allow"]:
    choice = value.strip().lower()
    if choice == "allow":
        return "allow"
    if choice == "refuse":
        return "refuse"
    raise SettingsError(f"CONVERGIO_UNPRICED_UNDER_CAP must be refuse or allow, got {value!r}")


def _int(name: str, value: str, minimum: int) -> int:
    try:
        number = int(value)
    except ValueError:
        raise SettingsError(f"{name} must be an integer, not {value!r}") from None
    if number < minimum:
        raise SettingsError(f"{name} must be >= {minimum}")
    return number


def _list(value: str) -> tuple[str, ...]:
    return tuple(entry.strip() for entry in value.split(",") if entry.strip())


def _hosted(value: str, env: Mapping[str, str]) -> bool:
    if value.strip().lower() == "auto":
        return bool(env.get("WEBSITE_INSTANCE_ID"))  # set by App Service / Functions on Azure
    return _bool("CONVERGIO_HOSTED", value)


def _account_blob_uri(env: Mapping[str, str]) -> str:
    """The blob endpoint of the identity-based ``AzureWebJobsStorage__accountName`` the templates set."""
    account = env.get("AzureWebJobsStorage__accountName", "").strip()
    return f"https://{account}.blob.core.windows.net" if account else ""


def _verify_tls(value: str, hosted: bool) -> bool:
    verify = _bool("COSMOS_VERIFY_TLS", value)
    if not verify and hosted:
        raise SettingsError(
            "COSMOS_VERIFY_TLS=false is for a local emulator only; it is refused in hosted mode"
        )
    return verify


def _local_values(folder: Path) -> Mapping[str, str]:
    path = folder / "local.settings.json"
    if not path.is_file():
        return {}
    values = json.loads(path.read_text(encoding="utf-8")).get("Values", {})
    return {str(k): str(v) for k, v in values.items()}


def default_home(env: Mapping[str, str]) -> Path:
    """Where state goes when ``CONVERGIO_HOME`` is not set.

    On Azure (``WEBSITE_INSTANCE_ID`` set) the package directory is read-only and an instance's
    disk is not shared, so the home is a per-instance temp directory, used only for caches
    (compiled modules, numba) and the embedded host's own store; shared state is in the
    control plane. Locally it is ``.convergio`` in the working directory.
    """
    instance = env.get("WEBSITE_INSTANCE_ID", "")
    if instance:
        tag = "".join(ch for ch in instance if ch.isalnum())[:16] or "instance"
        return Path(tempfile.gettempdir()) / f"convergio-{tag}"
    return Path(SETTING_NAMES["CONVERGIO_HOME"])


def load_settings(environ: Mapping[str, str] | None = None, folder: Path | None = None) -> Settings:
    """Read the settings; pass ``environ`` explicitly in tests."""
    env = os.environ if environ is None else environ
    local = _local_values(folder or Path.cwd())

    def get(name: str) -> str:
        return env.get(name) or local.get(name) or SETTING_NAMES[name]

    hosted = _hosted(get("CONVERGIO_HOSTED"), env)

    return Settings(
        home=Path(env.get("CONVERGIO_HOME") or local.get("CONVERGIO_HOME") or default_home(env)),
        replay_verify=_bool("CONVERGIO_REPLAY_VERIFY", get("CONVERGIO_REPLAY_VERIFY")),
        activity_concurrency=_int("CONVERGIO_ACTIVITY_CONCURRENCY", get("CONVERGIO_ACTIVITY_CONCURRENCY"), 1),
        keep_alive_sessions=_int("CONVERGIO_KEEP_ALIVE_SESSIONS", get("CONVERGIO_KEEP_ALIVE_SESSIONS"), 0),
        task_hub=get("TASKHUB_NAME"),
        graphs_dir=Path(get("CONVERGIO_GRAPHS_DIR")),
        hosted=hosted,
        key_vault_url=get("KEY_VAULT_URL"),
        cosmos_endpoint=get("COSMOS_ENDPOINT"),
        cosmos_database=get("COSMOS_DATABASE"),
        cosmos_key=get("COSMOS_KEY"),
        cosmos_verify_tls=_verify_tls(get("COSMOS_VERIFY_TLS"), hosted),
        storage_connection=get("AzureWebJobsStorage"),
        blob_service_uri=get("AzureWebJobsStorage__blobServiceUri") or _account_blob_uri(env),
        secrets_master_key=get("CONVERGIO_SECRETS_MASTER_KEY"),
        managed_connection=get("CONVERGIO_MANAGED_CONNECTION"),
        appinsights_connection_string=get("APPLICATIONINSIGHTS_CONNECTION_STRING"),
        otlp_endpoint=get("OTEL_EXPORTER_OTLP_ENDPOINT"),
        telemetry_console=_bool("CONVERGIO_TELEMETRY_CONSOLE", get("CONVERGIO_TELEMETRY_CONSOLE")),
        capture_prompts=_bool("CONVERGIO_CAPTURE_PROMPTS", get("CONVERGIO_CAPTURE_PROMPTS")),
        webhook_tolerance_s=_int(
            "CONVERGIO_WEBHOOK_TOLERANCE_SECONDS", get("CONVERGIO_WEBHOOK_TOLERANCE_SECONDS"), 1
        ),
        webhook_attempts=_int("CONVERGIO_WEBHOOK_ATTEMPTS", get("CONVERGIO_WEBHOOK_ATTEMPTS"), 1),
        webhook_backoff_ms=_int("CONVERGIO_WEBHOOK_BACKOFF_MS", get("CONVERGIO_WEBHOOK_BACKOFF_MS"), 0),
        webhook_timeout_s=_int(
            "CONVERGIO_WEBHOOK_TIMEOUT_SECONDS", get("CONVERGIO_WEBHOOK_TIMEOUT_SECONDS"), 1
        ),
        webhook_allowed_hosts=tuple(
            h.strip() for h in get("CONVERGIO_WEBHOOK_ALLOWED_HOSTS").split(",") if h.strip()
        ),
        http_streaming=_bool("CONVERGIO_HTTP_STREAMING", get("CONVERGIO_HTTP_STREAMING")),
        plugin_trusted_keys=_list(get("CONVERGIO_PLUGIN_TRUSTED_KEYS")),
        native_plugins=tuple(Path(entry) for entry in _list(get("CONVERGIO_NATIVE_PLUGINS"))),
        retention_interval_s=_int(
            "CONVERGIO_RETENTION_INTERVAL_SECONDS", get("CONVERGIO_RETENTION_INTERVAL_SECONDS"), 1
        ),
        retention_batch=_int("CONVERGIO_RETENTION_BATCH", get("CONVERGIO_RETENTION_BATCH"), 1),
        unpriced_under_cap=_unpriced(get("CONVERGIO_UNPRICED_UNDER_CAP")),
        setup_code=get("CONVERGIO_SETUP_CODE"),
        provider_allowed_hosts=tuple(
            h.strip() for h in get("CONVERGIO_PROVIDER_ALLOWED_HOSTS").split(",") if h.strip()
        ),
        trust_principal_headers=_bool(
            "CONVERGIO_TRUST_PRINCIPAL_HEADERS", get("CONVERGIO_TRUST_PRINCIPAL_HEADERS")
        ),
    )
