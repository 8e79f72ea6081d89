"""Choosing the store from settings, and keeping the Azure SDK out of the embedded path."""

from __future__ import annotations

import base64
import os
import subprocess
import sys
from pathlib import Path

import pytest

from convergio.secrets import (
    CachedSecretStore,
    KeyVaultSecretStore,
    LocalSecretStore,
    Secret,
    SecretStoreError,
    open_secret_store,
)
from tests.secrets._fake_vault import FakeCredential, new_vault_url

ROOT = Path(__file__).resolve().parents[2]
KEY = "sk-proj-Zq8vT3xLmN4pR7sW2yB6cD9fG1hJ5kQ0"


def test_local_by_default_wrapped_in_the_cache(tmp_path: Path) -> None:
    store = open_secret_store(home=tmp_path)
    assert isinstance(store, CachedSecretStore)
    assert isinstance(store.inner, LocalSecretStore)
    store.put("t1", "openai", Secret(KEY))
    assert store.get("t1", "openai").reveal() == KEY
    assert (tmp_path / "secrets.key").exists()


def test_master_key_from_the_setting(tmp_path: Path) -> None:
    key_b64 = base64.b64encode(os.urandom(32)).decode()
    open_secret_store(home=tmp_path, master_key_b64=key_b64).put("t1", "openai", Secret(KEY))
    assert not (tmp_path / "secrets.key").exists()
    assert open_secret_store(home=tmp_path, master_key_b64=key_b64).get("t1", "openai").reveal() == KEY

    for bad in ("not base64 at all!", base64.b64encode(b"short").decode()):
        with pytest.raises(SecretStoreError, match="master key setting") as raised:
            open_secret_store(home=tmp_path, master_key_b64=bad)
        assert bad not in str(raised.value)


def test_key_vault_when_a_url_is_set(tmp_path: Path) -> None:
    store = open_secret_store(home=tmp_path, key_vault_url=new_vault_url(), credential=FakeCredential())
    assert isinstance(store, CachedSecretStore)
    assert isinstance(store.inner, KeyVaultSecretStore)
    assert list(tmp_path.iterdir()) == []  # nothing local is touched


def test_the_embedded_default_never_imports_the_azure_sdk(tmp_path: Path) -> None:
    code = (
        "import sys; from pathlib import Path\n"
        "from convergio.secrets import open_secret_store, Secret, install_redaction\n"
        "install_redaction()\n"
        f"s = open_secret_store(home=Path({str(tmp_path)!r}))\n"
        "s.put('t1', 'openai', Secret('x' * 20)); s.get('t1', 'openai'); s.list('t1')\n"
        "print(sorted(m for m in sys.modules if m.startswith('azure')))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
