"""The local AES-GCM store on a real home directory: files, permissions, tampering, concurrency."""

from __future__ import annotations

import base64
import json
import os
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from convergio.secrets import LocalSecretStore, Secret, SecretNotFound, SecretStoreError, fingerprint

KEY = "sk-proj-Zq8vT3xLmN4pR7sW2yB6cD9fG1hJ5kQ0"
OTHER_KEY = "sk-ant-api03-Hh7Jj2Kk9Ll4Mm1Nn8Pp3Qq6Rr0Ss5Tt"
ROOT = Path(__file__).resolve().parents[2]


def every_file(home: Path) -> dict[Path, bytes]:
    return {p: p.read_bytes() for p in home.rglob("*") if p.is_file()}


def document(home: Path) -> dict:  # type: ignore[type-arg]
    return json.loads((home / "secrets.json").read_text())


def test_round_trip_and_list_shows_fingerprints_only(tmp_path: Path) -> None:
    store = LocalSecretStore(tmp_path)
    info = store.put("rome-primary", "openai", Secret(KEY))
    store.put("rome-primary", "anthropic", Secret(OTHER_KEY))

    assert store.get("rome-primary", "openai").reveal() == KEY
    assert info.fingerprint == fingerprint(KEY)
    infos = store.list("rome-primary")
    assert [(i.name, i.fingerprint) for i in infos] == [
        ("anthropic", fingerprint(OTHER_KEY)),
        ("openai", fingerprint(KEY)),
    ]
    assert all(KEY not in repr(i) and OTHER_KEY not in repr(i) for i in infos)
    assert store.list("someone-else") == []
    # A second instance (another process) reads the same keys with the key file.
    assert LocalSecretStore(tmp_path).get("rome-primary", "anthropic").reveal() == OTHER_KEY


def test_put_replaces_and_delete_removes(tmp_path: Path) -> None:
    store = LocalSecretStore(tmp_path)
    store.put("t1", "openai", Secret(KEY))
    store.put("t1", "openai", Secret(OTHER_KEY))
    assert store.get("t1", "openai").reveal() == OTHER_KEY

    assert store.delete("t1", "openai") is True
    assert store.delete("t1", "openai") is False
    with pytest.raises(SecretNotFound):
        store.get("t1", "openai")
    assert document(tmp_path)["tenants"] == {}


def test_the_raw_value_is_in_no_byte_of_any_file(tmp_path: Path) -> None:
    store = LocalSecretStore(tmp_path)
    for tenant in ("a", "b"):
        store.put(tenant, "openai", Secret(KEY))
        store.put(tenant, "anthropic", Secret(OTHER_KEY))
    store.delete("b", "anthropic")

    files = every_file(tmp_path)
    assert {p.name for p in files} == {"secrets.json", "secrets.key", "secrets.lock"}
    for data in files.values():
        for value in (KEY, OTHER_KEY):
            for form in (value.encode(), value.encode("utf-16-le"), base64.b64encode(value.encode())):
                assert form not in data
            # no long piece of it either (the fingerprint's 4-character tail is all that shows)
            for i in range(len(value) - 8):
                assert value[i : i + 8].encode() not in data


def test_every_write_uses_a_fresh_nonce(tmp_path: Path) -> None:
    store = LocalSecretStore(tmp_path)
    store.put("t1", "a", Secret(KEY))
    store.put("t1", "b", Secret(KEY))
    entries = document(tmp_path)["tenants"]["t1"]
    assert entries["a"]["nonce"] != entries["b"]["nonce"]
    assert entries["a"]["ciphertext"] != entries["b"]["ciphertext"]


def test_master_key_file_is_created_0600_and_reused(tmp_path: Path) -> None:
    home = tmp_path / "home"
    LocalSecretStore(home).put("t1", "openai", Secret(KEY))

    key_file = home / "secrets.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert stat.S_IMODE((home / "secrets.json").stat().st_mode) == 0o600
    assert stat.S_IMODE(home.stat().st_mode) == 0o700
    assert len(base64.b64decode(key_file.read_bytes())) == 32
    before = key_file.read_bytes()
    LocalSecretStore(home).put("t1", "other", Secret(KEY))
    assert key_file.read_bytes() == before


