"""The command line of ADR 0022: ``setup-code``, and keys and principals with a role, run as a user would."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

from convergio.tenants import Role, open_tenant_store
from tests._helpers import ROOT

OID = "6f1c2a3b-0000-4000-8000-0123456789ab"


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "convergio", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "CONVERGIO_SETUP_CODE": "", **(env or {})},
    )


def test_setup_code_prints_the_home_code_once_made_and_says_when_it_is_used(tmp_path: Path) -> None:
    first = cli("setup-code", "--home", str(tmp_path))
    assert first.returncode == 0, first.stderr
    code = first.stdout.strip()
    assert first.stdout.count("\n") == 1 and len(code) == 29 and "works once" in first.stderr
    assert stat.S_IMODE((tmp_path / "setup-code").stat().st_mode) == 0o600
    assert cli("setup-code", "--home", str(tmp_path)).stdout.strip() == code  # the same code, not another
    open_tenant_store(tmp_path).claim_installation("school", "m1")
    used = cli("setup-code", "--home", str(tmp_path))
    assert used.stdout.strip() == code and "already claimed" in used.stderr


def test_setup_code_prints_the_configured_code_and_refuses_a_hosted_instance_without_one(
    tmp_path: Path,
) -> None:
    guid = "0b5e2c1a-7d3f-4e2a-9c1b-abcdef012345"
    configured = cli("setup-code", "--home", str(tmp_path), env={"CONVERGIO_SETUP_CODE": guid})
    assert configured.stdout.strip() == guid and not (tmp_path / "setup-code").exists()
    hosted = cli("setup-code", "--home", str(tmp_path), env={"CONVERGIO_HOSTED": "true"})
    assert hosted.returncode == 2 and hosted.stdout == ""
    assert "CONVERGIO_SETUP_CODE" in hosted.stderr and not (tmp_path / "setup-code").exists()


def test_tenants_key_issues_a_key_with_a_role_for_a_member(tmp_path: Path) -> None:
    store = open_tenant_store(tmp_path)
    tenant, _ = store.add_tenant("Role School")
    done = cli(
        "tenants", "key", "Role School", "--role", "teacher", "--member", "ada", "--home", str(tmp_path)
    )
    assert done.returncode == 0, done.stderr
    found = store.identify(done.stdout.strip())
    assert found is not None and (found.tenant.id, found.role, found.subject) == (
        tenant.id,
        Role.TEACHER,
        "member:ada",
    )
    assert "teacher" in done.stderr
    plain = cli("tenants", "key", tenant.id, "--home", str(tmp_path))
    assert store.identify(plain.stdout.strip()).role is Role.ADMIN  # type: ignore[union-attr]  # the default
    wrong = cli("tenants", "key", tenant.id, "--role", "owner", "--home", str(tmp_path))
    assert wrong.returncode == 2 and "role must be one of admin, teacher, student" in wrong.stderr


def test_tenants_map_principal_maps_with_a_role(tmp_path: Path) -> None:
    store = open_tenant_store(tmp_path)
    tenant, _ = store.add_tenant("Role School")
    done = cli("tenants", "map-principal", OID, tenant.id, "--role", "student", "--home", str(tmp_path))
    assert done.returncode == 0, done.stderr
    mapped = store.principal(OID)
    assert mapped is not None and mapped.role is Role.STUDENT and mapped.subject == f"principal:{OID}"
