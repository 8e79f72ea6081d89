"""From an agent's ``provider`` to a live provider, at call time: BYOK by reference.

An agent names ``offline`` (the built-in simulator) or one of its tenant's connections. The
connection's key is read from the secret store here, inside the activity, for this call only:
it never travels in an orchestration input, a history event or a status.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from typing import Literal

from convergio.providers import (
    Connection,
    Provider,
    UnknownProvider,
    build_provider,
    check_endpoint,
    get_provider,
)
from convergio.secrets import SecretNotFound, SecretStore
from convergio.tenants import ConnectionRegistry

__all__ = ["ProviderResolver", "Resolve", "offline_only"]

Resolve = Callable[[str, str], Provider]
"""``(tenant_id, provider name) -> Provider``; raises ``LookupError``/``ValueError`` saying why."""

OFFLINE = "offline"
MANAGED = "managed"
"""The platform's own key: only for tenants with managed keys enabled, under their cap."""
PLATFORM = "platform"
"""The secret-store owner of the managed key."""
KeyMode = Literal["byok", "managed"]


def offline_only(tenant_id: str, name: str) -> Provider:
    """The resolver of a process with no tenants' connections: built-in providers only."""
    return get_provider(name)


class ProviderResolver:
    """Resolves tenant connections, checking endpoints the way the hosting mode requires."""

    def __init__(
        self,
        connections: ConnectionRegistry,
        secrets: SecretStore,
        *,
        allowed_hosts: Collection[str],
        hosted: bool,
        managed: Connection | None = None,
    ) -> None:
        self._connections = connections
        self._secrets = secrets
        self._allowed = tuple(allowed_hosts)
        self._hosted = hosted
        self._managed = managed

    def describe(self, tenant_id: str, name: str) -> tuple[str, str, KeyMode]:
        """(provider kind, default model, key mode) of a name, without touching any key."""
        if name == OFFLINE:
            provider = get_provider(OFFLINE)
            return provider.name, provider.default_model, "byok"
        if name == MANAGED:
            if self._managed is None:
                raise UnknownProvider("this platform offers no managed key")
            return self._managed.kind, self._managed.model or "", "managed"
        connection, _ = self._connection(tenant_id, name)
        return connection.kind, connection.model or "", "byok"

    def prices(self, tenant_id: str, name: str) -> Mapping[str, str] | None:
        """The connection's own prices (EUR per unit), ``None`` for built-in names or when it has none."""
        if name in (OFFLINE, MANAGED):
            return None
        record = self._connections.get(tenant_id, name)
        return None if record is None else record.prices

    def __call__(self, tenant_id: str, name: str) -> Provider:
        if name == OFFLINE:
            return get_provider(OFFLINE)
        if name == MANAGED:
            if self._managed is None:
                raise UnknownProvider("this platform offers no managed key")
            return build_provider(self._managed, self._secrets.get(PLATFORM, MANAGED))
        connection, keyed = self._connection(tenant_id, name)
        if connection.endpoint is not None:
            check_endpoint(connection.endpoint, allowed_hosts=self._allowed, local_mode=not self._hosted)
        key = None
        if keyed:
            try:
                key = self._secrets.get(tenant_id, name)
            except SecretNotFound:
                raise UnknownProvider(f"the key of connection {name!r} is missing; set it again") from None
        return build_provider(connection, key)

    def _connection(self, tenant_id: str, name: str) -> tuple[Connection, bool]:
        record = self._connections.get(tenant_id, name)
        if record is None:
            raise UnknownProvider(f"the tenant has no connection named {name!r}")
        connection = Connection(
            kind=record.kind,  # type: ignore[arg-type]  # checked when the connection was saved
            endpoint=record.endpoint,
            deployment=record.deployment,
            api_version=record.api_version,
            model=record.model,
        )
        return connection, record.key_fingerprint is not None