def test_stores_starting_together_agree_on_one_key(tmp_path: Path) -> None:
    start = threading.Barrier(8)
    stores: list[LocalSecretStore] = []

    def open_store() -> None:
        start.wait()
        stores.append(LocalSecretStore(tmp_path))

    threads = [threading.Thread(target=open_store) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for i, store in enumerate(stores):
        store.put("t1", f"k{i}", Secret(f"{KEY}-{i}"))
    reader = LocalSecretStore(tmp_path)
    assert [reader.get("t1", f"k{i}").reveal() for i in range(8)] == [f"{KEY}-{i}" for i in range(8)]


def test_a_given_master_key_writes_no_key_file(tmp_path: Path) -> None:
    key = os.urandom(32)
    LocalSecretStore(tmp_path, master_key=key).put("t1", "openai", Secret(KEY))
    assert not (tmp_path / "secrets.key").exists()
    assert LocalSecretStore(tmp_path, master_key=key).get("t1", "openai").reveal() == KEY
    with pytest.raises(ValueError, match="32 bytes"):
        LocalSecretStore(tmp_path, master_key=b"short")


def test_another_master_key_is_a_clear_error(tmp_path: Path) -> None:
    LocalSecretStore(tmp_path, master_key=os.urandom(32)).put("t1", "openai", Secret(KEY))
    with pytest.raises(SecretStoreError, match="another master key") as raised:
        LocalSecretStore(tmp_path, master_key=os.urandom(32)).get("t1", "openai")
    assert KEY not in str(raised.value)


def test_wrong_tenant_finds_nothing_and_a_moved_ciphertext_fails(tmp_path: Path) -> None:
    store = LocalSecretStore(tmp_path)
    store.put("victim", "openai", Secret(KEY))
    store.put("attacker", "mine", Secret(OTHER_KEY))
    with pytest.raises(SecretNotFound):
        store.get("attacker", "openai")

    doc = document(tmp_path)
    doc["tenants"]["attacker"]["openai"] = doc["tenants"]["victim"]["openai"]  # another tenant
    doc["tenants"]["victim"]["renamed"] = doc["tenants"]["victim"]["openai"]  # another name
    (tmp_path / "secrets.json").write_text(json.dumps(doc))

    for tenant, name in (("attacker", "openai"), ("victim", "renamed")):
        with pytest.raises(SecretStoreError, match="integrity check") as raised:
            store.get(tenant, name)
        assert KEY not in str(raised.value)
    assert store.get("victim", "openai").reveal() == KEY


@pytest.mark.parametrize(
    ("field", "mangle", "expected"),
    [
        ("ciphertext", lambda v: v[:-4] + ("AAAA" if v[-4:] != "AAAA" else "BBBB"), "integrity check"),
        ("nonce", lambda v: base64.b64encode(bytes(12)).decode(), "integrity check"),
        ("nonce", lambda v: "not base64!", "corrupted"),
        ("nonce", lambda v: base64.b64encode(bytes(8)).decode(), "corrupted"),
        ("ciphertext", lambda v: None, "corrupted"),
    ],
)
def test_tampered_entry_is_a_store_error_without_the_value(
    tmp_path: Path, field: str, mangle: object, expected: str
) -> None:
    store = LocalSecretStore(tmp_path)
    store.put("t1", "openai", Secret(KEY))
    doc = document(tmp_path)
    entry = doc["tenants"]["t1"]["openai"]
    entry[field] = mangle(entry[field])  # type: ignore[operator]
    (tmp_path / "secrets.json").write_text(json.dumps(doc))

    with pytest.raises(SecretStoreError, match=expected) as raised:
        store.get("t1", "openai")
    assert KEY not in str(raised.value)
    assert raised.value.__cause__ is None


def test_a_corrupted_file_is_a_store_error(tmp_path: Path) -> None:
    store = LocalSecretStore(tmp_path)
    store.put("t1", "openai", Secret(KEY))
    (tmp_path / "secrets.json").write_bytes(b'{"format": "convergio-secrets/1", "tenants": {"t1": ')
    with pytest.raises(SecretStoreError, match="not valid JSON"):
        store.get("t1", "openai")
    with pytest.raises(SecretStoreError, match="not valid JSON"):
        store.put("t1", "other", Secret(KEY))
    (tmp_path / "secrets.json").write_text('{"something": "else"}')
    with pytest.raises(SecretStoreError, match="not a convergio-secrets/1 file"):
        store.list("t1")


def test_a_bad_key_file_is_a_store_error(tmp_path: Path) -> None:
    (tmp_path / "secrets.key").write_text("c2hvcnQ=\n")
    os.chmod(tmp_path / "secrets.key", 0o600)
    with pytest.raises(SecretStoreError, match="32 bytes"):
        LocalSecretStore(tmp_path)


def test_names_and_values_are_checked(tmp_path: Path) -> None:
    store = LocalSecretStore(tmp_path)
    for bad in ("", "OpenAI", "-openai", "open_ai", "x" * 64, "a/b", "../etc"):
        with pytest.raises(ValueError, match="connection name"):
            store.put("t1", bad, Secret(KEY))
    for bad in ("", "t 1", "t\n1", "x" * 129):
        with pytest.raises(ValueError, match="tenant id"):
            store.get(bad, "openai")
    with pytest.raises(ValueError, match="empty"):
        store.put("t1", "openai", Secret(""))
    with pytest.raises(TypeError, match="Secret"):
        store.put("t1", "openai", KEY)  # type: ignore[arg-type]
    assert not (tmp_path / "secrets.json").exists()


def test_two_stores_writing_from_threads_lose_no_update(tmp_path: Path) -> None:
    first, second = LocalSecretStore(tmp_path), LocalSecretStore(tmp_path)
    start = threading.Barrier(8)
    errors: list[BaseException] = []

    def writer(store: LocalSecretStore, worker: int) -> None:
        try:
            start.wait()
            for i in range(15):
                store.put(f"tenant-{i % 3}", f"w{worker}-k{i}", Secret(f"{KEY}-{worker}-{i}"))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(first if w % 2 else second, w)) for w in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert errors == []
    reader = LocalSecretStore(tmp_path)
    names = {(t, i.name) for t in ("tenant-0", "tenant-1", "tenant-2") for i in reader.list(t)}
    assert len(names) == 8 * 15
    assert reader.get("tenant-2", "w5-k14").reveal() == f"{KEY}-5-14"
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


_WRITER = """
import sys
from pathlib import Path
from convergio.secrets import LocalSecretStore, Secret
store = LocalSecretStore(Path(sys.argv[1]))
for i in range(25):
    store.put("t1", f"{sys.argv[2]}-{i}", Secret(f"value-{sys.argv[2]}-{i}-abcdefgh"))
"""


def test_two_processes_writing_at_once_lose_no_update(tmp_path: Path) -> None:
    procs = [
        subprocess.Popen([sys.executable, "-c", _WRITER, str(tmp_path), tag], cwd=ROOT)
        for tag in ("cli", "host")
    ]
    assert [p.wait(timeout=60) for p in procs] == [0, 0]
    names = {i.name for i in LocalSecretStore(tmp_path).list("t1")}
    assert names == {f"{tag}-{i}" for tag in ("cli", "host") for i in range(25)}
