"""``python -m convergio plugins`` (or ``python -m convergio.plugins``): keys, signatures, installs.

    python -m convergio plugins keygen DIR            # DIR/signing-key.pem (0600), DIR/signing-key.pub
    python -m convergio plugins sign PACKAGE --key DIR/signing-key.pem
    python -m convergio plugins verify PACKAGE --trust KEY [--trust KEY ...]   # a .pub/.pem file or base64
    python -m convergio plugins build plugins/examples                        # every *.wat -> *.wasm
    python -m convergio plugins install DIR_OR_ZIP --tenant T                 # into the home's registry
    python -m convergio plugins grant NAME --tenant T --capabilities '{"kv": {}}'   # or --requested
    python -m convergio plugins list --tenant T
    python -m convergio plugins remove NAME --tenant T

``install``, ``grant``, ``list`` and ``remove`` work on the registry the API and the agents use,
so plugins can be set up without the HTTP API: the state directory's (``--home``, default
``CONVERGIO_HOME``), or the control plane's when the caller passes ``planes`` (a deployment
on Azure: Cosmos DB and Blob Storage; the home is then only a cache). Exit status is 0 on
success, 1 on a refused package or a bad input, with the reason on stderr.
"""

from __future__ import annotations

import argparse
import base64
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from convergio.errors import StoreUnavailable

from ._errors import PluginError
from ._manifest import Capabilities, PluginGrants
from ._package import build_tree
from ._registry import PluginRegistry, open_registry
from ._signing import TrustStore, key_id, load_private_key, sign_package, verify_package

if TYPE_CHECKING:
    from convergio.controlplane import BlobPlane, CosmosPlane

Planes = Callable[[], "tuple[CosmosPlane | None, BlobPlane | None]"]
"""Opens the control plane's database and blob container, (None, None) when there is none."""


def open_cli_registry(
    home: Path, *, cosmos: CosmosPlane | None = None, blob: BlobPlane | None = None
) -> PluginRegistry:
    """The registry the ``install``/``grant``/``list``/``remove`` commands work on.

    With ``cosmos`` and ``blob`` it is the control plane's, the one every instance reads.
    """
    return open_registry(home, cosmos=cosmos, blob=blob)


def main(
    argv: Sequence[str] | None = None,
    *,
    prog: str = "python -m convergio.plugins",
    planes: Planes | None = None,
) -> int:
    """Run the command line.

    Args:
        argv: The arguments (defaults to ``sys.argv[1:]``).
        prog: The program name shown in help and usage.
        planes: Opens the control plane for the registry commands (called only by them); the
            home's folders when omitted or when it gives (None, None).

    Returns:
        The exit status.
    """
    parser = argparse.ArgumentParser(
        prog=prog, description="Plugins: signing keys, signatures, builds and installs."
    )
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
    _add_registry_commands(commands)
    args = parser.parse_args(argv)
    try:
        if args.command in _REGISTRY_COMMANDS:
            return _registry_command(args, planes)
        if args.command == "keygen":
            return _keygen(args.folder)
        if args.command == "sign":
            path = sign_package(args.package, load_private_key(args.key.read_bytes()))
            print(f"signed {args.package} -> {path}")
        elif args.command == "verify":
            kid = verify_package(args.package, TrustStore.from_entries(args.trust))
            print(f"ok: {args.package} is signed by trusted key {kid}")
        else:
            for folder in args.folders:
                for path in build_tree(folder):
                    print(f"built {path}")
    except (PluginError, StoreUnavailable, ValueError, LookupError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


_REGISTRY_COMMANDS = frozenset({"install", "grant", "list", "remove"})


def _add_registry_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    install = commands.add_parser(
        "install", help="install a WebAssembly plugin (folder or .zip) for a tenant"
    )
    install.add_argument("source", type=Path, metavar="DIR_OR_ZIP")
    grant = commands.add_parser("grant", help="set the capabilities a tenant grants an installed plugin")
    grant.add_argument("name", help="the plugin's name")
    what = grant.add_mutually_exclusive_group(required=True)
    what.add_argument(
        "--capabilities", help='a JSON object, e.g. \'{"kv": {}, "http": {"hosts": ["a.org"]}}\''
    )
    what.add_argument("--requested", action="store_true", help="grant everything the manifest requests")
    listing = commands.add_parser("list", help="list a tenant's plugins: tools, requested and granted")
    remove = commands.add_parser("remove", help="uninstall a plugin and delete what it stored")
    remove.add_argument("name", help="the plugin's name")
    for command in (install, grant, listing, remove):
        command.add_argument("--tenant", required=True, help="the tenant's id or display name")
        command.add_argument(
            "--home", type=Path, default=None, help="state directory (default: $CONVERGIO_HOME or .convergio)"
        )


def _registry_command(args: argparse.Namespace, planes: Planes | None) -> int:
    from convergio.settings import load_settings

    home = args.home or load_settings().home
    cosmos, blob = planes() if planes is not None else (None, None)
    tenant_id = _tenant(home, args.tenant, cosmos)
    registry = open_cli_registry(home, cosmos=cosmos, blob=blob)
    try:
        if args.command == "install":
            manifest = registry.install(tenant_id, args.source)
            tools = ", ".join(f"{manifest.name}.{tool.name}" for tool in manifest.tools)
            print(f"installed {manifest.name} {manifest.version} for tenant {tenant_id!r}: {tools}")
            if manifest.capabilities.names():
                print(
                    f"requests {_json(manifest.capabilities)}; to grant it: grant {manifest.name} --requested"
                )
        elif args.command == "grant":
            plugin = registry.get(tenant_id, args.name)
            capabilities = (
                plugin.manifest.capabilities
                if args.requested
                else Capabilities.model_validate_json(args.capabilities)
            )
            registry.grant(PluginGrants(tenant_id=tenant_id, plugin=args.name, capabilities=capabilities))
            print(f"tenant {tenant_id!r} grants {args.name} {_json(capabilities)}")
        elif args.command == "list":
            for item in registry.list(tenant_id):
                tools = ",".join(f"{item.manifest.name}.{t.name}" for t in item.manifest.tools)
                requested, granted = _json(item.manifest.capabilities), _json(item.grants.capabilities)
                print(f"{item.manifest.name}\t{item.manifest.version}\t{tools}\t{requested}\t{granted}")
        else:
            registry.remove(tenant_id, args.name)
            print(f"removed {args.name} for tenant {tenant_id!r}")
    finally:
        registry.close()
    return 0


def _tenant(home: Path, name_or_id: str, cosmos: CosmosPlane | None = None) -> str:
    """The tenant's id, given its id or display name (as ``python -m convergio run --tenant`` takes it).

    A tenant that does not exist yet is allowed, with a warning: ``run`` creates its tenant on
    first use, so plugins can be set up before the first run.
    """
    from convergio.tenants import open_tenant_store, tenant_id_for

    store = open_tenant_store(home, cosmos=cosmos)
    if store.get(name_or_id) is not None:
        return name_or_id
    tenant_id = tenant_id_for(name_or_id)
    if store.get(tenant_id) is None:
        where = "the control plane" if cosmos is not None else str(home)
        print(f"warning: tenant {tenant_id!r} does not exist in {where} yet", file=sys.stderr)
    return tenant_id


def _json(capabilities: Capabilities) -> str:
    return capabilities.model_dump_json(exclude_none=True)


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
