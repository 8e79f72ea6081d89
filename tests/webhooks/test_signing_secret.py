"""A signing secret lives exactly as long as the record that uses it was written."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from convergio.secrets import LocalSecretStore, SecretNotFound
from convergio.webhooks import SqliteWebhookStore
from convergio.webhooks._store import signing_secret


def test_the_secret_is_stored_before_the_block_and_kept_when_it_succeeds(secrets: LocalSecretStore) -> None:
    with signing_secret(secrets, "t1", "hook-a") as secret:
        assert secrets.get("t1", "hook-a") == secret  # the record may be read (and verified) at once
    assert secrets.get("t1", "hook-a") == secret and len(secret.reveal()) >= 32


def test_a_failed_block_deletes_the_secret_and_raises_what_failed(secrets: LocalSecretStore) -> None:
    with pytest.raises(RuntimeError, match="write failed"), signing_secret(secrets, "t1", "hook-b"):
        raise RuntimeError("write failed")
    with pytest.raises(SecretNotFound):
        secrets.get("t1", "hook-b")
    assert secrets.list("t1") == []


def test_a_hook_or_callback_the_store_could_not_write_leaves_no_secret(
    tmp_path: Path, secrets: LocalSecretStore
) -> None:
    store = SqliteWebhookStore(tmp_path / "webhooks.sqlite3", secrets)
    kept, _ = store.create_hook("t1", "echo", None)
    with sqlite3.connect(store.path) as db:
        db.execute("DROP TABLE hooks")
        db.execute("DROP TABLE callbacks")
    with pytest.raises(sqlite3.OperationalError):
        store.create_hook("t1", "echo", None)
    with pytest.raises(sqlite3.OperationalError):
        store.create_callback("t1", "https://example.org/cb", ["run.completed"])
    assert [info.name for info in secrets.list("t1")] == [f"hook-{kept.id}"]
