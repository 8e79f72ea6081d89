"""Members, API keys and the budget of a tenant, as its admins manage them (ADR 0022), on the real app."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from convergio.tenants import Role, open_tenant_store
from tests._helpers import HostProcess
from tests.api.conftest import Api, new_key

OID = "0a1b2c3d-4e5f-4a6b-8c7d-0123456789ab"


@pytest.fixture(scope="module")
def admin(api_host: HostProcess, api_home: Path) -> Iterator[Api]:
    with Api(api_host.base_url, new_key(api_home, "Members School")) as api:
        yield api


def as_key(api_host: HostProcess, key: str) -> Api:
    return Api(api_host.base_url, key)


def refused(answer: Any, role: str) -> None:
    assert answer.status_code == 403, answer.text
    error = answer.json()["error"]
    assert error["code"] == "forbidden" and f"the {role} role may not" in error["message"]


def test_an_invited_member_gets_a_key_shown_once_and_listed_without_it(
    admin: Api, api_host: HostProcess
) -> None:
    made = admin.http.post("/tenants/me/members", json={"name": " Ada Lovelace ", "role": "teacher"})
    assert made.status_code == 201, made.text
    member, key = made.json()["member"], made.json()["key"]
    assert member["name"] == "Ada Lovelace" and member["role"] == "teacher" and member["principal_id"] is None
    with as_key(api_host, key) as ada:
        me = ada.http.get("/me").json()
        assert (me["role"], me["subject"], me["member"]["id"]) == (
            "teacher",
            f"member:{member['id']}",
            member["id"],
        )
        assert "manage the tenant" not in me["permissions"] and "start runs" in me["permissions"]
        refused(ada.http.get("/tenants/me/members"), "teacher")
        refused(ada.http.post("/tenants/me/keys", json={"role": "admin"}), "teacher")

    members = admin.http.get("/tenants/me/members")
    assert members.status_code == 200
    assert member in members.json()["members"]
    keys = admin.http.get("/tenants/me/keys")
    assert keys.status_code == 200 and key not in keys.text and key[4:20] not in keys.text
    mine = [k for k in keys.json()["keys"] if k["member"] == member["id"]]
    assert [(k["role"], k["label"], k["revoked_at"]) for k in mine] == [("teacher", "Ada Lovelace", None)]

    removed = admin.http.delete(f"/tenants/me/members/{member['id']}")
    assert removed.status_code == 200 and removed.json()["keys_revoked"] == 1
    with as_key(api_host, key) as ada:
        assert ada.http.get("/me").status_code == 401
    assert member not in admin.http.get("/tenants/me/members").json()["members"]
    assert admin.http.delete(f"/tenants/me/members/{member['id']}").status_code == 404


def test_keys_are_issued_with_a_role_shown_once_and_a_revoked_key_is_refused(
    admin: Api, api_host: HostProcess
) -> None:
    made = admin.http.post("/tenants/me/keys", json={"label": "pupil tablet", "role": "student"})
    assert made.status_code == 201, made.text
    created = made.json()
    assert created["role"] == "student" and created["label"] == "pupil tablet" and len(created["id"]) == 16
    assert created["key"].startswith("cvg_") and created["id"] not in created["key"]
    listed = admin.http.get("/tenants/me/keys").json()["keys"]
    assert {k["id"]: k for k in listed}[created["id"]] == {k: v for k, v in created.items() if k != "key"}
    with as_key(api_host, created["key"]) as pupil:
        assert pupil.http.get("/me").json()["role"] == "student"
        assert admin.http.delete(f"/tenants/me/keys/{created['id']}").status_code == 200
        gone = pupil.http.get("/me")
        assert gone.status_code == 401 and gone.json()["error"]["code"] == "unauthorized"
    assert admin.http.delete(f"/tenants/me/keys/{created['id']}").status_code == 404  # already revoked
    revoked = {k["id"]: k for k in admin.http.get("/tenants/me/keys").json()["keys"]}[created["id"]]
    assert revoked["revoked_at"] is not None

    own_id = next(k["id"] for k in listed if k["label"] == "initial")
    own = admin.http.delete(f"/tenants/me/keys/{own_id}")
    assert own.status_code == 409 and "this request came with" in own.json()["error"]["message"]
    bad = admin.http.post("/tenants/me/keys", json={"label": "x", "role": "owner"})
    assert bad.status_code == 400 and bad.json()["error"]["details"][0]["path"] == "role"
    ghost = admin.http.post("/tenants/me/keys", json={"role": "teacher", "member": "nobody"})
    assert ghost.status_code == 400 and ghost.json()["error"]["details"][0]["path"] == "member"


def test_a_member_key_for_an_existing_member_carries_their_role(admin: Api, api_host: HostProcess) -> None:
    member = admin.http.post("/tenants/me/members", json={"name": "Bea", "role": "student"}).json()["member"]
    wrong = admin.http.post("/tenants/me/keys", json={"role": "teacher", "member": member["id"]})
    assert wrong.status_code == 400 and wrong.json()["error"]["details"][0]["path"] == "role"
    second = admin.http.post("/tenants/me/keys", json={"role": "student", "member": member["id"]})
    assert second.status_code == 201 and second.json()["member"] == member["id"]
    with as_key(api_host, second.json()["key"]) as bea:
        assert bea.http.get("/me").json()["subject"] == f"member:{member['id']}"
    assert admin.http.delete(f"/tenants/me/members/{member['id']}").json()["keys_revoked"] == 2


def test_a_member_with_a_principal_is_mapped_with_their_role_and_unmapped_on_removal(
    admin: Api, api_home: Path
) -> None:
    made = admin.http.post(
        "/tenants/me/members", json={"name": "Cy", "role": "teacher", "principal_id": OID.upper()}
    )
    assert made.status_code == 201, made.text
    assert "key" not in made.json() or made.json()["key"] is None
    store = open_tenant_store(api_home)
    mapped = store.principal(OID)
    assert mapped is not None and mapped.role is Role.TEACHER
    assert mapped.subject == f"member:{made.json()['member']['id']}"
    again = admin.http.post(
        "/tenants/me/members", json={"name": "Cy 2", "role": "admin", "principal_id": OID}
    )
    assert again.status_code == 409 and again.json()["error"]["details"][0]["path"] == "principal_id"
    assert store.principal(OID).role is Role.TEACHER  # type: ignore[union-attr]  # not moved, not promoted
    assert admin.http.delete(f"/tenants/me/members/{made.json()['member']['id']}").status_code == 200
    assert store.principal(OID) is None
    blank = admin.http.post(
        "/tenants/me/members", json={"name": "Dee", "role": "teacher", "principal_id": "  "}
    )
    assert blank.status_code == 400 and blank.json()["error"]["details"][0]["path"] == "principal_id"


def test_only_an_admin_sets_the_budget_and_a_refused_teacher_changes_nothing(
    admin: Api, api_host: HostProcess
) -> None:
    limits = {"monthly_eur": "120.50", "managed_enabled": True, "managed_cap_eur": "30"}
    put = admin.http.put("/tenants/me/budget", json=limits)
    assert put.status_code == 200, put.text
    assert (put.json()["monthly_eur"], put.json()["managed_enabled"], put.json()["managed_cap_eur"]) == (
        "120.50",
        True,
        "30",
    )
    teacher_key = admin.http.post("/tenants/me/keys", json={"label": "t", "role": "teacher"}).json()["key"]
    with as_key(api_host, teacher_key) as teacher:
        refused(teacher.http.put("/tenants/me/budget", json={**limits, "monthly_eur": "999"}), "teacher")
        refused(teacher.http.post("/tenants/me/overage-consent", json={"amount_eur": "10.00"}), "teacher")
        refused(teacher.http.get("/tenants/me/budget"), "teacher")
    seen = admin.http.get("/tenants/me/budget").json()
    assert (seen["monthly_eur"], seen["overage_consent_eur"]) == ("120.50", "0")
    bad = admin.http.put("/tenants/me/budget", json={**limits, "monthly_eur": "-1"})
    assert bad.status_code == 400 and bad.json()["error"]["details"][0]["path"] == "monthly_eur"
    unlimited = admin.http.put("/tenants/me/budget", json={"monthly_eur": None})
    assert unlimited.status_code == 200
    assert (unlimited.json()["monthly_eur"], unlimited.json()["managed_enabled"]) == (None, False)
