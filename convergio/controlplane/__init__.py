"""The shared control plane's building blocks: Cosmos DB containers and Blob Storage, opened once.

Every store keeps one protocol and two adapters (embedded SQLite/files | Azure). The Azure
adapters get their containers from a :class:`CosmosPlane` and their blobs from a
:class:`BlobPlane`; nothing else builds Azure clients for state. See ADR 0013.

- Every container is partitioned by ``/tenant_id`` (as ``infra/`` creates them). A document
  that must be found without knowing its tenant (an API-key digest, a run's owner, a hook)
  lives in a partition of its own, ``~<kind>:<key>``: one point lookup, never a fan-out.
- Reads go through :func:`read_doc` (a query on id), because the npm Cosmos DB emulator
  answers 500, not 404, to a point read of a missing document.
- Every query names its partition in the WHERE clause (``c.tenant_id = @pk``) as well as in
  ``partition_key=``: the emulator ignores the header and refuses a query without the filter.
- Concurrent writers use :func:`cas_update`: read, change, replace with ``If-Match`` (or
  create), and start again on 412/409. Never a blind read-modify-write.
- Backend failures become :class:`~convergio.errors.StoreUnavailable` (HTTP 503) through
  :func:`unavailable`; nothing is cached, so the next call tries again.

Importing this package loads no Azure SDK; a plane imports it when it connects.
"""

from ._blob import BlobPlane
from ._cosmos import (
    CONTAINERS,
    CosmosPlane,
    cas_update,
    create_doc,
    delete_doc,
    global_partition,
    query_docs,
    read_doc,
    safe_id,
    unavailable,
)

__all__ = [
    "CONTAINERS",
    "BlobPlane",
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
