"""The tenant store's contract and header authentication, on both adapters (see conftest.py)."""

from __future__ import annotations

import base64
import json
import logging
import threading
from pathlib import Path

import pytest

import convergio.tenants
from convergio.controlplane import CosmosPlane
from convergio.tenants import (
    CosmosTenantStore,
    RunRecord,
    SqliteTenantStore,
    Tenant,
    TenantExists,
    TenantStore,
    UnknownTenant,
    authenticate_headers,
    open_tenant_store,
    tenant_id_for,
)
from tests.tenants._backends import OpenStore

OID_CLAIM = "http://schemas.microsoft.com/identity/claims/objectidentifier"
OID = "6f1c2a3b-0000-4000-8000-0123456789ab"


def principal_header(claims: list[dict[str, str]]) -> str:
    body = {"auth_typ": "aad", "claims": claims, "name_typ": "name", "role_typ": "roles"}
    return base64.b64encode(json.dumps(body).encode()).decode()


def test_public_surface_is_pinned() -> None:
    assert sorted(convergio.tenants.__all__) == [
        "Caller",
        "ConnectionRecord",
        "ConnectionRegistry",
        "CosmosTenantStore",
        "Credential",
        "FINISHED",
        "KeyInfo",
        "Permission",
        "ROLE_PERMISSIONS",
        "RUN_STATUSES",
        "Role",
        "RunRecord",
        "SetupCodeMissing",
        "SqliteTenantStore",
        "Tenant",
        "TenantExists",
        "TenantRecords",
        "TenantStore",
        "UnknownTenant",
        "authenticate_headers",
        "credential_of",
        "index_run_end",
        "key_id_of",
        "local_setup_code",
        "open_tenant_store",
        "parse_role",
        "setup_code",
        "setup_code_matches",
        "split_position",
        "tenant_id_for",
    ]


def test_open_tenant_store_creates_the_home_and_the_file(tmp_path: Path) -> None:
    store = open_tenant_store(tmp_path / "a" / "b")
    assert isinstance(store, SqliteTenantStore) and isinstance(store, TenantStore)
    assert (tmp_path / "a" / "b" / "tenants.sqlite3").is_file()


def test_open_tenant_store_with_a_control_plane_uses_it_and_no_file(
    tmp_path: Path, cosmos_plane: CosmosPlane
) -> None:
    store = open_tenant_store(tmp_path / "home", cosmos=cosmos_plane)
    assert isinstance(store, CosmosTenantStore) and isinstance(store, TenantStore)
    assert not (tmp_path / "home").exists()


# -- tenants and keys --------------------------------------------------------------------------
def test_a_new_tenant_authenticates_with_its_first_key(store: TenantStore) -> None:
    tenant, key = store.add_tenant("  Acme School ")
    assert tenant.id == "acme-school"
    assert tenant.name == "Acme School"
    assert tenant.created_at.endswith("+00:00")
    assert key.startswith("cvg_") and len(key) == 4 + 43
    assert store.authenticate(key) == tenant
    assert store.get("acme-school") == tenant
    assert store.list_tenants() == [tenant]


def test_each_tenant_gets_its_own_keys(store: TenantStore) -> None:
    acme, acme_key = store.add_tenant("Acme")
    beta, beta_key = store.add_tenant("Beta")
    extra = store.issue_key("beta", label="ci")
    assert len({acme_key, beta_key, extra}) == 3
    assert store.authenticate(acme_key) == acme
    assert store.authenticate(beta_key) == beta
    assert store.authenticate(extra) == beta
    assert [t.id for t in store.list_tenants()] == ["acme", "beta"]


@pytest.mark.parametrize(
    "key",
    [
        "",
        "cvg_",
        "not-a-key",
        "cvg_" + "A" * 42,  # one character short
        "cvg_" + "A" * 44,  # one character long
        "xyz_" + "A" * 43,  # wrong prefix
        "cvg_" + "A" * 42 + "=",  # outside the URL-safe alphabet
        "cvg_" + "é" * 43,  # not ASCII
    ],
)
def test_malformed_keys_do_not_authenticate(store: TenantStore, key: str) -> None:
    store.add_tenant("Acme")
    assert store.authenticate(key) is None


def test_a_well_formed_but_unknown_key_does_not_authenticate(store: TenantStore) -> None:
    _, key = store.add_tenant("Acme")
    forged = key[:-1] + ("A" if key[-1] != "A" else "B")
    assert store.authenticate(forged) is None


