"""Signed native plugins: Ed25519 over the SHA-256 of a canonical package listing.

The listing is one line per file, ``<relative posix path>\\0<sha256 hex>\\n``, sorted by path,
over every regular file except the signature itself and Python caches. Its SHA-256 is the
package hash. ``plugin.sig`` (JSON) holds the hash, the signer's key id and the signature; a
package loads only if the hash matches its files and the signature verifies under a key of the
trust store. Symbolic links are refused: they could point outside what was signed.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterable
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from ._errors import PackageTampered, SignatureMissing, UnknownSigner

__all__ = [
    "SIGNATURE_FILE",
    "TrustStore",
    "key_id",
    "load_private_key",
    "load_public_key",
    "listing_hash",
    "package_files",
    "package_hash",
    "read_verified",
    "sign_package",
    "verify_package",
]

SIGNATURE_FILE = "plugin.sig"
_SKIPPED_DIRS = frozenset({"__pycache__"})
_ALGORITHM = "ed25519-sha256-listing-v1"


def key_id(public_key: Ed25519PublicKey) -> str:
    """A short, stable id of a public key: the first 16 hex digits of the SHA-256 of its raw bytes.

    Args:
        public_key: The key.

    Returns:
        The id.
    """
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def load_public_key(value: str | bytes) -> Ed25519PublicKey:
    """Read a public key: PEM, or the base64 of its 32 raw bytes.

    Args:
        value: The key text.

    Returns:
        The key.

    Raises:
        ValueError: not an Ed25519 public key.
    """
    data = value.encode() if isinstance(value, str) else value
    if b"BEGIN PUBLIC KEY" in data:
        key = serialization.load_pem_public_key(data)
    else:
        key = Ed25519PublicKey.from_public_bytes(base64.b64decode(data.strip(), validate=True))
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError("not an Ed25519 public key")
    return key


def load_private_key(pem: bytes) -> Ed25519PrivateKey:
    """Read an unencrypted PKCS#8 PEM Ed25519 private key.

    Args:
        pem: The PEM bytes.

    Returns:
        The key.

    Raises:
        ValueError: not an Ed25519 private key.
    """
    key = serialization.load_pem_private_key(pem, password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError("not an Ed25519 private key")
    return key


class TrustStore:
    """The public keys whose signatures are trusted.

    Args:
        keys: Public keys (objects, PEM, or base64 raw).
    """

    def __init__(self, keys: Iterable[Ed25519PublicKey | str | bytes]) -> None:
        loaded = [k if isinstance(k, Ed25519PublicKey) else load_public_key(k) for k in keys]
        self._keys = {key_id(key): key for key in loaded}

    @classmethod
    def from_entries(cls, entries: Iterable[str]) -> TrustStore:
        """A trust store from settings or command-line entries: each a key file's path or a base64 key.

        Args:
            entries: Paths of ``.pub`` (base64) or ``.pem`` files, or base64 raw keys.

        Returns:
            The trust store.

        Raises:
            ValueError: an entry is neither a readable key file nor an Ed25519 key (named by position,
                never echoed).
        """
        keys: list[bytes] = []
        for n, entry in enumerate(entries, start=1):
            path = Path(entry)
            data = path.read_bytes() if path.is_file() else entry.encode()
            try:
                load_public_key(data)
            except (ValueError, TypeError):
                raise ValueError(
                    f"trusted key {n} is neither a key file nor an Ed25519 public key (base64)"
                ) from None
            keys.append(data)
        return cls(keys)

    def get(self, kid: str) -> Ed25519PublicKey | None:
        """The trusted key with that id, or None."""
        return self._keys.get(kid)

    def __len__(self) -> int:
        return len(self._keys)


def package_hash(root: Path) -> bytes:
    """The SHA-256 of the package's canonical listing.

    Args:
        root: The package folder.

    Returns:
        The 32-byte hash.

    Raises:
        PackageTampered: the package holds a symbolic link.
    """
    return listing_hash(package_files(root))


def package_files(root: Path) -> dict[str, bytes]:
    """The signed files of a package, read once: relative POSIX path to content.

    Args:
        root: The package folder.

    Returns:
        Every regular file except the signature and Python caches.

    Raises:
        PackageTampered: the package holds a symbolic link.
    """
    files: dict[str, bytes] = {}
    for path in sorted(root.rglob("*"), key=lambda p: p.relative_to(root).as_posix()):
        relative = path.relative_to(root)
        if path.is_symlink():
            raise PackageTampered(f"{relative.as_posix()}: symbolic links are not allowed in a package")
        if not path.is_file() or _SKIPPED_DIRS & set(relative.parts) or relative.as_posix() == SIGNATURE_FILE:
            continue
        if path.suffix == ".pyc":
            continue
        files[relative.as_posix()] = path.read_bytes()
    return files


def listing_hash(files: dict[str, bytes]) -> bytes:
    """The SHA-256 of the listing ``path\\0sha256\\n`` of the files, sorted by path."""
    lines = [f"{path}\0{hashlib.sha256(files[path]).hexdigest()}\n" for path in sorted(files)]
    return hashlib.sha256("".join(lines).encode()).digest()


def sign_package(root: Path, private_key: Ed25519PrivateKey) -> Path:
    """Sign a package folder, writing ``plugin.sig`` into it.

    Args:
        root: The package folder.
        private_key: The signer's key.

    Returns:
        The signature file.
    """
    digest = package_hash(root)
    document = {
        "algorithm": _ALGORITHM,
        "key_id": key_id(private_key.public_key()),
        "package_sha256": digest.hex(),
        "signature": base64.b64encode(private_key.sign(digest)).decode(),
    }
    path = root / SIGNATURE_FILE
    path.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    return path


def verify_package(root: Path, trust_store: TrustStore) -> str:
    """Check that a package is exactly what a trusted key signed.

    Args:
        root: The package folder.
        trust_store: The trusted public keys.

    Returns:
        The id of the key that signed it.

    Raises:
        SignatureMissing: no ``plugin.sig``.
        UnknownSigner: signed by a key not in the trust store.
        PackageTampered: the files changed since signing, or the signature file is bad or forged.
    """
    return read_verified(root, trust_store)[0]


def read_verified(root: Path, trust_store: TrustStore) -> tuple[str, dict[str, bytes]]:
    """Read a package once and verify what was read: the bytes returned are the bytes signed.

    Loading code from these bytes (not from the folder again) leaves no window between the check
    and the use in which the files could be swapped.

    Args:
        root: The package folder.
        trust_store: The trusted public keys.

    Returns:
        The signer's key id, and the package's files (relative POSIX path to content).

    Raises:
        SignatureMissing: no ``plugin.sig``.
        UnknownSigner: signed by a key not in the trust store.
        PackageTampered: the files changed since signing, or the signature file is bad or forged.
    """
    path = root / SIGNATURE_FILE
    if not path.is_file():
        raise SignatureMissing(
            f"{root.name}: unsigned package (no {SIGNATURE_FILE}); native plugins must be signed"
        )
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        kid = str(document["key_id"])
        claimed = bytes.fromhex(document["package_sha256"])
        signature = base64.b64decode(document["signature"], validate=True)
        if document["algorithm"] != _ALGORITHM:
            raise ValueError(document["algorithm"])
    except (ValueError, KeyError, TypeError, UnicodeDecodeError):
        raise PackageTampered(f"{root.name}: {SIGNATURE_FILE} is malformed") from None
    key = trust_store.get(kid)
    if key is None:
        raise UnknownSigner(f"{root.name}: signed by key {kid}, which is not in the trust store")
    files = package_files(root)
    actual = listing_hash(files)
    if actual != claimed:
        raise PackageTampered(f"{root.name}: files changed since signing (package hash mismatch)")
    try:
        key.verify(signature, actual)
    except InvalidSignature:
        raise PackageTampered(f"{root.name}: the signature does not verify for key {kid}") from None
    return kid, files
