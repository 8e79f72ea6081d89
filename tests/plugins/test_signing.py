"""Signed native packages: good, tampered, unknown key, missing signature; and the CLI."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from convergio.plugins import (
    PackageTampered,
    SignatureMissing,
    TrustStore,
    UnknownSigner,
    key_id,
    sign_package,
    verify_package,
)
from convergio.plugins.__main__ import main


@pytest.fixture
def package(tmp_path: Path) -> Path:
    root = tmp_path / "native-plugin"
    (root / "pkg").mkdir(parents=True)
    (root / "plugin.json").write_text('{"name": "native-plugin"}', encoding="utf-8")
    (root / "pkg" / "__init__.py").write_text("TOOLS = []\n", encoding="utf-8")
    return root


def test_a_package_signed_by_a_trusted_key_verifies(package: Path) -> None:
    key = Ed25519PrivateKey.generate()
    sign_package(package, key)
    (package / "pkg" / "__pycache__").mkdir()
    (package / "pkg" / "__pycache__" / "x.pyc").write_bytes(b"cache is not signed")
    assert verify_package(package, TrustStore([key.public_key()])) == key_id(key.public_key())


@pytest.mark.parametrize("change", ["edit", "add", "remove"])
def test_a_tampered_package_is_refused(package: Path, change: str) -> None:
    key = Ed25519PrivateKey.generate()
    sign_package(package, key)
    target = package / "pkg" / "__init__.py"
    if change == "edit":
        target.write_text("import os; os.system('evil')\n", encoding="utf-8")
    elif change == "add":
        (package / "pkg" / "extra.py").write_text("x = 1\n", encoding="utf-8")
    else:
        target.unlink()
    with pytest.raises(PackageTampered, match="files changed since signing") as caught:
        verify_package(package, TrustStore([key.public_key()]))
    assert caught.value.code == "package_tampered"


def test_a_forged_signature_file_is_refused(package: Path) -> None:
    trusted, attacker = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    sign_package(package, trusted)
    forged = (package / "plugin.sig").read_text()
    sign_package(package, attacker)
    attacker_signature = (package / "plugin.sig").read_text().split('"signature": ')[1]
    (package / "plugin.sig").write_text(
        forged.split('"signature": ')[0] + '"signature": ' + attacker_signature
    )
    with pytest.raises(PackageTampered, match="does not verify"):
        verify_package(package, TrustStore([trusted.public_key()]))


def test_an_unknown_signer_is_refused(package: Path) -> None:
    sign_package(package, Ed25519PrivateKey.generate())
    with pytest.raises(UnknownSigner, match="not in the trust store") as caught:
        verify_package(package, TrustStore([Ed25519PrivateKey.generate().public_key()]))
    assert caught.value.code == "unknown_signer"


def test_an_unsigned_package_is_refused(package: Path) -> None:
    with pytest.raises(SignatureMissing, match="unsigned package") as caught:
        verify_package(package, TrustStore([Ed25519PrivateKey.generate().public_key()]))
    assert caught.value.code == "signature_missing"


def test_a_symlink_in_a_package_is_refused(package: Path, tmp_path: Path) -> None:
    key = Ed25519PrivateKey.generate()
    (package / "link").symlink_to(tmp_path)
    with pytest.raises(PackageTampered, match="symbolic links"):
        sign_package(package, key)


def test_the_cli_makes_keys_signs_and_verifies(
    package: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    keys = tmp_path / "keys"
    assert main(["keygen", str(keys)]) == 0
    assert (keys / "signing-key.pem").stat().st_mode & 0o777 == 0o600
    assert main(["verify", str(package), "--trust", str(keys / "signing-key.pub")]) == 1
    assert "unsigned package" in capsys.readouterr().err
    assert main(["sign", str(package), "--key", str(keys / "signing-key.pem")]) == 0
    public = (keys / "signing-key.pub").read_text().strip()
    assert main(["verify", str(package), "--trust", public]) == 0
    assert "is signed by trusted key" in capsys.readouterr().out
    other = tmp_path / "other"
    assert main(["keygen", str(other)]) == 0
    assert main(["verify", str(package), "--trust", str(other / "signing-key.pub")]) == 1
    assert "not in the trust store" in capsys.readouterr().err
