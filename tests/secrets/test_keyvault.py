"""The Key Vault adapter driven through the real SecretClient over a recording transport."""

from __future__ import annotations

import logging
import re

import pytest
from azure.keyvault.secrets import SecretClient

from convergio.secrets import KeyVaultSecretStore, Secret, SecretNotFound, SecretStoreError, fingerprint
from tests.secrets._fake_vault import FakeCredential, FakeVault

KEY = "sk-proj-Zq8vT3xLmN4pR7sW2yB6cD9fG1hJ5kQ0"
OTHER_KEY = "sk-ant-api03-Hh7Jj2Kk9Ll4Mm1Nn8Pp3Qq6Rr0Ss5Tt"
KV_NAME = re.compile(r"[0-9a-zA-Z-]{1,127}")


@pytest.fixture
def vault() -> FakeVault:
    return FakeVault()


@pytest.fixture
def credential() -> FakeCredential:
    return FakeCredential()


@pytest.fixture
def store(vault: FakeVault, credential: FakeCredential) -> KeyVaultSecretStore:
    # Through the adapter's own construction path: the SDK client with our transport.
    return KeyVaultSecretStore(vault.url, credential=credential, transport=vault, retry_total=0)


def authenticated(vault: FakeVault) -> list[tuple[str, str]]:
    return [(r.method, r.path) for r in vault.requests if "Authorization" in r.headers]


def test_put_get_round_trip_with_the_challenge_and_tags(
    store: KeyVaultSecretStore, vault: FakeVault, credential: FakeCredential
) -> None:
    info = store.put("rome-primary", "openai", Secret(KEY))
    kv_name = KeyVaultSecretStore.secret_name("rome-primary", "openai")

    assert info.name == "openai"
    assert info.fingerprint == fingerprint(KEY)
    assert info.updated_at.tzinfo is not None
    assert store.get("rome-primary", "openai") == Secret(KEY)

    # Key Vault's challenge: the first request goes out without token or body and gets a 401.
    first = vault.requests[0]
    assert (first.method, "Authorization" in first.headers, first.body) == ("PUT", False, "")
    put = next(r for r in vault.requests if r.method == "PUT" and "Authorization" in r.headers)
    assert put.url.startswith(f"{vault.url}/secrets/{kv_name}?")
    assert put.query["api-version"]
    assert vault.secrets[kv_name].tags == {
        "tenant": "rome-primary",
        "connection": "openai",
        "managed-by": "convergio",
        "fingerprint": fingerprint(KEY),
    }
    assert authenticated(vault) == [("PUT", f"/secrets/{kv_name}"), ("GET", f"/secrets/{kv_name}/")]
    # The SDK asked for a vault token for the tenant named in the challenge.
    assert credential.calls
    assert all(scopes == ("https://vault.azure.net/.default",) for scopes, _ in credential.calls)
    assert {tenant for _, tenant in credential.calls} == {"tenant"}


