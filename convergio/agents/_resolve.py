"""From an agent's ``provider`` to a live provider, at call time: BYOK by reference.

An agent names ``offline`` (the built-in simulator) or one of its tenant's connections. The
connection's key is read from the secret store here, inside the activity, for this call only:
it never travels in an orchestration input, a history event or a status.
"""

from __future__ import annotations

from collections.abc import Callable, Collection

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
    ) -> None:
        self._connections = connections
        self._secrets = secrets
        self._allowed = tuple(allowed_hosts)
        self._hosted = hosted

    def __call__(self, tenant_id: str, name: str) -> Provider:
        if name == OFFLINE:
            return get_provider(OFFLINE)
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
        if connection.endpoint is not None:
            check_endpoint(connection.endpoint, allowed_hosts=self._allowed, local_mode=not self._hosted)
        key = None
        if record.key_fingerprint is not None:
            try:
                key = self._secrets.get(tenant_id, name)
            except SecretNotFound:
                raise UnknownProvider(f"the key of connection {name!r} is missing; set it again") from None
        return build_provider(connection, key)