def test_revoked_keys_stop_working_and_others_keep_working(store: TenantStore) -> None:
    _, first = store.add_tenant("Acme")
    ci = store.issue_key("acme", label="ci")
    laptop = store.issue_key("acme", label="laptop")
    assert store.revoke_keys("acme", label="ci") == 1
    assert store.authenticate(ci) is None
    assert store.authenticate(first) is not None
    assert store.revoke_keys("acme", label="ci") == 0  # already revoked: not counted again
    assert store.revoke_keys("acme") == 2
    assert store.authenticate(first) is None
    assert store.authenticate(laptop) is None


def test_keys_for_unknown_tenants_are_refused(store: TenantStore) -> None:
    with pytest.raises(UnknownTenant, match="nobody"):
        store.issue_key("nobody")
    with pytest.raises(UnknownTenant):
        store.revoke_keys("nobody")


def test_a_duplicate_tenant_is_refused_and_keeps_the_first_one(store: TenantStore) -> None:
    tenant, key = store.add_tenant("Acme School")
    with pytest.raises(TenantExists, match="'acme-school' already exists") as caught:
        store.add_tenant("ACME  school!")
    assert isinstance(caught.value, ValueError)
    assert store.list_tenants() == [tenant]
    assert store.authenticate(key) == tenant


@pytest.mark.parametrize(
    ("name", "slug"),
    [
        ("Acme School", "acme-school"),
        ("  --Acme__School--  ", "acme-school"),
        ("École Élémentaire Nº 5", "ecole-elementaire-no-5"),
        ("ACME", "acme"),
        ("a", "a"),
        ("x" * 100, "x" * 63),
        ("a" * 62 + " b", "a" * 62),  # cut at 63 would end in "-": trimmed
        ("9", "9"),
    ],
)
def test_tenant_ids_are_lowercase_slugs(name: str, slug: str) -> None:
    assert tenant_id_for(name) == slug


@pytest.mark.parametrize("name", ["!!!", "---", "日本語", "   "])
def test_names_without_letters_or_digits_are_refused(store: TenantStore, name: str) -> None:
    with pytest.raises(ValueError, match="tenant name"):
        store.add_tenant(name)
    assert store.list_tenants() == []


def _stored_bytes(store: TenantStore) -> bytes:
    """Everything the store holds: its files, or every document of its container."""
    if isinstance(store, SqliteTenantStore):
        return b"".join(p.read_bytes() for p in store.path.parent.iterdir() if p.name.startswith("tenants"))
    assert isinstance(store, CosmosTenantStore)
    return json.dumps(list(store.container.read_all_items())).encode()


