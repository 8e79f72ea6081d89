"""``python -m convergio.plugins``: make signing keys, sign and verify native packages, build WAT.

    python -m convergio.plugins keygen DIR            # DIR/signing-key.pem (0600), DIR/signing-key.pub
    python -m convergio.plugins sign PACKAGE --key DIR/signing-key.pem
    python -m convergio.plugins verify PACKAGE --trust KEY [--trust KEY ...]   # a .pub/.pem file or base64
    python -m convergio.plugins build plugins/examples                        # every *.wat -> *.wasm

Exit status is 0 on success, 1 on a refused package or a bad input, with the reason on stderr.
"""

from __future__ import annotations

import argparse
import base64
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ._errors import PluginError
from ._package import build_tree
from ._signing import TrustStore, key_id, load_private_key, sign_package, verify_package


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line.

    Args:
        argv: The arguments (defaults to ``sys.argv[1:]``).

    Returns:
        The exit status.
    """
    parser = argparse.ArgumentParser(prog="python -m convergio.plugins", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    keygen = commands.add_parser("keygen", help="write a new Ed25519 signing key pair")
    keygen.add_argument("folder", type=Path)
    sign = commands.add_parser("sign", help="sign a native plugin package (writes plugin.sig)")
    sign.add_argument("package", type=Path)
    sign.add_argument("--key", type=Path, required=True, help="the PEM private key")
    verify = commands.add_parser("verify", help="verify a package against trusted keys")
    verify.add_argument("package", type=Path)
    verify.add_argument("--trust", action="append", required=True, help="a public key file or base64 key")
    build = commands.add_parser("build", help="compile every .wat file under a folder to .wasm")
    build.add_argument("folders", type=Path, nargs="+")
    args = parser.parse_args(argv)
    try:
        if args.command == "keygen":
            return _keygen(args.folder)
        if args.command == "sign":
            path = sign_package(args.package, load_private_key(args.key.read_bytes()))
            print(f"signed {args.package} -> {path}")
        elif args.command == "verify":
            keys = [Path(k).read_bytes() if Path(k).is_file() else k.encode() for k in args.trust]
            kid = verify_package(args.package, TrustStore(keys))
            print(f"ok: {args.package} is signed by trusted key {kid}")
        else:
            for folder in args.folders:
                for path in build_tree(folder):
                    print(f"built {path}")
    except (PluginError, ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


def _keygen(folder: Path) -> int:
    folder.mkdir(parents=True, exist_ok=True)
    key = Ed25519PrivateKey.generate()
    private = folder / "signing-key.pem"
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    descriptor = os.open(private, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(pem)
    raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    public = folder / "signing-key.pub"
    public.write_text(base64.b64encode(raw).decode() + "\n", encoding="utf-8")
    print(f"key {key_id(key.public_key())}: private {private} (keep secret), public {public}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
