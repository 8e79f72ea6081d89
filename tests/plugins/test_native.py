"""Signed native plugins: loaded only when signed by a trusted key, from the bytes that were verified."""

from __future__ import annotations

import base64
import json
import logging
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

import convergio.plugins._native as native_module
from convergio.plugins import (
    InvalidManifest,
    InvalidPlugin,
    NativeTools,
    PackageTampered,
    SignatureError,
    SignatureMissing,
    TrustStore,
    UnknownSigner,
    key_id,
    load_native_plugins,
    sign_package,
)
from convergio.settings import load_settings
from convergio.tools import ToolContext, ToolError, call_tool
from convergio.wiring import build

INIT = """
from .helpers import shout


def upper(arguments, context):
    return shout(arguments["text"])


def ask(arguments, context):
    return {"tenant": context.tenant_id, "answer": context.complete(arguments["text"], None, 5)}
"""
HELPERS = """
def shout(text):
    return text.upper() + "!"
"""


def write_native(root: Path, name: str = "shouter", *, init: str = INIT, **manifest: Any) -> Path:
    folder = root / name
    (folder / "shouter_impl").mkdir(parents=True)
    text = {"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]}
    document = {
        "name": name,
        "version": "1.0.0",
        "description": "shouts",
        "python": "shouter_impl",
        "tools": [
            {"name": "upper", "description": "upper-case a text", "input_schema": text},
            {"name": "ask", "description": "ask the agent's model", "input_schema": text},
        ],
        **manifest,
    }
    (folder / "plugin.json").write_text(json.dumps(document), encoding="utf-8")
    (folder / "shouter_impl" / "__init__.py").write_text(init, encoding="utf-8")
    (folder / "shouter_impl" / "helpers.py").write_text(HELPERS, encoding="utf-8")
    return folder


@pytest.fixture
def key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


@pytest.fixture
def trust(key: Ed25519PrivateKey) -> TrustStore:
    return TrustStore([key.public_key()])


def test_a_signed_plugin_loads_and_its_tools_serve_every_tenant(
    tmp_path: Path, key: Ed25519PrivateKey, trust: TrustStore
) -> None:
    folder = write_native(tmp_path)
    sign_package(folder, key)
    tools = load_native_plugins([folder], trust)
    assert tools.plugins["shouter"].signer == key_id(key.public_key())
    assert tools.tool_names("any-tenant") == {"shouter.upper", "shouter.ask"}
    upper = tools.bind("shouter.upper", ToolContext("acme"))
    assert upper is not None and call_tool(upper, {"text": "ciao"}) == "CIAO!"
    asked: list[tuple[str, str | None, int]] = []

    def complete(prompt: str, system: str | None, max_tokens: int) -> str:
        asked.append((prompt, system, max_tokens))
        return "fine"

    ask = tools.bind("shouter.ask", ToolContext("globex", complete=complete))
    assert ask is not None
    assert json.loads(call_tool(ask, {"text": "how?"})) == {"tenant": "globex", "answer": "fine"}
    assert asked == [("how?", None, 5)]
    assert tools.bind("shouter.nope", ToolContext("acme")) is None
    assert tools.bind("other.upper", ToolContext("acme")) is None
    with pytest.raises(ToolError, match=r"^shouter\.upper: invalid arguments: 'text' is a required"):
        call_tool(upper, {})


def test_an_unsigned_plugin_is_refused(tmp_path: Path, trust: TrustStore) -> None:
    with pytest.raises(SignatureMissing, match="shouter: unsigned package"):
        load_native_plugins([write_native(tmp_path)], trust)


def test_a_tampered_plugin_is_refused(tmp_path: Path, key: Ed25519PrivateKey, trust: TrustStore) -> None:
    folder = write_native(tmp_path)
    sign_package(folder, key)
    (folder / "shouter_impl" / "helpers.py").write_text("def shout(text):\n    return 'pwned'\n", "utf-8")
    with pytest.raises(PackageTampered, match="files changed since signing"):
        load_native_plugins([folder], trust)


def test_a_plugin_signed_by_an_unknown_key_is_refused(tmp_path: Path, trust: TrustStore) -> None:
    folder = write_native(tmp_path)
    stranger = Ed25519PrivateKey.generate()
    sign_package(folder, stranger)
    with pytest.raises(UnknownSigner, match=f"signed by key {key_id(stranger.public_key())}, which is not"):
        load_native_plugins([folder], trust)


def test_native_plugins_without_trusted_keys_are_refused(tmp_path: Path, key: Ed25519PrivateKey) -> None:
    folder = write_native(tmp_path)
    sign_package(folder, key)
    with pytest.raises(SignatureError, match="CONVERGIO_PLUGIN_TRUSTED_KEYS trusts no key"):
        load_native_plugins([folder], TrustStore([]))
    assert load_native_plugins([], TrustStore([])).tool_names("acme") == frozenset()


def test_the_code_run_is_the_code_verified(
    tmp_path: Path, key: Ed25519PrivateKey, trust: TrustStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file swapped after the check (a time-of-check/time-of-use race) is never imported."""
    folder = write_native(tmp_path, "racer")
    sign_package(folder, key)
    verify = native_module.read_verified

    def verify_then_swap(root: Path, store: TrustStore) -> tuple[str, dict[str, bytes]]:
        verified = verify(root, store)
        (root / "shouter_impl" / "helpers.py").write_text("def shout(text):\n    return 'pwned'\n", "utf-8")
        return verified

    monkeypatch.setattr(native_module, "read_verified", verify_then_swap)
    tools = load_native_plugins([folder], trust)
    upper = tools.bind("racer.upper", ToolContext("acme"))
    assert upper is not None and call_tool(upper, {"text": "safe"}) == "SAFE!"


@pytest.mark.parametrize(
    ("change", "error", "message"),
    [
        ({"python": "missing_module"}, InvalidManifest, "python: no module 'missing_module'"),
        ({"name": "a2a"}, InvalidManifest, "name: Value error, 'a2a' is reserved"),
        ({"module": "x.wasm"}, InvalidManifest, "module: Extra inputs are not permitted"),
    ],
)
def test_a_bad_manifest_is_refused(
    tmp_path: Path,
    key: Ed25519PrivateKey,
    trust: TrustStore,
    change: dict[str, Any],
    error: type[Exception],
    message: str,
) -> None:
    folder = write_native(tmp_path, **change)
    sign_package(folder, key)
    with pytest.raises(error, match=message):
        load_native_plugins([folder], trust)


def test_a_missing_function_or_a_failing_import_is_refused(
    tmp_path: Path, key: Ed25519PrivateKey, trust: TrustStore
) -> None:
    no_ask = write_native(tmp_path / "a", init="def upper(arguments, context):\n    return ''\n")
    sign_package(no_ask, key)
    with pytest.raises(InvalidPlugin, match="module 'shouter_impl' has no function 'ask'"):
        load_native_plugins([no_ask], trust)
    broken = write_native(tmp_path / "b", init="raise RuntimeError('boom')\n")
    sign_package(broken, key)
    with pytest.raises(InvalidPlugin, match="importing 'shouter_impl' failed: RuntimeError: boom"):
        load_native_plugins([broken], trust)


def test_two_plugins_of_one_name_are_refused(
    tmp_path: Path, key: Ed25519PrivateKey, trust: TrustStore
) -> None:
    first, second = write_native(tmp_path / "a"), write_native(tmp_path / "b")
    for folder in (first, second):
        sign_package(folder, key)
    with pytest.raises(InvalidPlugin, match="a native plugin named 'shouter' is already loaded"):
        load_native_plugins([first, second], trust)


def test_start_up_loads_signed_plugins_and_stops_on_a_refused_one(
    tmp_path: Path, key: Ed25519PrivateKey, caplog: pytest.LogCaptureFixture
) -> None:
    folder = write_native(tmp_path / "plugins")
    sign_package(folder, key)
    raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    public_file = tmp_path / "signing-key.pub"
    public_file.write_text(base64.b64encode(raw).decode(), encoding="utf-8")
    other = (
        Ed25519PrivateKey.generate()
        .public_key()
        .public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    )
    environ = {
        "CONVERGIO_HOME": str(tmp_path / "home"),
        "CONVERGIO_NATIVE_PLUGINS": str(folder),
        # a key file and a base64 key, comma-separated
        "CONVERGIO_PLUGIN_TRUSTED_KEYS": f"{public_file}, {base64.b64encode(other).decode()}",
    }
    parts = build(load_settings(environ=environ, folder=tmp_path))
    try:
        assert {"shouter.upper", "shouter.ask", "calculator"} <= parts.toolbox.tool_names("acme")
    finally:
        parts.plugins.close()

    (folder / "plugin.sig").unlink()
    with caplog.at_level(logging.ERROR, logger="convergio.plugins"), pytest.raises(SignatureMissing):
        build(load_settings(environ=environ, folder=tmp_path))
    assert f"native plugin {folder} refused: shouter: unsigned package" in caplog.text
    assert "signature_missing" in caplog.text

    bad_key = environ | {"CONVERGIO_PLUGIN_TRUSTED_KEYS": "not-a-key"}
    with pytest.raises(ValueError, match="trusted key 1 is neither a key file nor an Ed25519 public key"):
        build(load_settings(environ=bad_key, folder=tmp_path))


def test_native_tools_is_a_tool_source() -> None:
    tools = NativeTools([])
    assert tools.tool_names("acme") == frozenset() and tools.bind("x.y", ToolContext("acme")) is None