def test_the_plain_key_is_never_stored_logged_or_shown(
    store: TenantStore, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    tenant, key = store.add_tenant("Acme")
    extra = store.issue_key("acme", label="ci")
    raw = _stored_bytes(store)
    assert b"acme" in raw  # the store holds data...
    for secret in (key, extra):
        assert secret.encode() not in raw  # ...but not the key
        assert secret[4:].encode() not in raw  # nor its random part
        assert secret not in caplog.text
        assert secret not in repr(tenant) and secret not in repr(store)


def test_two_store_instances_see_each_others_writes_at_once(open_store: OpenStore) -> None:
    host, cli = open_store(), open_store()
    assert host.list_tenants() == []
    tenant, key = cli.add_tenant("Acme")
    assert host.authenticate(key) == tenant  # nothing cached on the host side
    extra = cli.issue_key("acme")
    assert host.authenticate(extra) == tenant
    cli.revoke_keys("acme")
    assert host.authenticate(key) is None
    host.record_run("acme", "run-1", "essay", created_at="2026-01-02T03:04:05.000000+00:00")
    assert cli.owner_of("run-1") == "acme"
    record = cli.run("run-1")
    assert record is not None and (record.tenant_id, record.graph_name) == ("acme", "essay")
    assert record.created_at == "2026-01-02T03:04:05.000000+00:00" and cli.run("run-2") is None


def test_concurrent_writers_from_many_threads_all_succeed(store: TenantStore, backend: str) -> None:
    rounds = 10 if backend == "sqlite" else 2  # an emulator call takes ~30 ms
    store.add_tenant("Acme")
    keys: list[str] = []
    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            for i in range(rounds):
                keys.append(store.issue_key("acme", label=f"t{n}"))
                store.record_run("acme", f"run-{n}-{i}", "g")
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(set(keys)) == 8 * rounds
    assert all(store.authenticate(k) is not None for k in keys)
    assert store.count_runs("acme") == 8 * rounds


# -- principals ----------------------------------------------------------------------------------
def test_principals_map_to_tenants_and_can_be_remapped(store: TenantStore) -> None:
    acme, _ = store.add_tenant("Acme")
    beta, _ = store.add_tenant("Beta")
    assert store.tenant_for_principal(OID) is None
    store.map_principal(OID.upper(), "acme")  # a GUID is matched whatever its case
    assert store.tenant_for_principal(OID) == acme
    store.map_principal(OID, "beta")
    assert store.tenant_for_principal(OID.upper()) == beta
    with pytest.raises(UnknownTenant):
        store.map_principal(OID, "nobody")
    with pytest.raises(ValueError, match="blank"):
        store.map_principal("  ", "acme")


def test_non_guid_principals_are_matched_exactly(store: TenantStore) -> None:
    acme, _ = store.add_tenant("Acme")
    store.map_principal("GitHubUser42", "acme")
    assert store.tenant_for_principal("GitHubUser42") == acme
    assert store.tenant_for_principal("githubuser42") is None


# -- header authentication -----------------------------------------------------------------------
def test_api_key_header_is_found_whatever_its_case(store: TenantStore) -> None:
    tenant, key = store.add_tenant("Acme")
    for name in ("x-api-key", "X-API-Key", "X-Api-Key"):
        assert authenticate_headers({name: key}, store) == tenant
    assert authenticate_headers({"x-api-key": key + "x"}, store) is None
    assert authenticate_headers({}, store) is None
    assert authenticate_headers({"Authorization": f"Bearer {key}"}, store) is None


def test_principal_headers_are_ignored_unless_trusted(store: TenantStore) -> None:
    acme, _ = store.add_tenant("Acme")
    store.map_principal(OID, "acme")
    headers = {
        "X-MS-CLIENT-PRINCIPAL": principal_header([{"typ": OID_CLAIM, "val": OID}]),
        "X-MS-CLIENT-PRINCIPAL-ID": OID,
    }
    assert authenticate_headers(headers, store) is None
    assert authenticate_headers(headers, store, trust_principal_headers=False) is None
    assert authenticate_headers(headers, store, trust_principal_headers=True) == acme


@pytest.mark.parametrize("claim_type", [OID_CLAIM, "oid"])
def test_the_object_id_claim_of_the_principal_header_picks_the_tenant(
    store: TenantStore, claim_type: str
) -> None:
    store.add_tenant("Acme")
    beta, _ = store.add_tenant("Beta")
    store.map_principal(OID, "beta")
    claims = [{"typ": "name", "val": "Ada"}, {"typ": claim_type, "val": OID}]
    # The blob wins over the ID header: the claim maps to beta, the ID header to nobody.
    headers = {"x-ms-client-principal": principal_header(claims), "x-ms-client-principal-id": "other"}
    assert authenticate_headers(headers, store, trust_principal_headers=True) == beta


def test_the_principal_id_header_is_used_without_an_object_id_claim(store: TenantStore) -> None:
    acme, _ = store.add_tenant("Acme")
    store.map_principal(OID, "acme")
    only_id = {"X-MS-CLIENT-PRINCIPAL-ID": OID}
    assert authenticate_headers(only_id, store, trust_principal_headers=True) == acme
    no_oid = {**only_id, "X-MS-CLIENT-PRINCIPAL": principal_header([{"typ": "name", "val": "Ada"}])}
    assert authenticate_headers(no_oid, store, trust_principal_headers=True) == acme
    unmapped = {"X-MS-CLIENT-PRINCIPAL-ID": "00000000-0000-4000-8000-000000000000"}
    assert authenticate_headers(unmapped, store, trust_principal_headers=True) is None


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


MALFORMED_PRINCIPALS = {
    "not-base64": "%%% not base64 %%%",
    "not-json": b64(b"not json"),
    "not-utf8": b64(b"\xff\xfe\xfd"),
    "not-an-object": b64(b"[1, 2]"),
    "claims-not-a-list": b64(b'{"claims": "nope"}'),
    "oid-not-a-string": b64(json.dumps({"claims": [{"typ": "oid", "val": 7}]}).encode()),
    "oid-blank": b64(json.dumps({"claims": [{"typ": "oid", "val": " "}]}).encode()),
    "nested-too-deeply": b64(b"[" * 3000 + b"]" * 3000),
    "not-ascii": "é" * 10,
    "too-large": "A" * 100_000,
}


@pytest.mark.parametrize("blob", MALFORMED_PRINCIPALS.values(), ids=MALFORMED_PRINCIPALS.keys())
def test_malformed_principal_headers_give_none_and_never_raise(store: TenantStore, blob: str) -> None:
    store.add_tenant("Acme")
    store.map_principal(OID, "acme")
    # Even with a valid ID header beside it, a damaged principal is refused.
    headers = {"X-MS-CLIENT-PRINCIPAL": blob, "X-MS-CLIENT-PRINCIPAL-ID": OID}
    assert authenticate_headers(headers, store, trust_principal_headers=True) is None


def test_a_presented_api_key_decides_even_when_principal_headers_are_trusted(store: TenantStore) -> None:
    store.add_tenant("Acme")
    beta, beta_key = store.add_tenant("Beta")
    store.map_principal(OID, "acme")
    principal = {"X-MS-CLIENT-PRINCIPAL-ID": OID}
    assert (
        authenticate_headers({**principal, "x-api-key": beta_key}, store, trust_principal_headers=True)
        == beta
    )
    bad = {**principal, "x-api-key": "cvg_wrong"}
    assert authenticate_headers(bad, store, trust_principal_headers=True) is None


# -- run index -----------------------------------------------------------------------------------
def test_runs_are_listed_newest_first_with_limit_and_offset(store: TenantStore) -> None:
    store.add_tenant("Acme")
    store.add_tenant("Beta")
    stamps = [f"2025-01-01T00:00:{s:02d}.000000+00:00" for s in range(5)]
    # Recorded out of order: the listing follows created_at, not insertion.
    for i in (2, 0, 4, 1, 3):
        store.record_run("acme", f"run-{i}", "essay", created_at=stamps[i])
    store.record_run("beta", "beta-run", "quiz")
    assert [r.run_id for r in store.list_runs("acme")] == ["run-4", "run-3", "run-2", "run-1", "run-0"]
    assert [r.run_id for r in store.list_runs("acme", limit=2)] == ["run-4", "run-3"]
    assert [r.run_id for r in store.list_runs("acme", limit=2, offset=2)] == ["run-2", "run-1"]
    assert [r.run_id for r in store.list_runs("acme", offset=4)] == ["run-0"]
    assert store.list_runs("acme", offset=5) == []
    assert store.list_runs("beta") == [
        RunRecord("beta-run", "beta", "quiz", store.list_runs("beta")[0].created_at)
    ]
    assert store.count_runs("acme") == 5
    assert store.count_runs("beta") == 1
    assert store.count_runs("nobody") == 0


def test_runs_recorded_in_the_same_instant_list_later_first(store: TenantStore) -> None:
    store.add_tenant("Acme")
    for i in range(3):
        store.record_run("acme", f"run-{i}", "g", created_at="2025-01-01T00:00:00.000000+00:00")
    assert [r.run_id for r in store.list_runs("acme")] == ["run-2", "run-1", "run-0"]


def test_runs_without_a_time_are_stamped_now_in_order(store: TenantStore) -> None:
    store.add_tenant("Acme")
    for i in range(5):
        store.record_run("acme", f"run-{i}", "g")
    runs = store.list_runs("acme")
    assert [r.run_id for r in runs] == [f"run-{i}" for i in (4, 3, 2, 1, 0)]
    assert all(r.created_at.endswith("+00:00") for r in runs)


def test_owner_of_and_forget_run(store: TenantStore) -> None:
    store.add_tenant("Acme")
    store.add_tenant("Beta")
    store.record_run("acme", "run-a", "essay")
    store.record_run("beta", "run-b", "essay")
    assert store.owner_of("run-a") == "acme"
    assert store.owner_of("run-b") == "beta"
    assert store.owner_of("run-x") is None
    store.forget_run("run-a")
    store.forget_run("run-x")  # unknown: ignored
    assert store.owner_of("run-a") is None
    assert store.list_runs("acme") == []
    assert store.owner_of("run-b") == "beta"


def test_recording_a_run_again_is_idempotent_but_never_changes_its_owner(store: TenantStore) -> None:
    store.add_tenant("Acme")
    store.add_tenant("Beta")
    store.record_run("acme", "run-1", "essay")
    store.record_run("acme", "run-1", "essay")  # a retried start
    assert store.count_runs("acme") == 1
    with pytest.raises(ValueError, match="another tenant"):
        store.record_run("beta", "run-1", "essay")
    assert store.owner_of("run-1") == "acme"
    assert store.count_runs("beta") == 0
    with pytest.raises(UnknownTenant):
        store.record_run("nobody", "run-2", "essay")


@pytest.mark.parametrize(("limit", "offset", "message"), [(0, 0, "limit"), (1, -1, "offset")])
def test_bad_pages_are_refused(store: TenantStore, limit: int, offset: int, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        store.list_runs("acme", limit=limit, offset=offset)


def test_tenant_records_are_frozen() -> None:
    tenant = Tenant("acme", "Acme", "2025-01-01T00:00:00+00:00")
    with pytest.raises(AttributeError):
        tenant.name = "Other"  # type: ignore[misc]
