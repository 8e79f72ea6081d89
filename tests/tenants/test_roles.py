"""Roles on keys and principals: the contract both adapters keep, and what each role may do."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from convergio.tenants import (
    ROLE_PERMISSIONS,
    Caller,
    Permission,
    Role,
    SqliteTenantStore,
    TenantStore,
    credential_of,
    parse_role,
)
from tests.tenants._backends import OpenStore

OID = "6f1c2a3b-0000-4000-8000-0123456789ab"


def test_the_first_key_of_a_tenant_is_an_admin_key(store: TenantStore) -> None:
    tenant, key = store.add_tenant("Roles School")
    found = store.identify(key)
    assert found is not None
    assert found.tenant == tenant and found.role is Role.ADMIN and found.member == ""
    assert found.subject.startswith("key:")


def test_a_key_carries_its_role_and_member_on_every_instance(open_store: OpenStore) -> None:
    a, b = open_store(), open_store()
    tenant, _ = a.add_tenant("Roles School")
    teacher = a.issue_key(tenant.id, label="maths", role=Role.TEACHER, member="ada")
    student = a.issue_key(tenant.id, label="pupil", role=Role.STUDENT)
    seen_teacher, seen_student = b.identify(teacher), b.identify(student)
    assert seen_teacher is not None and seen_student is not None
    assert (seen_teacher.role, seen_teacher.member, seen_teacher.subject) == (
        Role.TEACHER,
        "ada",
        "member:ada",
    )
    assert seen_student.role is Role.STUDENT and seen_student.subject.startswith("key:")
    # Two keys of one member act as one subject; two member-less keys do not.
    second = a.issue_key(tenant.id, role=Role.TEACHER, member="ada")
    assert b.identify(second).subject == "member:ada"  # type: ignore[union-attr]
    other = a.issue_key(tenant.id, role=Role.STUDENT)
    assert b.identify(other).subject != seen_student.subject  # type: ignore[union-attr]


def test_keys_are_listed_by_id_without_the_key_and_revoked_one_by_one(open_store: OpenStore) -> None:
    a, b = open_store(), open_store()
    tenant, first = a.add_tenant("Roles School")
    teacher = a.issue_key(tenant.id, label="maths", role=Role.TEACHER, member="ada")
    listed = b.list_keys(tenant.id)
    assert [(k.label, k.role, k.member) for k in listed] == [
        ("initial", Role.ADMIN, ""),
        ("maths", Role.TEACHER, "ada"),
    ]
    assert all(len(k.id) == 16 and k.id not in (first, teacher) and k.revoked_at is None for k in listed)
    assert not any(k.id in first or k.id in teacher for k in listed)  # no part of a key is shown
    assert b.revoke_key(tenant.id, listed[1].id) is True
    assert a.identify(teacher) is None and a.identify(first) is not None
    assert b.revoke_key(tenant.id, listed[1].id) is False  # already revoked
    assert b.list_keys(tenant.id)[1].revoked_at is not None


def test_a_key_id_of_another_tenant_revokes_nothing(store: TenantStore) -> None:
    school, _ = store.add_tenant("School One")
    other, other_key = store.add_tenant("School Two")
    other_id = store.list_keys(other.id)[0].id
    assert store.revoke_key(school.id, other_id) is False
    assert store.revoke_key(school.id, "not-an-id") is False
    assert store.identify(other_key) is not None


def test_revoking_a_member_revokes_only_their_keys(store: TenantStore) -> None:
    tenant, admin = store.add_tenant("Roles School")
    ada1 = store.issue_key(tenant.id, role=Role.TEACHER, member="ada")
    ada2 = store.issue_key(tenant.id, role=Role.TEACHER, member="ada")
    bob = store.issue_key(tenant.id, role=Role.TEACHER, member="bob")
    assert store.revoke_keys(tenant.id, member="ada") == 2
    assert store.identify(ada1) is None and store.identify(ada2) is None
    assert store.identify(bob) is not None and store.identify(admin) is not None


def test_a_principal_carries_its_role_and_can_be_unmapped(open_store: OpenStore) -> None:
    a, b = open_store(), open_store()
    tenant, _ = a.add_tenant("Roles School")
    other, _ = a.add_tenant("Other School")
    a.map_principal(OID.upper(), tenant.id, role=Role.TEACHER, member="ada")
    found = b.principal(OID)
    assert found is not None
    assert (found.tenant.id, found.role, found.subject) == (tenant.id, Role.TEACHER, "member:ada")
    assert b.unmap_principal(OID, other.id) is False  # another tenant cannot remove it
    assert b.principal(OID) is not None
    assert b.unmap_principal(OID, tenant.id) is True
    assert a.principal(OID) is None and a.tenant_for_principal(OID) is None
    a.map_principal(OID, tenant.id)
    assert a.principal(OID).role is Role.ADMIN  # type: ignore[union-attr]
    assert b.principal(OID).subject == f"principal:{OID}"  # type: ignore[union-attr]


def test_headers_give_the_credential_with_its_role(store: TenantStore) -> None:
    tenant, _ = store.add_tenant("Roles School")
    key = store.issue_key(tenant.id, role=Role.STUDENT)
    found = credential_of({"X-Api-Key": key}, store)
    assert found is not None and found.role is Role.STUDENT
    store.map_principal(OID, tenant.id, role=Role.TEACHER)
    by_principal = credential_of({"X-MS-CLIENT-PRINCIPAL-ID": OID}, store, trust_principal_headers=True)
    assert by_principal is not None and by_principal.role is Role.TEACHER
    assert credential_of({"X-MS-CLIENT-PRINCIPAL-ID": OID}, store) is None  # not trusted: ignored


def test_a_store_made_before_roles_keeps_its_keys_as_admin_keys(tmp_path: Path) -> None:
    path = tmp_path / "tenants.sqlite3"
    store = SqliteTenantStore(path)
    tenant, key = store.add_tenant("Old School")
    store.map_principal(OID, tenant.id)
    with sqlite3.connect(path) as db:  # what a file of the previous release looks like
        for table in ("api_keys", "principals"):
            db.execute(f"ALTER TABLE {table} DROP COLUMN role")
            db.execute(f"ALTER TABLE {table} DROP COLUMN member")
    reopened = SqliteTenantStore(path)
    found, mapped = reopened.identify(key), reopened.principal(OID)
    assert found is not None and found.role is Role.ADMIN
    assert mapped is not None and mapped.role is Role.ADMIN
    assert reopened.identify(reopened.issue_key(tenant.id, role=Role.STUDENT)).role is Role.STUDENT  # type: ignore[union-attr]


@pytest.mark.parametrize("text", ["", "owner", "Admins", None, 3])
def test_an_unknown_role_is_refused_by_name(text: object) -> None:
    with pytest.raises(ValueError, match="admin, teacher, student"):
        parse_role(text)


def test_what_each_role_may_do() -> None:
    assert ROLE_PERMISSIONS[Role.ADMIN] == frozenset(Permission)
    teacher, student = ROLE_PERMISSIONS[Role.TEACHER], ROLE_PERMISSIONS[Role.STUDENT]
    assert Permission.ADMIN not in teacher and Permission.RESPOND in teacher
    assert student == {Permission.START_RUNS, Permission.READ_OWN_RUNS, Permission.READ_GRAPHS}
    assert parse_role(" Teacher ") is Role.TEACHER


def test_a_caller_is_made_from_a_credential(store: TenantStore) -> None:
    tenant, _ = store.add_tenant("Roles School")
    found = store.identify(store.issue_key(tenant.id, role=Role.TEACHER, member="ada"))
    assert found is not None
    caller = Caller.of(found)
    assert caller.may(Permission.RESPOND) and not caller.may(Permission.ADMIN)
    assert (caller.tenant, caller.subject, caller.member) == (tenant, "member:ada", "ada")
