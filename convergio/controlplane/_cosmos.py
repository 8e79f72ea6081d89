"""Cosmos DB for NoSQL: the control plane's database, its containers and the few idioms every adapter uses."""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Final
from urllib.parse import quote

from convergio.errors import StoreUnavailable

__all__ = [
    "CONTAINERS",
    "CosmosPlane",
    "cas_update",
    "create_doc",
    "delete_doc",
    "global_partition",
    "query_docs",
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


def create_doc(container: Any, body: dict[str, Any]) -> bool:
    """Create a document; False when its id is already taken in its partition (409): a claim lost."""
    from azure.cosmos.exceptions import CosmosResourceExistsError

    try:
        container.create_item(body)
    except CosmosResourceExistsError:
        return False
    return True


def _if_not_exists(create: Callable[..., Any], name: str, **options: Any) -> Any:
    """``create_*_if_not_exists``, safe when instances race on a fresh account.

    The SDK reads, then creates: two instances starting at once both read "missing" and the
    second create is a 409. What it wanted exists, so read it again instead of failing.
    """
    from azure.cosmos.exceptions import CosmosResourceExistsError

    try:
        return create(name, **options)
    except CosmosResourceExistsError:
        return create(name, **options)


def delete_doc(container: Any, doc_id: str, partition: str, *, etag: str | None = None) -> bool:
    """Delete a document; False when there was none (404), or when ``etag`` no longer matches (412)."""
    from azure.core import MatchConditions
    from azure.cosmos.exceptions import CosmosAccessConditionFailedError, CosmosResourceNotFoundError

    condition = {} if etag is None else {"etag": etag, "match_condition": MatchConditions.IfNotModified}
    try:
        container.delete_item(doc_id, partition_key=partition, **condition)
    except (CosmosResourceNotFoundError, CosmosAccessConditionFailedError):
        return False
    return True


def query_docs(container: Any, partition: str, where: str, **params: Any) -> list[Any]:
    """What a query of one partition returns (documents, or values for ``SELECT VALUE``).

    The query names ``@pk`` (the emulator's rule) and the ``params`` by ``@name``.
    """
    parameters = [
        {"name": "@pk", "value": partition},
        *({"name": f"@{k}", "value": v} for k, v in params.items()),
    ]
    return list(container.query_items(query=where, parameters=parameters, partition_key=partition))


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

    for attempt in range(_ATTEMPTS):
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
        # Lost a race: back off a little, with jitter, so hot documents are not hammered in lockstep.
        time.sleep(random.uniform(0, min(0.1, 0.002 * 2**attempt)))  # noqa: S311 - jitter, not security
    raise StoreUnavailable(f"document {doc_id!r} is too contended; try again")


def _check_key(key: str) -> None:
    import base64
    import binascii

    try:
        base64.b64decode(key, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("COSMOS_KEY is not an account key (base64 text)") from None


class _PerThread:
    """A container proxy that forwards to the calling thread's own client.

    azure-cosmos 4.17 keeps per-request state on the client (``last_response_headers``, which
    one thread iterates while another's retry step writes it: "OrderedDict mutated during
    iteration"), so a client must not be shared by threads that call it at once. Adapters keep
    this object for their lifetime; each thread's first use builds that thread's client.
    """

    def __init__(self, plane: CosmosPlane, name: str) -> None:
        self._plane, self._name = plane, name

    def __getattr__(self, attr: str) -> Any:
        return getattr(self._plane.thread_container(self._name), attr)

    def __repr__(self) -> str:
        return f"<container {self._name!r} of {self._plane!r}>"


class CosmosPlane:
    """The control plane's Cosmos DB database, with one client per thread (see :class:`_PerThread`).

    Args:
        database: An ``azure.cosmos.DatabaseProxy`` (this thread's).
        reconnect: Builds another thread's ``DatabaseProxy`` (a client of its own). Without it
            every thread shares ``database``: only for code that calls from one thread.
    """

    def __init__(self, database: Any, *, reconnect: Callable[[], Any] | None = None) -> None:
        self.database = database
        self._reconnect = reconnect
        self._owner = threading.get_ident()
        self._local = threading.local()

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

            auth = DefaultAzureCredential()  # thread-safe, and its token cache is shared

        def reconnect() -> Any:
            with unavailable("control plane"):
                client = CosmosClient(endpoint, credential=auth, connection_verify=verify_tls)
                return client.get_database_client(database)

        with unavailable("control plane"):
            client = CosmosClient(endpoint, credential=auth, connection_verify=verify_tls)
            if key:
                plane = cls(
                    _if_not_exists(client.create_database_if_not_exists, database), reconnect=reconnect
                )
                plane.ensure()
                return plane
            return cls(client.get_database_client(database), reconnect=reconnect)

    def ensure(self) -> None:
        """Create every container of :data:`CONTAINERS` that is missing (key-based accounts only)."""
        from azure.cosmos import PartitionKey

        for name, path in CONTAINERS.items():
            _if_not_exists(
                self.database.create_container_if_not_exists, name, partition_key=PartitionKey(path)
            )

    def container(self, name: str) -> Any:
        """One of :data:`CONTAINERS`, safe to use from any thread (each gets its own client)."""
        if name not in CONTAINERS:
            raise KeyError(f"unknown control-plane container {name!r}")
        return _PerThread(self, name)

    def thread_container(self, name: str) -> Any:
        """The calling thread's ``ContainerProxy`` of ``name`` (its client built on first use)."""
        containers: dict[str, Any] | None = getattr(self._local, "containers", None)
        if containers is None:
            own = self._reconnect is None or threading.get_ident() == self._owner
            self._local.database = self.database if own else self._reconnect()  # type: ignore[misc]
            containers = self._local.containers = {}
        found = containers.get(name)
        if found is None:
            found = containers[name] = self._local.database.get_container_client(name)
        return found
