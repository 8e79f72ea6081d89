"""Stdio MCP servers come only from the operator (issue 18.6): the CLI adds them, and a record a
tenant could have written (``operator`` unset) never starts a process."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from convergio.cli import main
from convergio.protocols import McpServerRecord, McpServerRegistry, McpToolSource
from convergio.protocols._types import RemoteToolInfo
from convergio.secrets import LocalSecretStore
from convergio.settings import load_settings
from convergio.tenants import SqliteTenantStore, open_tenant_store
from convergio.tools import ToolContext, ToolError, call_tool
from convergio.wiring import open_stores

SERVER = Path(__file__).with_name("_stdio_server.py")


@pytest.fixture
def home(tmp_path: Path) -> Path:
    open_tenant_store(tmp_path / "home").add_tenant("Acme")
    return tmp_path / "home"


def _source(home: Path) -> McpToolSource:
    stores = open_stores(load_settings(), home=home)
    return McpToolSource(McpServerRegistry(stores.tenants), stores.secrets, hosted=False)


def test_the_operator_adds_a_stdio_server_and_the_tenants_agents_call_it(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["mcp", "add-stdio", "--tenant", "Acme", "--home", str(home), "--timeout", "30"]
    assert main([*argv, "local", "--", sys.executable, str(SERVER)]) == 0
    assert capsys.readouterr().out.split() == ["mcp.local.reverse"]

    source = _source(home)
    record = source.registry.get("acme", "local")
    assert record is not None and record.operator and record.command == (sys.executable, str(SERVER))
    tool = source.bind("mcp.local.reverse", ToolContext(tenant_id="acme", timeout_s=30))
    assert tool is not None and call_tool(tool, {"text": "abc"}) == "cba"

    assert main(["mcp", "list", "--tenant", "acme", "--home", str(home)]) == 0
    assert capsys.readouterr().out.split("\t") == ["local", "stdio", "operator", "reverse\n"]
    assert main(["mcp", "remove", "--tenant", "acme", "--home", str(home), "local"]) == 0
    assert source.registry.get("acme", "local") is None


def test_the_cli_refuses_what_it_cannot_add(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    base = ["mcp", "add-stdio", "--home", str(home)]
    assert main([*base, "--tenant", "ghost", "local", "--", sys.executable, str(SERVER)]) == 2
    assert main([*base, "--tenant", "acme", "Bad_Name", "--", sys.executable]) == 2
    assert main([*base, "--tenant", "acme", "local"]) == 2
    assert main([*base, "--tenant", "acme", "gone", "--", sys.executable, "-c", "pass"]) == 2
    errors = capsys.readouterr().err
    assert "ghost" in errors and "Bad_Name" in errors and "after --" in errors
    assert "'gone'" in errors
    assert _source(home).registry.list("acme") == []


def test_a_stdio_record_the_operator_did_not_add_never_starts_a_process(tmp_path: Path) -> None:
    """A record a tenant stored before the fix (transport stdio, its own command) stays inert."""
    marker = tmp_path / "ran"
    store = SqliteTenantStore(tmp_path / "tenants.sqlite3")
    store.add_tenant("Acme")
    source = McpToolSource(McpServerRegistry(store), LocalSecretStore(tmp_path / "secrets"), hosted=False)
    command = (sys.executable, "-c", f"open({str(marker)!r}, 'w')")
    planted = McpServerRecord(
        "acme", "evil", None, transport="stdio", command=command, tools=(RemoteToolInfo("x", "", {}),)
    )
    source.registry.put(planted)
    with pytest.raises(ValueError, match=r"^transport: .*only the operator"):
        source.listed(planted)
    tool = source.bind("mcp.evil.x", ToolContext(tenant_id="acme", timeout_s=10))
    assert tool is not None
    with pytest.raises(ToolError, match=r"only the operator"):
        call_tool(tool, {})
    assert not marker.exists()
