"""``python -m convergio plugins``: install, grant, list, remove on the home's registry; signing."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import pytest

from convergio.cli import main
from convergio.controlplane import BlobPlane, CosmosPlane
from convergio.plugins import PluginTools, open_registry
from convergio.plugins.__main__ import main as plugins_main
from convergio.tenants import open_tenant_store
from convergio.tools import ToolContext
from tests.plugins.conftest import EXAMPLES


@pytest.fixture
def home(tmp_path: Path) -> Path:
    open_tenant_store(tmp_path / "home").add_tenant("Rome Primary School")
    return tmp_path / "home"


def plugins(home: Path, *args: str) -> int:
    return main(["plugins", *args, "--home", str(home)])


def test_install_grant_list_remove(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert plugins(home, "install", str(EXAMPLES / "kv-notes"), "--tenant", "Rome Primary School") == 0
    out = capsys.readouterr().out
    assert "installed kv-notes 1.0.0 for tenant 'rome-primary-school': kv-notes.put, kv-notes.get" in out
    assert 'requests {"log":{},"kv":{}}' in out

    assert plugins(home, "list", "--tenant", "rome-primary-school") == 0
    listed = capsys.readouterr().out.strip().split("\t")
    assert listed == ["kv-notes", "1.0.0", "kv-notes.put,kv-notes.get", '{"log":{},"kv":{}}', "{}"]

    granted = '{"kv": {}}'
    assert (
        plugins(home, "grant", "kv-notes", "--tenant", "rome-primary-school", "--capabilities", granted) == 0
    )
    registry = open_registry(home)
    try:
        assert registry.get("rome-primary-school", "kv-notes").grants.capabilities.names() == {"kv"}
    finally:
        registry.close()
    assert plugins(home, "grant", "kv-notes", "--tenant", "rome-primary-school", "--requested") == 0
    capsys.readouterr()

    # What the CLI set up is what the agents' tool source offers.
    registry = open_registry(home)
    try:
        source = PluginTools(registry)
        assert source.tool_names("rome-primary-school") == {"kv-notes.put", "kv-notes.get"}
        tool = source.bind("kv-notes.put", ToolContext("rome-primary-school"))
        assert tool is not None and tool.fn({"key": "k", "value": "v"}) == "saved"
    finally:
        registry.close()

    assert plugins(home, "remove", "kv-notes", "--tenant", "rome-primary-school") == 0
    assert "removed kv-notes" in capsys.readouterr().out
    assert plugins(home, "list", "--tenant", "rome-primary-school") == 0
    assert capsys.readouterr().out == ""


def test_a_zip_installs_and_a_tenant_to_come_is_warned_about(
    home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    archive = tmp_path / "text-stats.zip"
    with zipfile.ZipFile(archive, "w") as bundle:
        for path in (EXAMPLES / "text-stats").iterdir():
            bundle.write(path, f"text-stats/{path.name}")
    assert plugins(home, "install", str(archive), "--tenant", "local") == 0
    captured = capsys.readouterr()
    assert "installed text-stats 1.0.0 for tenant 'local'" in captured.out
    assert "warning: tenant 'local' does not exist" in captured.err


def test_refusals_exit_1_with_the_reason(
    home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tenant = ("--tenant", "rome-primary-school")
    assert plugins(home, "install", str(EXAMPLES / "text-stats"), *tenant) == 0
    capsys.readouterr()
    http = json.dumps({"http": {"hosts": ["example.org"]}})
    assert plugins(home, "grant", "text-stats", *tenant, "--capabilities", http) == 1
    assert (
        "cannot grant plugin 'text-stats': 'http' is not requested by the plugin" in capsys.readouterr().err
    )
    assert plugins(home, "grant", "text-stats", *tenant, "--capabilities", '{"disk": {}}') == 1
    assert "disk" in capsys.readouterr().err
    assert plugins(home, "grant", "nope", *tenant, "--requested") == 1
    assert "no plugin 'nope' is installed" in capsys.readouterr().err
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "plugin.json").write_text('{"name": "mcp"}', encoding="utf-8")
    assert plugins(home, "install", str(bad), *tenant) == 1
    assert "name: Value error, 'mcp' is reserved" in capsys.readouterr().err
    not_zip = tmp_path / "x.zip"
    not_zip.write_bytes(io.BytesIO(b"not a zip").getvalue())
    assert plugins(home, "install", str(not_zip), *tenant) == 1
    assert "not a zip archive" in capsys.readouterr().err


def test_signing_commands_are_reachable_from_the_main_cli(tmp_path: Path) -> None:
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "plugin.json").write_text("{}", encoding="utf-8")
    assert main(["plugins", "keygen", str(tmp_path / "keys")]) == 0
    assert main(["plugins", "sign", str(package), "--key", str(tmp_path / "keys" / "signing-key.pem")]) == 0
    trust = str(tmp_path / "keys" / "signing-key.pub")
    assert main(["plugins", "verify", str(package), "--trust", trust]) == 0
    (package / "plugin.json").write_text('{"changed": true}', encoding="utf-8")
    assert main(["plugins", "verify", str(package), "--trust", trust]) == 1


def test_install_and_grant_into_the_control_plane(
    home: Path,
    tmp_path: Path,
    cosmos_plane: CosmosPlane,
    blob_plane: BlobPlane,
    capsys: pytest.CaptureFixture[str],
) -> None:
    def planes() -> tuple[CosmosPlane | None, BlobPlane | None]:
        return cosmos_plane, blob_plane

    tenant = ("--tenant", "rome-primary-school", "--home", str(home))
    assert plugins_main(["install", str(EXAMPLES / "kv-notes"), *tenant], planes=planes) == 0
    assert plugins_main(["grant", "kv-notes", "--requested", *tenant], planes=planes) == 0
    assert "installed kv-notes 1.0.0" in capsys.readouterr().out
    assert not (home / "plugins").exists()  # nothing went to the home's own registry
    instance = open_registry(tmp_path / "another-instance", cosmos=cosmos_plane, blob=blob_plane)
    try:
        assert instance.get("rome-primary-school", "kv-notes").grants.capabilities.names() == {"kv", "log"}
    finally:
        instance.close()
