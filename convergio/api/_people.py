"""Members of a tenant, and new tenants with their first admin (the claim, tenants and members routes).

A member is a record of the tenant (kind ``members``, ADR 0022) plus one credential carrying the
member's id and role: an API key (shown once) or a mapped Entra principal. The record is written
first, the credential second, so a crash in between leaves a member without a credential (listed,
removable), never a credential nobody can see or revoke. Removing a member goes the other way:
credentials first, the record last, so a retry after a crash finishes the job.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from typing import Any

from convergio.errors import Conflict, NotFound
from convergio.tenants import Role, Tenant, TenantStore, key_id_of

from . import _people_models as pm

__all__ = ["MEMBERS", "add_member", "create_tenant", "member_view", "remove_member"]

MEMBERS = "members"
"""The tenant record kind of members."""


def member_view(body: dict[str, Any]) -> pm.MemberView:
    return pm.MemberView.model_validate(body)


def add_member(
    store: TenantStore,
    tenant_id: str,
    name: str,
    role: Role,
    *,
    principal_id: str | None = None,
    member_id: str = "",
) -> tuple[pm.MemberView, str | None]:
    """Record a member and give them a credential: a key (returned, shown once) or a principal mapping.

    Raises:
        Conflict: the principal is already mapped (to another tenant, or to another member here):
            mapping it again would silently move that person, so it is refused.
    """
    if principal_id is not None:
        mapped = store.principal(principal_id)
        if mapped is not None:
            raise Conflict(
                "this principal is already mapped to a member or a tenant: remove that mapping first",
                details=[{"path": "principal_id", "message": "already mapped"}],
            )
    member_id = member_id or secrets.token_hex(6)
    member = {
        "id": member_id,
        "name": name,
        "role": Role(role).value,
        "principal_id": principal_id,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    if not store.records(MEMBERS).create(tenant_id, member_id, member):
        raise Conflict(f"a member {member_id!r} already exists")  # 48 random bits: a retried request
    if principal_id is not None:
        store.map_principal(principal_id, tenant_id, role=Role(role), member=member_id)
        return member_view(member), None
    key = store.issue_key(tenant_id, label=name, role=Role(role), member=member_id)
    return member_view(member), key


def remove_member(store: TenantStore, tenant_id: str, member_id: str, *, caller_member: str) -> int:
    """Revoke a member's keys, unmap their principal, forget them; how many keys were revoked.

    Raises:
        NotFound: the tenant has no such member.
        Conflict: the caller removing themselves (the last admin would lock the tenant out).
    """
    records = store.records(MEMBERS)
    member = records.get(tenant_id, member_id)
    if member is None:
        raise NotFound(f"no member {member_id!r}")
    if member_id == caller_member:
        raise Conflict("you cannot remove yourself: another admin of the tenant may")
    revoked = store.revoke_keys(tenant_id, member=member_id)
    principal = member.get("principal_id")
    if principal:
        store.unmap_principal(str(principal), tenant_id)
    records.delete(tenant_id, member_id)
    return revoked


def create_tenant(
    store: TenantStore, name: str, admin_name: str, *, member_id: str = ""
) -> tuple[Tenant, pm.MemberView, str]:
    """A new tenant with its first admin member and that member's key (the only live key).

    The store's own first key (``initial``, with no member) is revoked once the admin's key
    exists: every credential of the tenant then belongs to a member, whom removing revokes.

    Raises:
        TenantExists: a tenant with the same id exists.
    """
    tenant, initial = store.add_tenant(name)
    member, key = add_member(store, tenant.id, admin_name, Role.ADMIN, member_id=member_id)
    assert key is not None  # no principal: a key
    store.revoke_key(tenant.id, key_id_of(initial))
    return tenant, member, key
