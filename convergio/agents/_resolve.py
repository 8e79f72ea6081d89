"""From an agent's ``provider`` to a live provider, at call time: BYOK by reference.

An agent names ``offline`` (the built-in simulator) or one of its tenant's connections. The
connection's key is read from the secret store here, inside the activity, for this call only:
it never travels in an orchestration input, a history event or a status.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
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

__all__ = ["ProviderResolver", "Resolve", "Target", "offline_only"]

Resolve = Callable[[str, str], Provider]
"""``(tenant_id, provider name) -> Provider``; raises ``LookupError``/``ValueError`` saying why."""

OFFLINE = "offline"
MANAGED = "managed"
"""The platform's own key: only for tenants with managed keys enabled, under their cap."""
PLATFORM = "platform"
"""The secret-store owner of the managed key."""
KeyMode = Literal["byok", "managed"]


@dataclass(frozen=True, slots=True)
class Target:
    """What a provider name names for one call, read once; never the key.

    ``connection`` is ``None`` for the built-in names (``offline``, ``managed``); ``keyed``
    says whether the connection has a key in the secret store; ``prices`` are the
    connection's own (``None``: the price table's).
    """

    name: str
    kind: str
    model: str
    key_mode: KeyMode
    connection: Connection | None = None
    keyed: bool = False
    prices: Mapping[str, str] | None = None


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

    def target(self, tenant_id: str, name: str) -> Target:
        """What ``name`` names for ``tenant_id``: one read of its connection's record, no key.

        Raises:
            UnknownProvider: no such connection, or ``managed`` where none is offered.
        """
        if name == OFFLINE:
            provider = get_provider(OFFLINE)
            return Target(name, provider.name, provider.default_model, "byok")
        if name == MANAGED:
            if self._managed is None:
                raise UnknownProvider("this platform offers no managed key")
            return Target(name, self._managed.kind, self._managed.model or "", "managed")
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
        keyed = record.key_fingerprint is not None
        return Target(name, record.kind, record.model or "", "byok", connection, keyed, record.prices)

    def describe(self, tenant_id: str, name: str) -> tuple[str, str, KeyMode]:
        """(provider kind, default model, key mode) of a name, without touching any key."""
        target = self.target(tenant_id, name)
        return target.kind, target.model, target.key_mode

    def provider(self, tenant_id: str, target: Target) -> Provider:
        """The provider ``target`` names, its key read from the secret store now (never kept).

        Raises:
            UnknownProvider: the key is missing from the secret store.
            ValueError: the endpoint is refused (hosted mode, internal address).
        """
        if target.name == OFFLINE:
            return get_provider(OFFLINE)
        if target.name == MANAGED:
            if self._managed is None:
                raise UnknownProvider("this platform offers no managed key")
            return build_provider(self._managed, self._secrets.get(PLATFORM, MANAGED))
        connection = target.connection
        if connection is None:
            raise UnknownProvider(f"the tenant has no connection named {target.name!r}")
        if connection.endpoint is not None:
            check_endpoint(connection.endpoint, allowed_hosts=self._allowed, local_mode=not self._hosted)
        key = None
        if target.keyed:
            try:
                key = self._secrets.get(tenant_id, target.name)
            except SecretNotFound:
                raise UnknownProvider(
                    f"the key of connection {target.name!r} is missing; set it again"
                ) from None
        return build_provider(connection, key)

    def __call__(self, tenant_id: str, name: str) -> Provider:
        return self.provider(tenant_id, self.target(tenant_id, name))
