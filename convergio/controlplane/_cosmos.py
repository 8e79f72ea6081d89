"""Cosmos DB for NoSQL: the control plane's database, its containers and the few idioms every adapter uses."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Final
from urllib.parse import quote

from convergio.errors import StoreUnavailable

__all__ = [
    "CONTAINERS",
    "CosmosPlane",
    "cas_update",
    "global_partition",
    "read_doc",
    "safe_id",
    "unavailable",
]

_log = logging.getLogger("convergio.controlplane")

# Container -> partition key path. infra/ creates the same list (tests/infra checks it): on Azure
# the app's identity has data-plane rights only, so it never creates a container itself.
CONTAINERS: Final[dict[str, str]] = {
    "usage": "/tenant_id",  # the metering ledger
    "tenants": "/tenant_id",  # tenants, key digests, principals, run index, connections, MCP servers
    "quotas": "/tenant_id",  # budgets, consents, the month's spending and open reservations, events
    "webhooks": "/tenant_id",  # hooks, delivery claims, callbacks, deliveries and attempts
    "streams": "/tenant_id",  # run-stream events (SSE), partitioned by run
    "plugins": "/tenant_id",  # plugin metadata and plugin key-value data (packages are blobs)
    "secrets": "/tenant_id",  # AES-GCM ciphertext of tenants' keys when there is no Key Vault
}
_ATTEMPTS: Final = 64


def safe_id(*parts: str) -> str:
    """A Cosmos document id from parts: ``/ \\ ? #`` are not allowed in ids, so they are %-escaped."""
    return ":".join(quote(part, safe="@-_.~+=,;!$&'()*") for part in parts)


def global_partition(kind: str, key: str) -> str:
    """The partition of a document found by a key alone (no tenant): one document per partition."""
    return "~" + safe_id(kind, key)


def _status(exc: BaseException) -> int | None:
    return getattr(exc, "status_code", None)


@contextmanager
def unavailable(store: str) -> Iterator[None]:
    """Turn a backend failure inside the block into :class:`StoreUnavailable` naming ``store``.

    Transport errors, throttling that outlived the SDK's retries, 5xx, and 401/403 (a
    missing role assignment) are the backend's problem, not the caller's: 503. Other HTTP
    errors (404, 409, 412) are the adapter's to handle and pass through unchanged.
    """
    from azure.core.exceptions import AzureError, HttpResponseError

    try:
        yield
    except HttpResponseError as exc:
        status = _status(exc)
        if status is not None and (status >= 500 or status in (401, 403, 408, 429)):
            _log.warning("%s: backend answered %s", store, status)
            raise StoreUnavailable(f"the {store} store is unavailable (backend answered {status})") from None
        raise
    except AzureError as exc:
        _log.warning("%s: backend unreachable: %s", store, type(exc).__name__)
        raise StoreUnavailable(f"the {store} store is unavailable ({type(exc).__name__})") from None


def read_doc(container: Any, doc_id: str, partition: str) -> dict[str, Any] | None:
    """One document by id in one partition, or None (a query: the emulator 500s on a missing point read)."""
    items = container.query_items(
        query="SELECT * FROM c WHERE c.tenant_id = @pk AND c.id = @id",
        parameters=[{"name": "@pk", "value": partition}, {"name": "@id", "value": doc_id}],
        partition_key=partition,
    )
    for item in items:
        return dict(item)
    return None


def cas_update(
    container: Any,
    doc_id: str,
    partition: str,
    change: Callable[[dict[str, Any] | None], dict[str, Any] | None],
) -> dict[str, Any] | None:
    """Apply ``change`` to a document atomically, under optimistic concurrency.

    ``change`` gets the current document (None when missing) and returns the new one, or None
    to leave it as it is; it may run several times (after a lost race) and must not have side
    effects. The write is a replace with ``If-Match`` on the read ETag, or a create for a new
    document; a 412 or 409 means another writer won, so it starts again from a fresh read.

    Returns:
        The document as written (or as read, when ``change`` returned None).
    """
    from azure.core import MatchConditions
    from azure.cosmos.exceptions import CosmosHttpResponseError

    for _ in range(_ATTEMPTS):
        current = read_doc(container, doc_id, partition)
        wanted = change(None if current is None else dict(current))
        if wanted is None:
            return current
        body = {k: v for k, v in wanted.items() if not k.startswith("_")}
        body["id"] = doc_id
        body["tenant_id"] = partition
        try:
            if current is None:
                return dict(container.create_item(body))
            return dict(
                container.replace_item(
                    doc_id, body, etag=current["_etag"], match_condition=MatchConditions.IfNotModified
                )
            )
        except CosmosHttpResponseError as exc:
            if exc.status_code not in (409, 412):
                raise
    raise StoreUnavailable(f"document {doc_id!r} is too contended; try again")


def _check_key(key: str) -> None:
    import base64
    import binascii

    try:
        base64.b64decode(key, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("COSMOS_KEY is not an account key (base64 text)") from None


class CosmosPlane:
    """The control plane's Cosmos DB database, and a client per container (thread-safe, cached).

    Args:
        database: An ``azure.cosmos.DatabaseProxy``.
    """

    def __init__(self, database: Any) -> None:
        self.database = database
        self._containers: dict[str, Any] = {}
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"CosmosPlane({self.database.id!r})"

    @classmethod
    def connect(
        cls,
        endpoint: str,
        database: str,
        *,
        key: str = "",
        verify_tls: bool = True,
        credential: Any = None,
    ) -> CosmosPlane:
        """Open a database: with ``key`` (emulators, key-based accounts) or Entra ID (the app's identity).

        With a key, the database and its containers are created when missing (an emulator
        starts empty). With Entra ID they must exist: the infrastructure creates them, and the
        identity holds only the data-plane role.
        """
        if not endpoint or not database:
            raise ValueError("COSMOS_ENDPOINT and COSMOS_DATABASE must not be empty")
        from azure.cosmos import CosmosClient

        if not verify_tls:  # a local emulator's self-signed certificate; settings refuse it when hosted
            import warnings

            import urllib3

            warnings.filterwarnings("ignore", category=urllib3.exceptions.InsecureRequestWarning)
        if key:
            _check_key(key)
            auth: Any = key
        elif credential is not None:
            auth = credential
        else:
            from azure.identity import DefaultAzureCredential

            auth = DefaultAzureCredential()
        with unavailable("control plane"):
            client = CosmosClient(endpoint, credential=auth, connection_verify=verify_tls)
            if key:
                plane = cls(client.create_database_if_not_exists(database))
                plane.ensure()
                return plane
            return cls(client.get_database_client(database))

    def ensure(self) -> None:
        """Create every container of :data:`CONTAINERS` that is missing (key-based accounts only)."""
        from azure.cosmos import PartitionKey

        for name, path in CONTAINERS.items():
            container = self.database.create_container_if_not_exists(name, partition_key=PartitionKey(path))
            with self._lock:
                self._containers[name] = container

    def container(self, name: str) -> Any:
        """The ``ContainerProxy`` of one of :data:`CONTAINERS`."""
        if name not in CONTAINERS:
            raise KeyError(f"unknown control-plane container {name!r}")
        with self._lock:
            found = self._containers.get(name)
            if found is None:
                found = self._containers[name] = self.database.get_container_client(name)
            return found
