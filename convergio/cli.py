"""The ``python -m convergio`` command line."""

from __future__ import annotations

import argparse
import logging
import sqlite3
import sys
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path

from convergio._embedded import embedded_host
from convergio._mcp_cli import add_mcp_parser, mcp_command
from convergio._run_cli import RunError, add_run_parser, run_command
from convergio.api import GraphFileError
from convergio.errors import AppError
from convergio.host import AppLoadError, load_host_keys
from convergio.plugins.__main__ import main as plugins_main
from convergio.quotas import TenantBudget
from convergio.settings import SettingsError, load_settings
from convergio.tenants import (
    Role,
    SetupCodeMissing,
    TenantStore,
    UnknownTenant,
    parse_role,
    setup_code,
    tenant_id_for,
)
from convergio.wiring import configure_logging, open_planes, open_stores

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m convergio", description="Convergio Core command line.")
    commands = parser.add_subparsers(dest="command", required=True)
    start = commands.add_parser("start", help="run a Functions app on the embedded Durable host")
    start.add_argument(
        "--app",
        type=Path,
        default=Path("function_app.py"),
        help="the app's function_app.py (default: ./function_app.py)",
    )
    start.add_argument("--port", type=int, default=7071, help="port on 127.0.0.1 (0: any free one)")
    start.add_argument(
        "--workers",
        type=int,
        default=None,
        help="processes running activities, this one included "
        "(default: $FUNCTIONS_WORKER_PROCESS_COUNT or 1)",
    )
    start.add_argument(
        "--home", type=Path, default=None, help="state directory (default: $CONVERGIO_HOME or .convergio)"
    )
    _add_tenant_commands(commands)
    setup = commands.add_parser("setup-code", help="print the one-time code that claims this installation")
    setup.add_argument(
        "--home", type=Path, default=None, help="state directory (default: $CONVERGIO_HOME or .convergio)"
    )
    keys = commands.add_parser("keys", help="print the embedded host's access keys (scope, name, value)")
    keys.add_argument(
        "--home", type=Path, default=None, help="state directory (default: $CONVERGIO_HOME or .convergio)"
    )
    add_run_parser(commands)
    add_mcp_parser(commands)
    plugins = commands.add_parser(
        "plugins", help="plugins: keygen, sign, verify, build, install, grant, list, remove", add_help=False
    )
    plugins.add_argument("arguments", nargs=argparse.REMAINDER)
    return parser


def _add_tenant_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    tenants = commands.add_parser("tenants", help="manage the HTTP API's tenants and their API keys")
    actions = tenants.add_subparsers(dest="tenant_command", required=True)
    home_help = "state directory (default: $CONVERGIO_HOME or .convergio)"
    add = actions.add_parser("add", help="add a tenant; prints its first API key (only shown once)")
    add.add_argument("name", help="display name; the tenant id is derived from it")
    listing = actions.add_parser("list", help="list the tenants: id, name, created")
    key = actions.add_parser("key", help="issue one more API key; prints it (only shown once)")
    key.add_argument("tenant", metavar="NAME_OR_ID", help="the tenant's id or display name")
    key.add_argument("--label", default="", help="a note to tell the key apart later")
    mapping = actions.add_parser("map-principal", help="map an Entra ID object id to a tenant")
    mapping.add_argument("principal_id", help="the principal's object id")
    mapping.add_argument("tenant_id", help="the tenant's id")
    for granted in (key, mapping):  # ADR 0022: every credential carries a role
        granted.add_argument(
            "--role", type=_role, default=Role.ADMIN, help="admin (default), teacher or student"
        )
        granted.add_argument(
            "--member", default="", help="the member id it is for (runs are recorded under it)"
        )
    budget = actions.add_parser("budget", help="set a tenant's monthly budget and managed-key access")
    budget.add_argument("tenant", metavar="NAME_OR_ID", help="the tenant's id or display name")
    budget.add_argument("--monthly-eur", type=Decimal, default=None, help="monthly spending limit (EUR)")
    budget.add_argument(
        "--managed", action=argparse.BooleanOptionalAction, default=False, help="allow managed keys"
    )
    budget.add_argument(
        "--managed-cap-eur", type=Decimal, default=Decimal(0), help="monthly managed-key cap (EUR)"
    )
    for action in (add, listing, key, mapping, budget):
        action.add_argument("--home", type=Path, default=None, help=home_help)


