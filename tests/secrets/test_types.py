"""Secret, fingerprint and name rules, and the package's public names."""

from __future__ import annotations

import copy
import json
import logging
import pickle
from pathlib import Path

import pytest

import convergio.secrets
from convergio.secrets import (
    CachedSecretStore,
    LocalSecretStore,
    Secret,
    SecretInfo,
    SecretStore,
    check_name,
    fingerprint,
)

KEY = "sk-proj-Zq8vT3xLmN4pR7sW2yB6cD9fG1hJ5kQ0"


def test_public_names() -> None:
    assert set(convergio.secrets.__all__) == {
        "CachedSecretStore",
        "CosmosSecretStore",
        "KeyVaultSecretStore",
        "LocalSecretStore",
        "RedactingFilter",
        "Secret",
        "SecretInfo",
        "SecretNotFound",
        "SecretStore",
        "SecretStoreError",
        "check_name",
        "fingerprint",
        "install_redaction",
        "open_secret_store",
        "redact",
    }


def test_secret_never_shows_its_value() -> None:
    secret = Secret(KEY)
    shown = [
        repr(secret),
        str(secret),
        f"{secret}",
        f"{secret!r}",
        f"{secret:>40}",
        "%s %r" % (secret, secret),  # noqa: UP031 - the old style must mask too
        "{}".format(secret),  # noqa: UP032
        repr([secret]),
        repr({"key": secret}),
        str(SecretInfo),
    ]
    assert repr(secret) == str(secret) == "**********"
    assert all(KEY not in text for text in shown)
    assert secret.reveal() == KEY


def test_secret_is_not_picklable_or_serialisable() -> None:
    secret = Secret(KEY)
    for protocol in range(pickle.HIGHEST_PROTOCOL + 1):
        with pytest.raises(TypeError, match="cannot be pickled"):
            pickle.dumps(secret, protocol=protocol)
    with pytest.raises(TypeError, match="cannot be pickled"):
        pickle.dumps({"nested": [secret]})
    with pytest.raises(TypeError):
        json.dumps({"key": secret})
    assert copy.copy(secret) is secret
    assert copy.deepcopy({"k": secret})["k"] is secret
    assert not hasattr(secret, "__dict__")


def test_secret_in_a_log_record_stays_masked(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    logging.getLogger("convergio.test").info("using key %s (%r)", Secret(KEY), Secret(KEY))
    assert KEY not in caplog.text
    assert "**********" in caplog.text


def test_secret_equality_and_type() -> None:
    assert Secret(KEY) == Secret(KEY)
    assert Secret(KEY) != Secret(KEY + "x")
    assert Secret(KEY) != KEY
    assert len({Secret(KEY), Secret(KEY)}) == 1
    with pytest.raises(TypeError, match="wraps a str"):
        Secret(b"bytes")  # type: ignore[arg-type]


def test_fingerprint_shows_four_characters_and_a_hash_prefix() -> None:
    text = fingerprint(KEY)
    assert text == fingerprint(Secret(KEY))
    tail, digest = text.split(" · sha256:")
    assert tail == "…" + KEY[-4:]
    assert len(digest) == 8 and int(digest, 16) >= 0
    assert fingerprint(KEY[:-1] + "X") != text
    # Short values: no tail at all.
    assert fingerprint("abc123").startswith("sha256:")
    assert "c123" not in fingerprint("abc123")


@pytest.mark.parametrize("name", ["openai", "a", "0", "azure-openai-eu", "x" * 63, "a-"])
def test_good_names(name: str) -> None:
    assert check_name(name) == name


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("", "must not be empty"),
        ("x" * 64, "at most 63"),
        ("OpenAI", "only a-z"),
        ("-lead", "start with a letter or digit"),
        ("has space", "only a-z"),
        ("dot.ted", "only a-z"),
        (42, "must be a string"),
    ],
)
def test_bad_names_say_what_is_wrong(name: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        check_name(name)


def test_stores_satisfy_the_protocol(tmp_path: Path) -> None:
    local = LocalSecretStore(tmp_path)
    assert isinstance(local, SecretStore)
    assert isinstance(CachedSecretStore(local), SecretStore)
