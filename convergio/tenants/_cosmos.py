"""The shared tenant store: the control plane's ``tenants`` container (Cosmos DB, ``/tenant_id``).

Documents, by partition:

- ``~tenants:directory`` -- one per tenant (id = the tenant id). Creating it is the claim on
  the id: a second instance adding the same tenant gets 409, hence :class:`TenantExists`.
  Listing tenants is one query in this one partition.
- ``~installation:claim`` -- the installation's claim (ADR 0022), created once: the first
  instance to create it wins, every other gets 409.
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
from convergio.tenants._keys import hash_key, is_well_formed_key, key_id, new_key, tenant_id_for
from convergio.tenants._models import Tenant, TenantExists, UnknownTenant
from convergio.tenants._roles import Credential, KeyInfo, Role, subject_of
from convergio.tenants._runs_cosmos import CosmosRunIndex
from convergio.tenants._store import _now, canonical_principal, check_kind

if TYPE_CHECKING:
    from convergio.controlplane import CosmosPlane

__all__ = ["CONTAINER", "CosmosTenantRecords", "CosmosTenantStore"]

CONTAINER: Final = "tenants"
_STORE: Final = "tenant"
_DIRECTORY: Final = global_partition("tenants", "directory")
_CLAIM: Final = global_partition("installation", "claim")
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


def _credential(doc: Mapping[str, Any], fallback: str) -> Credential:
    # Documents written before roles existed have none: they could do everything, so admin.
    member = str(doc.get("member") or "")
    return Credential(_owner(doc), Role(doc.get("role") or Role.ADMIN), member, subject_of(member, fallback))


class CosmosTenantStore(CosmosRunIndex):
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
    def _issue(self, tenant: Tenant, label: str, role: Role = Role.ADMIN, member: str = "") -> str:
        key = new_key()
        digest = hash_key(key)
        issued = _now()
        grant = {"role": Role(role).value, "member": member}
        # The tenant's listing first: a key that exists only there cannot authenticate, while a
        # key that existed only globally would authenticate and escape revoke_keys.
        listing = {"type": "key", "digest": digest, "label": label, "issued_at": issued, "revoked_at": None}
        listing |= grant
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
                **grant,
            }
        )
        return key

    def issue_key(self, tenant_id: str, *, label: str = "", role: Role = Role.ADMIN, member: str = "") -> str:
        with unavailable(_STORE):
            key = self._issue(self._tenant(tenant_id), label, role, member)
        _log.info("key issued for tenant %s (label %r, role %s)", tenant_id, label, Role(role).value)
        return key

    def _key_listing(self, tenant_id: str) -> list[dict[str, Any]]:
        sql = "SELECT * FROM c WHERE c.tenant_id = @pk AND c.type = 'key'"
        return query_docs(self.container, tenant_id, sql)

    def _revoke_listed(self, tenant_id: str, listed: Mapping[str, Any]) -> bool:
        now = _now()
        # The global document decides (authenticate reads it): revoke it first, and count only
        # the keys this call revoked, not those a concurrent call did.
        done = _revoke(self.container, "key", global_partition("key", listed["digest"]), now)
        _revoke(self.container, listed["id"], tenant_id, now)
        return done

    def revoke_keys(self, tenant_id: str, *, label: str | None = None, member: str | None = None) -> int:
        revoked = 0
        with unavailable(_STORE):
            self._tenant(tenant_id)
            for listed in self._key_listing(tenant_id):
                if listed.get("revoked_at") is not None:
                    continue
                if label is not None and listed["label"] != label:
                    continue
                if member is not None and (listed.get("member") or "") != member:
                    continue
                revoked += self._revoke_listed(tenant_id, listed)
        _log.info("%d key(s) revoked for tenant %s", revoked, tenant_id)
        return revoked

    def revoke_key(self, tenant_id: str, key_id_: str) -> bool:
        with unavailable(_STORE):
            for listed in self._key_listing(tenant_id):
                if key_id(listed["digest"]) == key_id_ and listed.get("revoked_at") is None:
                    revoked = self._revoke_listed(tenant_id, listed)
                    _log.info("key %s of tenant %s revoked: %s", key_id_, tenant_id, revoked)
                    return revoked
        return False

    def list_keys(self, tenant_id: str) -> list[KeyInfo]:
        with unavailable(_STORE):
            listed = self._key_listing(tenant_id)
        keys = [
            KeyInfo(
                key_id(doc["digest"]),
                doc["label"],
                Role(doc.get("role") or Role.ADMIN),
                str(doc.get("member") or ""),
                doc["issued_at"],
                doc.get("revoked_at"),
            )
            for doc in listed
        ]
        return sorted(keys, key=lambda k: (k.issued_at, k.id))

    def identify(self, key: str) -> Credential | None:
        if not is_well_formed_key(key):
            return None
        digest = hash_key(key)
        with unavailable(_STORE):
            doc = read_doc(self.container, "key", global_partition("key", digest))
        if doc is None or doc.get("revoked_at") is not None:
            return None
        return _credential(doc, f"key:{key_id(digest)}")

    def authenticate(self, key: str) -> Tenant | None:
        found = self.identify(key)
        return None if found is None else found.tenant

    # -- Entra ID principals ------------------------------------------------------------
    def map_principal(
        self, principal_id: str, tenant_id: str, *, role: Role = Role.ADMIN, member: str = ""
    ) -> None:
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
                    "role": Role(role).value,
                    "member": member,
                }
            )
        _log.info("principal mapped to tenant %s as %s", tenant_id, Role(role).value)

    def unmap_principal(self, principal_id: str, tenant_id: str) -> bool:
        principal = canonical_principal(principal_id)
        partition = global_partition("principal", principal)
        with unavailable(_STORE):
            doc = read_doc(self.container, "principal", partition)
            if doc is None or doc["owner"] != tenant_id:
                return False
            return delete_doc(self.container, "principal", partition)

    def principal(self, principal_id: str) -> Credential | None:
        principal = canonical_principal(principal_id)
        if not principal:
            return None
        with unavailable(_STORE):
            doc = read_doc(self.container, "principal", global_partition("principal", principal))
        return None if doc is None else _credential(doc, f"principal:{principal}")

    def tenant_for_principal(self, principal_id: str) -> Tenant | None:
        found = self.principal(principal_id)
        return None if found is None else found.tenant

    # -- the installation's claim (ADR 0022) ---------------------------------------------
    def claim_installation(self, tenant_id: str, member_id: str) -> bool:
        body = {
            "id": "installation",
            "tenant_id": _CLAIM,
            "home_tenant": tenant_id,
            "member_id": member_id,
            "claimed_at": _now(),
        }
        with unavailable(_STORE):
            won = create_doc(self.container, body)  # 409 for every instance but the first
        _log.info("installation claimed for tenant %s: %s", tenant_id, won)
        return won

    def installation_claim(self) -> dict[str, str] | None:
        with unavailable(_STORE):
            doc = read_doc(self.container, "installation", _CLAIM)
        if doc is None:
            return None
        return {
            "tenant_id": doc["home_tenant"],
            "member_id": doc["member_id"],
            "claimed_at": doc["claimed_at"],
        }

    # -- run index: CosmosRunIndex (_runs_cosmos.py) --------------------------------------

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

    def items(self, tenant_id: str) -> list[tuple[str, dict[str, Any]]]:
        sql = "SELECT c.name, c.body FROM c WHERE c.tenant_id = @pk AND c.type = @kind"
        with unavailable(_STORE):
            docs = query_docs(self._store.container, tenant_id, sql, kind=self.kind)
        return sorted(((str(d["name"]), dict(d["body"])) for d in docs), key=lambda item: item[0])

    def list(self, tenant_id: str) -> list[dict[str, Any]]:
        return [body for _, body in self.items(tenant_id)]

    def delete(self, tenant_id: str, name: str) -> bool:
        with unavailable(_STORE):
            return delete_doc(self._store.container, safe_id(self.kind, name), tenant_id)

    def delete_if(self, tenant_id: str, name: str, body: Mapping[str, Any]) -> bool:
        doc_id = safe_id(self.kind, name)
        with unavailable(_STORE):
            doc = read_doc(self._store.container, doc_id, tenant_id)
            if doc is None or doc.get("type") != self.kind or doc.get("body") != dict(body):
                return False
            # The read's ETag: a put in between changed it and the delete is refused (412).
            return delete_doc(self._store.container, doc_id, tenant_id, etag=str(doc["_etag"]))
