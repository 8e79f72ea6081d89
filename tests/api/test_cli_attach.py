"""``convergio run --url``: follow a run on a host that is already serving, as its tenant."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

from convergio.tenants import open_tenant_store
from tests._helpers import ROOT, HostProcess


def test_run_against_a_running_host_uses_its_api(
    api_host: HostProcess, api_home: Path, tmp_path: Path
) -> None:
    graph = ROOT / "examples" / "graphs" / "quiz-builder.yaml"
    args = [sys.executable, "-m", "convergio", "run", str(graph), "--input", '{"topic": "rivers"}']
    done = subprocess.run(
        [*args, "--url", api_host.base_url, "--home", str(api_home), "--tenant", "Attach School"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": "/usr/bin:/bin", "COLUMNS": "120"},
    )
    assert done.returncode == 0, done.stderr
    assert "quizmaster" in done.stdout and "rivers" in done.stdout
    store = open_tenant_store(api_home)
    tenant = store.get("attach-school")
    assert tenant is not None and store.count_runs(tenant.id) == 1
    db = sqlite3.connect(api_home / "tenants.sqlite3")
    query = "SELECT count(*) FROM api_keys WHERE tenant_id = ? AND revoked_at IS NULL"
    live = db.execute(query, (tenant.id,))
    assert live.fetchone()[0] == 0  # the command's session key died with it
    db.close()

    stranger = subprocess.run(
        [*args, "--url", api_host.base_url, "--home", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin"},
    )
    assert stranger.returncode == 2 and "does not know this tenant" in stranger.stderr