def test_the_value_travels_only_in_authenticated_put_bodies(
    store: KeyVaultSecretStore, vault: FakeVault, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    store.put("t1", "openai", Secret(KEY))
    store.get("t1", "openai")
    store.list("t1")
    store.delete("t1", "openai")
    store.put("t1", "openai", Secret(KEY))  # after a delete: recover, then set again

    methods = {r.method for r in vault.requests}
    assert {"PUT", "GET", "DELETE", "POST"} <= methods
    for request in vault.requests:
        assert KEY not in request.url
        assert all(KEY not in value for value in request.headers.values())
        if request.method == "PUT" and "Authorization" in request.headers:
            assert json_value(request.body) == KEY
        else:
            # Includes the challenge round trip: the SDK strips the body before authenticating.
            assert KEY not in request.body
    assert KEY not in caplog.text


def json_value(body: str) -> str:
    import json

    return str(json.loads(body)["value"])


@pytest.mark.parametrize(
    "pairs",
    [
        [("a-b", "c"), ("a", "b-c"), ("a", "b--c"), ("a--b", "c"), ("a-", "b-c")],
        [("Rome", "openai"), ("rome", "openai"), ("ROME", "openai")],
        [("t.1", "x"), ("t_1", "x"), ("t-1", "x"), ("t 1".replace(" ", "+"), "x")],
        [("x" * 128, "y" * 63), ("x" * 128, "y" * 62), ("x" * 127, "y" * 63)],
    ],
)
def test_names_are_valid_and_never_collide(pairs: list[tuple[str, str]]) -> None:
    names = [KeyVaultSecretStore.secret_name(t, n) for t, n in pairs]
    assert all(KV_NAME.fullmatch(name) for name in names), names
    # Key Vault names are case-insensitive: distinct even once lower-cased.
    assert len({name.lower() for name in names}) == len(pairs)
    assert KeyVaultSecretStore.secret_name("a-b", "c") == KeyVaultSecretStore.secret_name("a-b", "c")


def test_tricky_pairs_are_distinct_secrets_in_the_vault(store: KeyVaultSecretStore, vault: FakeVault) -> None:
    store.put("a-b", "c", Secret(KEY))
    store.put("a", "b-c", Secret(OTHER_KEY))

    put_paths = [r.path for r in vault.requests if r.method == "PUT" and "Authorization" in r.headers]
    assert len(set(put_paths)) == 2
    assert store.get("a-b", "c").reveal() == KEY
    assert store.get("a", "b-c").reveal() == OTHER_KEY


def test_list_filters_by_tenant_tag_across_pages(store: KeyVaultSecretStore, vault: FakeVault) -> None:
    store.put("a", "b-c", Secret(KEY))
    store.put("a", "anthropic", Secret(OTHER_KEY))
    store.put("a-b", "c", Secret(KEY))
    # Secrets that are not ours: an untagged one, and one tagged for the tenant by someone else.
    client = SecretClient(vault.url, FakeCredential(), transport=vault)
    client.set_secret("db-password", "hunter2")
    client.set_secret("foreign", "x", tags={"tenant": "a", "connection": "zzz"})

    infos = store.list("a")

    assert [i.name for i in infos] == ["anthropic", "b-c"]
    assert [i.fingerprint for i in infos] == [fingerprint(OTHER_KEY), fingerprint(KEY)]
    list_calls = [r for r in vault.requests if r.method == "GET" and r.path == "/secrets"]
    assert len([r for r in list_calls if "Authorization" in r.headers]) >= 3  # five secrets, pages of two
    assert store.list("nobody") == []


def test_delete_is_a_soft_delete_and_a_second_put_recovers(
    store: KeyVaultSecretStore, vault: FakeVault
) -> None:
    kv_name = KeyVaultSecretStore.secret_name("t1", "openai")
    store.put("t1", "openai", Secret(KEY))

    assert store.delete("t1", "openai") is True
    assert kv_name in vault.deleted
    assert store.delete("t1", "openai") is False
    with pytest.raises(SecretNotFound):
        store.get("t1", "openai")

    vault.requests.clear()
    store.put("t1", "openai", Secret(OTHER_KEY))

    assert authenticated(vault)[:3] == [
        ("PUT", f"/secrets/{kv_name}"),  # 409: deleted but recoverable
        ("POST", f"/deletedsecrets/{kv_name}/recover"),
        ("GET", f"/secrets/{kv_name}/"),  # the poller waits for the recovery
    ]
    assert authenticated(vault)[-1] == ("PUT", f"/secrets/{kv_name}")
    assert store.get("t1", "openai").reveal() == OTHER_KEY


def test_missing_secret_is_secret_not_found(store: KeyVaultSecretStore) -> None:
    with pytest.raises(SecretNotFound, match="'t1' has no secret 'openai'"):
        store.get("t1", "openai")


def test_refusals_are_store_errors_without_the_value(store: KeyVaultSecretStore, vault: FakeVault) -> None:
    vault.forbid = True
    with pytest.raises(SecretStoreError) as raised:
        store.put("t1", "openai", Secret(KEY))
    assert "HTTP 403" in str(raised.value)
    assert "Forbidden" in str(raised.value)
    assert KEY not in str(raised.value)
    assert raised.value.__cause__ is None
    assert raised.value.__suppress_context__

    for call in (
        lambda: store.get("t1", "openai"),
        lambda: store.delete("t1", "openai"),
        lambda: store.list("t1"),
    ):
        with pytest.raises(SecretStoreError, match="HTTP 403"):
            call()


def test_bad_names_are_rejected_before_any_request(store: KeyVaultSecretStore, vault: FakeVault) -> None:
    with pytest.raises(ValueError, match="connection name"):
        store.put("t1", "Open_AI", Secret(KEY))
    with pytest.raises(ValueError, match="tenant id"):
        store.get("t 1", "openai")
    with pytest.raises(TypeError, match="Secret"):
        store.put("t1", "openai", KEY)  # type: ignore[arg-type]
    assert vault.requests == []


def test_a_ready_client_can_be_passed(vault: FakeVault) -> None:
    client = SecretClient(vault.url, FakeCredential(), transport=vault)
    store = KeyVaultSecretStore(vault.url, client=client)
    store.put("t1", "openai", Secret(KEY))
    assert store.get("t1", "openai").reveal() == KEY
    assert vault.url in repr(store)


def test_vault_url_must_be_https() -> None:
    with pytest.raises(ValueError, match="https"):
        KeyVaultSecretStore("http://kv.vault.azure.net", credential=FakeCredential())