def _role(text: str) -> Role:
    try:
        return parse_role(text)
    except ValueError as exc:  # argparse shows this message, not "invalid value"
        raise argparse.ArgumentTypeError(str(exc)) from None


def _find_tenant(store: TenantStore, name_or_id: str) -> str:
    if store.get(name_or_id) is not None:
        return name_or_id
    try:
        tenant_id = tenant_id_for(name_or_id)
    except ValueError:
        raise UnknownTenant(name_or_id) from None
    if store.get(tenant_id) is None:
        raise UnknownTenant(name_or_id)
    return tenant_id


def _tenants(args: argparse.Namespace) -> int:
    # stdout carries only what a script captures (a key, the listing); everything else is stderr.
    # The same stores the app uses: with COSMOS_ENDPOINT set, the shared control plane.
    stores = open_stores(load_settings(), home=args.home)
    store = stores.tenants
    if args.tenant_command == "add":
        tenant, key = store.add_tenant(args.name)
        print(f"tenant {tenant.id!r} added; its API key is shown once, keep it safe", file=sys.stderr)
        print(key)
    elif args.tenant_command == "list":
        for tenant in store.list_tenants():
            print(f"{tenant.id}\t{tenant.name}\t{tenant.created_at}")
    elif args.tenant_command == "key":
        tenant_id = _find_tenant(store, args.tenant)
        key = store.issue_key(tenant_id, label=args.label, role=args.role, member=args.member)
        print(
            f"new {args.role.value} API key for tenant {tenant_id!r}; it is shown once, keep it safe",
            file=sys.stderr,
        )
        print(key)
    elif args.tenant_command == "budget":
        tenant_id = _find_tenant(store, args.tenant)
        limits = TenantBudget(tenant_id, args.monthly_eur, args.managed, args.managed_cap_eur)
        stores.quotas.set_budget(limits)
        print(f"budget of tenant {tenant_id!r}: {limits}", file=sys.stderr)
    else:
        store.map_principal(args.principal_id, args.tenant_id, role=args.role, member=args.member)
        print(f"principal mapped to tenant {args.tenant_id!r} as {args.role.value}", file=sys.stderr)
    return 0


def _setup_code(args: argparse.Namespace) -> int:
    """Print the setup code (stdout: the code alone), and on stderr whether it still works."""
    settings = load_settings()
    home = (args.home or settings.home).resolve()
    # The same code the app checks: the configured one, else the one generated in the home.
    code = setup_code(settings.setup_code, home=home, hosted=settings.hosted)
    tenants = open_stores(settings, home=home).tenants
    if tenants.installation_claim() is not None or tenants.list_tenants():
        print("this installation is already claimed: the code no longer works", file=sys.stderr)
    else:
        print("enter this code on the console's setup page (/api/app/setup); it works once", file=sys.stderr)
    print(code)
    return 0


def _start(args: argparse.Namespace) -> int:
    settings = load_settings(folder=args.app.resolve().parent)
    home = (args.home or settings.home).resolve()
    embedded_host(settings, app=args.app, home=home, port=args.port, workers=args.workers).serve()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["plugins"]:  # its own parser, options and --help included
        # the registry commands write where the app reads: the control plane when it is configured
        return plugins_main(
            argv[1:], prog="python -m convergio plugins", planes=lambda: open_planes(load_settings())
        )
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    configure_logging()
    if args.command == "run":
        logging.getLogger().setLevel(logging.WARNING)  # the live view owns the terminal
        try:
            return run_command(args)
        except (RunError, GraphFileError, SettingsError, AppLoadError, OSError, ValueError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
    if args.command == "keys":  # created on first use, then the host reuses them
        for scope, name, value in load_host_keys((args.home or load_settings().home).resolve()).listing():
            print(f"{scope}\t{name}\t{value}")
        return 0
    if args.command == "setup-code":
        try:
            return _setup_code(args)
        except (SetupCodeMissing, OSError, sqlite3.Error, AppError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
    if args.command == "tenants":
        try:
            return _tenants(args)
        except (ValueError, LookupError, OSError, sqlite3.Error, AppError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
    if args.command == "mcp":
        try:
            return mcp_command(args, _find_tenant)
        except (ValueError, LookupError, OSError, sqlite3.Error, AppError) as exc:  # ConnectionError: OSError
            print(f"error: {exc}", file=sys.stderr)
            return 2
    try:
        return _start(args)
    except (SettingsError, AppLoadError, ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
