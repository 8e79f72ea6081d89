"""``python -m convergio mcp``: the operator's stdio MCP servers.

A stdio server is a command run on the host as the host's user, so a tenant cannot ask for one
(the API answers 422); the operator adds it here, for one tenant, on a local host:

    python -m convergio mcp add-stdio --tenant acme files -- python -m my_mcp_server --root /srv

The command is started once to list its tools, then the record (``operator: true``) is stored
where the app reads it, and the tenant's agents use its tools as ``mcp.<name>.<tool>``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

from convergio.protocols import McpServerRecord, McpServerRegistry, McpToolSource
from convergio.protocols.mcp import check_server_name
from convergio.settings import load_settings
from convergio.tenants import TenantStore
from convergio.wiring import open_stores

__all__ = ["add_mcp_parser", "mcp_command"]

FindTenant = Callable[[TenantStore, str], str]


def add_mcp_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``mcp add-stdio | list | remove``."""
    mcp = commands.add_parser("mcp", help="the operator's stdio MCP servers for a tenant")
    actions = mcp.add_subparsers(dest="mcp_command", required=True)
    add = actions.add_parser(
        "add-stdio", help="add (or replace) a stdio MCP server for a tenant; lists its tools first"
    )
    add.add_argument("name", help="the server's name: its tools are mcp.<name>.<tool>")
    add.add_argument("program", nargs=argparse.REMAINDER, help="-- then the command and its arguments")
    add.add_argument("--timeout", type=float, default=30.0, help="seconds per call (default 30)")
    listing = actions.add_parser("list", help="a tenant's MCP servers: name, transport, by, tools")
    remove = actions.add_parser("remove", help="forget a tenant's MCP server")
    remove.add_argument("name")
    for action in (add, listing, remove):
        action.add_argument("--tenant", required=True, metavar="NAME_OR_ID", help="the tenant")
        action.add_argument(
            "--home", type=Path, default=None, help="state directory (default: $CONVERGIO_HOME or .convergio)"
        )


def mcp_command(args: argparse.Namespace, find_tenant: FindTenant) -> int:
    """Run one ``mcp`` command; what a script reads goes to stdout, the rest to stderr.

    Raises:
        ValueError: a bad name, command or timeout, or a hosted deployment (no stdio there).
        ConnectionError: the server's tools could not be listed; nothing was stored.
        LookupError: no such tenant or server.
    """
    settings = load_settings()
    stores = open_stores(settings, home=args.home)
    source = McpToolSource(
        McpServerRegistry(stores.tenants),
        stores.secrets,
        hosted=settings.hosted,
        allowed_hosts=settings.provider_allowed_hosts,
    )
    tenant_id = find_tenant(stores.tenants, args.tenant)
    if args.mcp_command == "list":
        for record in source.registry.list(tenant_id):
            by = "operator" if record.operator else "tenant"
            tools = ",".join(tool.name for tool in record.tools)
            print(f"{record.name}\t{record.transport}\t{by}\t{tools}")
        return 0
    name = check_server_name(args.name)
    if args.mcp_command == "remove":
        if not source.registry.delete(tenant_id, name):
            raise LookupError(f"tenant {tenant_id!r} has no MCP server {name!r}")
        source.put_headers(tenant_id, name, {})
        print(f"MCP server {name!r} of tenant {tenant_id!r} removed", file=sys.stderr)
        return 0
    program = args.program[1:] if args.program[:1] == ["--"] else args.program
    if not program or any(not part or len(part) > 4096 for part in program):
        raise ValueError("give the command after --, each part 1-4096 characters")
    if not 0 < args.timeout <= 300:
        raise ValueError("--timeout must be more than 0 and at most 300 seconds")
    record = McpServerRecord(
        tenant_id,
        name,
        None,
        transport="stdio",
        command=tuple(program),
        timeout_s=args.timeout,
        operator=True,
    )
    saved = source.registry.put(source.listed(record))
    print(
        f"stdio MCP server {name!r} added for tenant {tenant_id!r} with {len(saved.tools)} tools",
        file=sys.stderr,
    )
    for tool in saved.tools:
        print(f"mcp.{name}.{tool.name}")
    return 0
