"""The shared tenant store: the control plane's ``tenants`` container (Cosmos DB, ``/tenant_id``).

Documents, by partition:

- ``~tenants:directory`` -- one per tenant (id = the tenant id). Creating it is the claim on
  the id: a second instance adding the same tenant gets 409, hence :class:`TenantExists`.
  Listing tenants is one query in this one partition.
- ``~key:<digest>`` / ``~principal:<id>`` / ``~run:<run id>`` -- what is found without a tenant:
  one point lookup each. Tenants never change, so key and principal documents carry the
  tenant's name and creation time, and authenticating is a single read.
- ``<tenant id>`` -- the tenant's own listings: its keys (to revoke them), its runs (to page
  them) and its records (connections, MCP servers).

The global document decides: a key authenticates while ``~key:<digest>`` is live, a run's owner
is ``~run:<id>``'s. Writes go listing first and global second where a crash in between must leave
nothing that works but cannot be found (a key), and global first where the claim must come first
(a run). Nothing is cached, so a revocation is seen by every instance on its next request.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final

from convergio.controlplane import (
    cas_update,
    create_doc,
    delete_doc,
    global_partition,
    query_docs,
    read_doc,
    safe_id,
    unavailable,
)
from convergio.tenants._keys import hash_key, is_well_formed_key, new_key, tenant_id_for
from convergio.tenants._models import RunRecord, Tenant, TenantExists, UnknownTenant
from convergio.tenants._store import _now, canonical_principal, check_kind, check_page

if TYPE_CHECKING:
    from convergio.controlplane import CosmosPlane

__all__ = ["CONTAINER", "CosmosTenantRecords", "CosmosTenantStore"]

CONTAINER: Final = "tenants"
_STORE: Final = "tenant"
_DIRECTORY: Final = global_partition("tenants", "directory")
_log = logging.getLogger("convergio.tenants")


def _revoke(container: Any, doc_id: str, partition: str, now: str) -> bool:
    """Mark a key document revoked under its ETag; True when this call did it (not an earlier one)."""
    applied = False

    def change(doc: dict[str, Any] | None) -> dict[str, Any] | None:
        nonlocal applied  # the last run of change() is the one that was written
        applied = doc is not None and doc.get("revoked_at") is None
        if doc is None or not applied:
            return None
        return {**doc, "revoked_at": now}

    cas_update(container, doc_id, partition, change)
    return applied


def _owner(doc: Mapping[str, Any]) -> Tenant:
    return Tenant(id=doc["owner"], name=doc["owner_name"], created_at=doc["owner_created_at"])


class CosmosTenantStore:
    """The :class:`~convergio.tenants.TenantStore` in the control plane, shared by every instance.

    Args:
        plane: The control plane; the store uses its ``tenants`` container.
    """

    def __init__(self, plane: CosmosPlane) -> None:
        self.plane = plane
        self.container = plane.container(CONTAINER)

    def __repr__(self) -> str:
        return f"CosmosTenantStore({self.plane!r})"

    def _tenant(self, tenant_id: str) -> Tenant:
        found = self.get(tenant_id)
        if found is None:
            raise UnknownTenant(tenant_id)
        return found

    # -- tenants ------------------------------------------------------------------------
    def add_tenant(self, name: str) -> tuple[Tenant, str]:
        display = name.strip()
        if not display:
            raise ValueError("tenant name must not be blank")
        tenant = Tenant(id=tenant_id_for(display), name=display, created_at=_now())
        body = {
            "id": tenant.id,
            "tenant_id": _DIRECTORY,
            "name": tenant.name,
            "created_at": tenant.created_at,
        }
        with unavailable(_STORE):
            if not create_doc(self.container, body):
                raise TenantExists(tenant.id)
            key = self._issue(tenant, "initial")
        _log.info("tenant %s added", tenant.id)
        return tenant, key

    def get(self, tenant_id: str) -> Tenant | None:
        with unavailable(_STORE):
            doc = read_doc(self.container, tenant_id, _DIRECTORY)
        return None if doc is None else Tenant(doc["id"], doc["name"], doc["created_at"])

    def list_tenants(self) -> list[Tenant]:
        sql = "SELECT c.id, c.name, c.created_at FROM c WHERE c.tenant_id = @pk"
        with unavailable(_STORE):
            docs = query_docs(self.container, _DIRECTORY, sql)
        return sorted((Tenant(d["id"], d["name"], d["created_at"]) for d in docs), key=lambda t: t.id)

    # -- API keys -----------------------------------------------------------------------
    def _issue(self, tenant: Tenant, label: str) -> str:
        key = new_key()
        digest = hash_key(key)
        issued = _now()
        # The tenant's listing first: a key that exists only there cannot authenticate, while a
        # key that existed only globally would authenticate and escape revoke_keys.
        listing = {"type": "key", "digest": digest, "label": label, "issued_at": issued, "revoked_at": None}
        self.container.create_item({"id": safe_id("key", digest), "tenant_id": tenant.id, **listing})
        self.container.create_item(
            {
                "id": "key",
                "tenant_id": global_partition("key", digest),
                "owner": tenant.id,
                "owner_name": tenant.name,
                "owner_created_at": tenant.created_at,
                "label": label,
                "issued_at": issued,
                "revoked_at": None,
            }
        )
        return key

    def issue_key(self, tenant_id: str, *, label: str = "") -> str:
        with unavailable(_STORE):
            key = self._issue(self._tenant(tenant_id), label)
        _log.info("key issued for tenant %s (label %r)", tenant_id, label)
        return key

    def revoke_keys(self, tenant_id: str, *, label: str | None = None) -> int:
        sql = "SELECT c.id, c.digest, c.label FROM c WHERE c.tenant_id = @pk AND c.type = 'key'"
        sql += " AND IS_NULL(c.revoked_at)"
        revoked = 0
        with unavailable(_STORE):
            self._tenant(tenant_id)
            for listed in query_docs(self.container, tenant_id, sql):
                if label is not None and listed["label"] != label:
                    continue
                now = _now()
                # The global document decides (authenticate reads it): revoke it first, and count
                # only the keys this call revoked, not those a concurrent call did.
                revoked += _revoke(self.container, "key", global_partition("key", listed["digest"]), now)
                _revoke(self.container, listed["id"], tenant_id, now)
        _log.info("%d key(s) revoked for tenant %s", revoked, tenant_id)
        return revoked

    def authenticate(self, key: str) -> Tenant | None:
        if not is_well_formed_key(key):
            return None
        with unavailable(_STORE):
            doc = read_doc(self.container, "key", global_partition("key", hash_key(key)))
        return None if doc is None or doc.get("revoked_at") is not None else _owner(doc)

    # -- Entra ID principals ------------------------------------------------------------
    def map_principal(self, principal_id: str, tenant_id: str) -> None:
        principal = canonical_principal(principal_id)
        if not principal:
            raise ValueError("principal id must not be blank")
        with unavailable(_STORE):
            tenant = self._tenant(tenant_id)
            # A whole-document replace that depends on nothing read: last mapping wins, as in SQLite.
            self.container.upsert_item(
                {
                    "id": "principal",
                    "tenant_id": global_partition("principal", principal),
                    "owner": tenant.id,
                    "owner_name": tenant.name,
                    "owner_created_at": tenant.created_at,
                }
            )
        _log.info("principal mapped to tenant %s", tenant_id)

    def tenant_for_principal(self, principal_id: str) -> Tenant | None:
        principal = canonical_principal(principal_id)
        if not principal:
            return None
        with unavailable(_STORE):
            doc = read_doc(self.container, "principal", global_partition("principal", principal))
        return None if doc is None else _owner(doc)

    # -- run index ----------------------------------------------------------------------
    def record_run(
        self, tenant_id: str, run_id: str, graph_name: str, *, created_at: str | None = None
    ) -> None:
        wanted = {"owner": tenant_id, "graph_name": graph_name, "created_at": created_at or _now()}

        def claim(doc: dict[str, Any] | None) -> dict[str, Any] | None:
            if doc is None:
                return wanted
            # A retried start is fine; handing a run to another tenant never is.
            if doc["owner"] != tenant_id:
                raise ValueError(f"run {run_id!r} belongs to another tenant")
            return None

        with unavailable(_STORE):
            self._tenant(tenant_id)
            # The claim first (a create, or 409 and a fresh read): one owner whatever the race.
            owned = cas_update(self.container, "run", global_partition("run", run_id), claim)
            assert owned is not None  # claim() never leaves a missing document missing
            # Then the tenant's listing; a retried start finds it (409) or repairs a lost one.
            stamp = owned["created_at"]
            create_doc(
                self.container,
                {
                    "id": safe_id("run", run_id),
                    "tenant_id": tenant_id,
                    "type": "run",
                    "run_id": run_id,
                    "graph_name": owned["graph_name"],
                    "created_at": stamp,
                    # One sortable field (no composite index needed): the start, then the later recorded.
                    "sort": f"{stamp}|{time.time_ns():020d}",
                },
            )

    def forget_run(self, run_id: str) -> None:
        partition = global_partition("run", run_id)
        with unavailable(_STORE):
            doc = read_doc(self.container, "run", partition)
            if doc is None:
                return
            # Listing first, so a run is never listed without an owner.
            delete_doc(self.container, safe_id("run", run_id), doc["owner"])
            delete_doc(self.container, "run", partition)

    def owner_of(self, run_id: str) -> str | None:
        with unavailable(_STORE):
            doc = read_doc(self.container, "run", global_partition("run", run_id))
        return None if doc is None else str(doc["owner"])

    def run(self, run_id: str) -> RunRecord | None:
        with unavailable(_STORE):
            doc = read_doc(self.container, "run", global_partition("run", run_id))
        return None if doc is None else RunRecord(run_id, doc["owner"], doc["graph_name"], doc["created_at"])

    def list_runs(self, tenant_id: str, *, limit: int = 50, offset: int = 0) -> list[RunRecord]:
        check_page(limit, offset)
        # TOP, not OFFSET/LIMIT: the emulator parses only TOP, and pages here are shallow.
        sql = (
            "SELECT TOP @n c.run_id, c.graph_name, c.created_at FROM c"
            " WHERE c.tenant_id = @pk AND c.type = 'run' ORDER BY c.sort DESC"
        )
        with unavailable(_STORE):
            docs = query_docs(self.container, tenant_id, sql, n=offset + limit)
        return [RunRecord(d["run_id"], tenant_id, d["graph_name"], d["created_at"]) for d in docs[offset:]]

    def count_runs(self, tenant_id: str) -> int:
        sql = "SELECT VALUE COUNT(1) FROM c WHERE c.tenant_id = @pk AND c.type = 'run'"
        with unavailable(_STORE):
            counts = query_docs(self.container, tenant_id, sql)
        return int(counts[0]) if counts else 0

    def runs_between(
        self, tenant_id: str, *, since: str = "", before: str, limit: int, offset: int = 0
    ) -> list[RunRecord]:
        check_page(limit, offset)
        sql = (
            "SELECT TOP @n c.run_id, c.graph_name, c.created_at FROM c WHERE c.tenant_id = @pk"
            " AND c.type = 'run' AND c.created_at >= @since AND c.created_at < @before ORDER BY c.sort"
        )
        with unavailable(_STORE):
            docs = query_docs(self.container, tenant_id, sql, n=offset + limit, since=since, before=before)
        return [RunRecord(d["run_id"], tenant_id, d["graph_name"], d["created_at"]) for d in docs[offset:]]

    # -- tenant records -----------------------------------------------------------------
    def records(self, kind: str) -> CosmosTenantRecords:
        return CosmosTenantRecords(self, check_kind(kind))


class CosmosTenantRecords:
    """One family of tenant records, as documents in the tenant's partition of ``tenants``."""

    def __init__(self, store: CosmosTenantStore, kind: str) -> None:
        self._store = store
        self.kind = kind

    def __repr__(self) -> str:
        return f"CosmosTenantRecords({self._store!r}, {self.kind!r})"

    def put(self, tenant_id: str, name: str, body: Mapping[str, Any]) -> None:
        with unavailable(_STORE):
            self._store._tenant(tenant_id)
            # The whole record is replaced; nothing read goes into it, so no ETag is needed.
            self._store.container.upsert_item(
                {
                    "id": safe_id(self.kind, name),
                    "tenant_id": tenant_id,
                    "type": self.kind,
                    "name": name,
                    "body": dict(body),
                }
            )

    def create(self, tenant_id: str, name: str, body: Mapping[str, Any]) -> bool:
        with unavailable(_STORE):
            self._store._tenant(tenant_id)
            # A create: 409 when the record exists, whichever instance made it.
            return create_doc(
                self._store.container,
                {
                    "id": safe_id(self.kind, name),
                    "tenant_id": tenant_id,
                    "type": self.kind,
                    "name": name,
                    "body": dict(body),
                },
            )

    def get(self, tenant_id: str, name: str) -> dict[str, Any] | None:
        with unavailable(_STORE):
            doc = read_doc(self._store.container, safe_id(self.kind, name), tenant_id)
        return None if doc is None or doc.get("type") != self.kind else dict(doc["body"])

    def list(self, tenant_id: str) -> list[dict[str, Any]]:
        sql = "SELECT c.name, c.body FROM c WHERE c.tenant_id = @pk AND c.type = @kind"
        with unavailable(_STORE):
            docs = query_docs(self._store.container, tenant_id, sql, kind=self.kind)
        return [dict(d["body"]) for d in sorted(docs, key=lambda d: str(d["name"]))]

    def delete(self, tenant_id: str, name: str) -> bool:
        with unavailable(_STORE):
            return delete_doc(self._store.container, safe_id(self.kind, name), tenant_id)
