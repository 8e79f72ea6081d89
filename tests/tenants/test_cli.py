"""``python -m convergio tenants``, run as a user would, in a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from convergio.tenants import open_tenant_store
from tests._helpers import ROOT


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "convergio", "tenants", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **(env or {})},
    )


def test_add_prints_only_the_key_and_it_authenticates(tmp_path: Path) -> None:
    store = open_tenant_store(tmp_path)  # opened first, like a running host
    done = cli("add", "Acme School", "--home", str(tmp_path))
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) == 1
    tenant = store.authenticate(lines[0])
    assert tenant is not None and tenant.id == "acme-school" and tenant.name == "Acme School"
    assert "acme-school" in done.stderr
    assert lines[0] not in done.stderr


def test_a_duplicate_tenant_exits_2_with_a_message(tmp_path: Path) -> None:
    assert cli("add", "Acme", "--home", str(tmp_path)).returncode == 0
    done = cli("add", "ACME", "--home", str(tmp_path))
    assert done.returncode == 2
    assert done.stdout == ""
    assert "error: tenant 'acme' already exists" in done.stderr


def test_a_name_without_letters_exits_2(tmp_path: Path) -> None:
    done = cli("add", "!!!", "--home", str(tmp_path))
    assert done.returncode == 2
    assert done.stdout == ""
    assert "error: tenant name '!!!'" in done.stderr


def test_list_prints_one_line_per_tenant(tmp_path: Path) -> None:
    store = open_tenant_store(tmp_path)
    acme, _ = store.add_tenant("Acme")
    beta, _ = store.add_tenant("Beta Co")
    done = cli("list", "--home", str(tmp_path))
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        f"acme\tAcme\t{acme.created_at}",
        f"beta-co\tBeta Co\t{beta.created_at}",
    ]


def test_home_defaults_to_convergio_home(tmp_path: Path) -> None:
    done = cli("add", "Acme", env={"CONVERGIO_HOME": str(tmp_path / "state")})
    assert done.returncode == 0, done.stderr
    assert open_tenant_store(tmp_path / "state").authenticate(done.stdout.strip()) is not None


def test_key_issues_an_extra_key_by_name_or_id(tmp_path: Path) -> None:
    store = open_tenant_store(tmp_path)
    tenant, first = store.add_tenant("Acme School")
    by_id = cli("key", "acme-school", "--label", "ci", "--home", str(tmp_path))
    by_name = cli("key", "Acme School", "--home", str(tmp_path))
    for done in (by_id, by_name):
        assert done.returncode == 0, done.stderr
        assert len(done.stdout.splitlines()) == 1
        assert store.authenticate(done.stdout.strip()) == tenant
    assert len({first, by_id.stdout, by_name.stdout}) == 3
    assert store.revoke_keys("acme-school", label="ci") == 1
    assert store.authenticate(by_id.stdout.strip()) is None


def test_key_for_an_unknown_tenant_exits_2(tmp_path: Path) -> None:
    for name in ("nobody", "???"):
        done = cli("key", name, "--home", str(tmp_path))
        assert done.returncode == 2
        assert done.stdout == ""
        assert f"error: no tenant {name!r}" in done.stderr


def test_map_principal(tmp_path: Path) -> None:
    store = open_tenant_store(tmp_path)
    tenant, _ = store.add_tenant("Acme")
    oid = "6f1c2a3b-0000-4000-8000-0123456789ab"
    done = cli("map-principal", oid, "acme", "--home", str(tmp_path))
    assert done.returncode == 0, done.stderr
    assert done.stdout == ""
    assert store.tenant_for_principal(oid) == tenant
    unknown = cli("map-principal", oid, "nobody", "--home", str(tmp_path))
    assert unknown.returncode == 2
    assert "error: no tenant 'nobody'" in unknown.stderr
